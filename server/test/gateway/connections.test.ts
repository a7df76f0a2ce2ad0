import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { GatewayConnections, MAX_GATEWAY_CONNECTIONS, MAX_GATEWAY_CONNECTIONS_PER_ADDRESS } from "../../src/gateway/connections.js";
import { silentLogger } from "../support/nodes.js";

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly remoteAddress: string | undefined) {
    super();
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.emit("close");
    }
    return this;
  }
}

function accept(c: GatewayConnections, address: string | undefined): { socket: FakeSocket; handed: boolean } {
  const socket = new FakeSocket(address);
  let handed = false;
  c.accept(socket as unknown as Socket, () => {
    handed = true;
  });
  return { socket, handed };
}

describe("GatewayConnections", () => {
  it("bounds connections per client address and in all, and frees a slot when a connection closes", () => {
    expect(MAX_GATEWAY_CONNECTIONS_PER_ADDRESS).toBe(32);
    expect(MAX_GATEWAY_CONNECTIONS).toBe(1024);
    const c = new GatewayConnections(silentLogger, 2, 4);
    const a1 = accept(c, "10.0.0.1");
    accept(c, "10.0.0.1");
    const third = accept(c, "10.0.0.1");
    expect(a1.handed).toBe(true);
    expect(third.handed).toBe(false);
    expect(third.socket.destroyed).toBe(true);
    expect(c.refused.per_address).toBe(1);
    // Unix-socket clients (no address) count against the total only.
    expect(accept(c, undefined).handed).toBe(true);
    expect(accept(c, undefined).handed).toBe(true);
    expect(accept(c, "10.0.0.2").handed).toBe(false);
    expect(c.refused.total).toBe(1);
    expect(c.count).toBe(4);
    a1.socket.destroy();
    expect(c.count).toBe(3);
    expect(accept(c, "10.0.0.1").handed).toBe(true);
  });
});
