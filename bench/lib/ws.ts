/**
 * A minimal WebSocket client (RFC 6455) for CometBFT's JSON-RPC endpoint
 * (`/websocket`): text messages in and out, ping answered with pong, close.
 * Node 20 has no WebSocket client without a flag, and the consensus scenario
 * needs two things from it: subscriptions (a block's commit as the node
 * announces it) and a cheap way to send many `broadcast_tx_sync` calls (one
 * small frame each instead of an HTTP request).
 *
 * Not a general client: no extensions, no subprotocols, no TLS; every frame
 * we send is one masked text frame.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import type { Socket } from "node:net";

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export class WsClient {
  /** Called with every text (or binary, as UTF-8) message. */
  onMessage: (text: string) => void = () => undefined;
  /** Called once when the connection ends, for whatever reason. */
  onClose: (why: string) => void = () => undefined;

  private buffered: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private closed = false;
  private corked = false;

  private constructor(private readonly socket: Socket, head: Buffer) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("close", () => this.end("socket closed"));
    socket.on("error", (err) => this.end(err.message));
    if (head.length > 0) this.receive(head);
  }

  /** Opens `ws://HOST:PORT/PATH` (only `ws:`). */
  static connect(url: string, timeoutMs = 10_000): Promise<WsClient> {
    const u = new URL(url);
    if (u.protocol !== "ws:") throw new Error(`only ws:// URLs: ${url}`);
    return new Promise((resolve, reject) => {
      const req = request({
        host: u.hostname,
        port: Number(u.port),
        path: `${u.pathname}${u.search}`,
        headers: {
          Connection: "Upgrade",
          Upgrade: "websocket",
          "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        },
        timeout: timeoutMs,
      });
      req.once("upgrade", (_res, socket, head) => resolve(new WsClient(socket, head)));
      req.once("response", (res) => {
        res.resume();
        reject(new Error(`${url}: HTTP ${res.statusCode ?? "?"} instead of a WebSocket upgrade`));
      });
      req.once("timeout", () => req.destroy(new Error(`${url}: no upgrade after ${timeoutMs} ms`)));
      req.once("error", reject);
      req.end();
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Sends one text message. Within one turn of the event loop, frames are written together. */
  send(text: string): void {
    if (this.closed) throw new Error("WebSocket closed");
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(frame(OP_TEXT, Buffer.from(text, "utf8")));
  }

  close(): void {
    if (this.closed) return;
    try {
      this.socket.write(frame(OP_CLOSE, Buffer.from([0x03, 0xe8])));
    } catch {
      // already broken
    }
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1_000).unref();
    this.end("closed by us");
  }

  private end(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(why);
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const b = this.buffered;
      if (b.length < 2) return;
      const fin = (b[0]! & 0x80) !== 0;
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let length = b[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      const maskAt = offset;
      if (masked) offset += 4;
      if (b.length < offset + length) return;
      let payload = b.subarray(offset, offset + length);
      if (masked) {
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ b[maskAt + (i & 3)]!;
      }
      this.buffered = b.subarray(offset + length);
      this.handleFrame(fin, opcode, payload);
      if (this.closed) return;
    }
  }

  private handleFrame(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case OP_PING:
        if (!this.closed) this.socket.write(frame(OP_PONG, payload));
        return;
      case OP_PONG:
        return;
      case OP_CLOSE:
        this.socket.end();
        this.end(`closed by the server (${payload.length >= 2 ? payload.readUInt16BE(0) : "no code"})`);
        return;
      case OP_TEXT:
      case OP_BINARY:
      case OP_CONTINUATION: {
        // Copy: the payload is a view of the receive buffer, which the next chunk replaces.
        this.fragments.push(fin && this.fragments.length === 0 ? payload : Buffer.from(payload));
        if (!fin) return;
        const whole = this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments);
        this.fragments = [];
        this.onMessage(whole.toString("utf8"));
        return;
      }
      default:
        this.socket.destroy();
        this.end(`unknown opcode ${opcode}`);
    }
  }
}

/** One final, masked frame (clients must mask: RFC 6455 §5.3). */
function frame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const headerLength = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLength + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) {
    out[1] = 0x80 | n;
  } else if (n < 65_536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = (Math.random() * 0x1_0000_0000) >>> 0;
  out.writeUInt32BE(mask, headerLength);
  const m = out.subarray(headerLength, headerLength + 4);
  for (let i = 0; i < n; i++) out[headerLength + 4 + i] = payload[i]! ^ m[i & 3]!;
  return out;
}
