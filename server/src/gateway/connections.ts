/**
 * The gateway's connections, accepted by our own listener and handed to
 * grpc-js (a connection injector), so that what one client address can hold
 * is bounded before any HTTP/2 or TLS work: at most
 * MAX_GATEWAY_CONNECTIONS_PER_ADDRESS connections from one TCP address, at
 * most MAX_GATEWAY_CONNECTIONS in all. A connection beyond either is closed
 * at once and counted.
 */
import type { Socket } from "node:net";
import type { Logger } from "pino";

/**
 * Connections from one client address (TCP; Unix-socket clients are local
 * and share only the total): a reactor process uses one per attached
 * reactor, a CLI one per command, so 32 leaves room for a host running many
 * reactors while one address cannot take the node's descriptors.
 */
export const MAX_GATEWAY_CONNECTIONS_PER_ADDRESS = 32;
/** Connections in all, each an HTTP/2 session (and TLS) the node keeps. */
export const MAX_GATEWAY_CONNECTIONS = 1024;

export type ConnectionRefusal = "per_address" | "total";

export class GatewayConnections {
  private readonly byAddress = new Map<string, number>();
  private open = 0;
  /** Connections closed at once, by the bound they met. */
  readonly refused: Record<ConnectionRefusal, number> = { per_address: 0, total: 0 };

  constructor(
    private readonly logger: Logger,
    private readonly perAddress = MAX_GATEWAY_CONNECTIONS_PER_ADDRESS,
    private readonly total = MAX_GATEWAY_CONNECTIONS,
  ) {}

  /** Connections open now. */
  get count(): number {
    return this.open;
  }

  /** Admits `socket` (then `hand` gives it to grpc-js) or closes it. */
  accept(socket: Socket, hand: (socket: Socket) => void): void {
    const address = socket.remoteAddress; // undefined for a Unix-socket client
    const fromAddress = address === undefined ? 0 : (this.byAddress.get(address) ?? 0);
    let refusal: ConnectionRefusal | null = null;
    if (this.open >= this.total) refusal = "total";
    else if (address !== undefined && fromAddress >= this.perAddress) refusal = "per_address";
    if (refusal !== null) {
      this.refused[refusal]++;
      this.logger.debug({ address, open: this.open, fromAddress, bound: refusal }, "gateway connection refused");
      socket.destroy();
      return;
    }
    this.open++;
    if (address !== undefined) this.byAddress.set(address, fromAddress + 1);
    socket.once("close", () => {
      this.open--;
      if (address === undefined) return;
      const n = (this.byAddress.get(address) as number) - 1; // present: counted above
      if (n === 0) this.byAddress.delete(address);
      else this.byAddress.set(address, n);
    });
    hand(socket);
  }
}
