/** Shared fixtures of the MConnection tests. */
import { once } from "node:events";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { ChannelDescriptor } from "../../../src/wire/mconnection/channel-descriptor.js";
import type { MConnectionConfig } from "../../../src/wire/mconnection/defaults.js";
import type { MConnectionError } from "../../../src/wire/mconnection/errors.js";
import type { MConnectionOptions } from "../../../src/wire/mconnection/mconnection.js";
import { MConnection } from "../../../src/wire/mconnection/mconnection.js";
import type { Packet } from "../../../src/wire/mconnection/packet.js";
import { PacketDecoder, maxPacketMsgSize } from "../../../src/wire/mconnection/packet.js";
import { createDuplexPair } from "../../support/duplex-pair.js";

export interface Side {
  readonly mconn: MConnection;
  readonly conn: Duplex;
  /** Messages received, per channel, in order. */
  readonly received: Map<number, Uint8Array[]>;
  /** Every message received, in order. */
  readonly log: { channelId: number; message: Uint8Array }[];
  readonly errors: MConnectionError[];
}

export function createSide(
  conn: Duplex,
  channels: readonly ChannelDescriptor[],
  config: Partial<MConnectionConfig> = {},
  options: MConnectionOptions = {},
  onReceive?: (side: Side, channelId: number, message: Uint8Array) => void,
): Side {
  const received = new Map<number, Uint8Array[]>();
  const log: { channelId: number; message: Uint8Array }[] = [];
  const errors: MConnectionError[] = [];
  const side: Side = {
    conn,
    received,
    log,
    errors,
    mconn: new MConnection(
      conn,
      channels,
      {
        onReceive: (channelId, message) => {
          let list = received.get(channelId);
          if (list === undefined) {
            list = [];
            received.set(channelId, list);
          }
          list.push(message);
          log.push({ channelId, message });
          onReceive?.(side, channelId, message);
        },
        onError: (error) => {
          errors.push(error);
        },
      },
      config,
      options,
    ),
  };
  return side;
}

export type Transport = "duplex pair" | "tcp";

/** Two connected duplexes, in memory or over TCP on 127.0.0.1. */
export async function connectedPair(transport: Transport): Promise<[Duplex, Duplex]> {
  if (transport === "duplex pair") return createDuplexPair();
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address() as net.AddressInfo;
  const accepted = once(server, "connection") as Promise<[net.Socket]>;
  const client = net.connect(address.port, "127.0.0.1");
  await once(client, "connect");
  const [serverSocket] = await accepted;
  server.close();
  client.setNoDelay(true);
  serverSocket.setNoDelay(true);
  return [client, serverSocket];
}

export async function waitFor(condition: () => boolean, what = "condition", timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Lets pending immediates and I/O callbacks run `n` times. */
export async function ticks(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Reads the raw side of a connection and decodes what the MConnection wrote. */
export class RawPeer {
  readonly packets: Packet[] = [];
  bytes = 0;
  private readonly decoder = new PacketDecoder(maxPacketMsgSize(1024) + 16);

  constructor(
    readonly conn: Duplex,
    read = true,
  ) {
    if (read) this.startReading();
  }

  startReading(): void {
    this.conn.on("data", (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.decoder.push(chunk);
      for (let p = this.decoder.next(); p !== undefined; p = this.decoder.next()) {
        this.packets.push(p.kind === "msg" ? { ...p, data: new Uint8Array(p.data) } : p);
      }
    });
    this.conn.on("error", () => undefined);
  }

  write(bytes: Uint8Array): void {
    this.conn.write(bytes);
  }

  count(kind: Packet["kind"]): number {
    return this.packets.filter((p) => p.kind === kind).length;
  }
}
