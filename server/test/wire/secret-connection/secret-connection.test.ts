import { createHash } from "node:crypto";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { generateEd25519Key } from "../../../src/wire/crypto/ed25519.js";
import { UnexpectedEofError } from "../../../src/wire/errors.js";
import {
  FrameDecryptError,
  FrameLengthError,
  FrameOpener,
  FrameSealer,
  NonceOverflowError,
  SecretConnection,
  performHandshake,
  sealedLength,
} from "../../../src/wire/secret-connection/index.js";
import { StreamReader } from "../../../src/wire/stream-reader.js";
import { encodeDelimited } from "../../../src/wire/varint.js";
import { createDuplexPair } from "../../support/duplex-pair.js";
import { RawPeer } from "./raw-peer.js";
import { createTcpPair, plainFrame, pseudoRandomBytes, sleep } from "./support.js";

interface Connected {
  readonly a: SecretConnection;
  readonly b: SecretConnection;
  readonly rawA: Duplex;
  readonly rawB: Duplex;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function connect(rawA: Duplex, rawB: Duplex): Promise<Connected> {
  const [a, b] = await Promise.all([performHandshake(rawA, generateEd25519Key()), performHandshake(rawB, generateEd25519Key())]);
  a.on("error", () => undefined);
  b.on("error", () => undefined);
  cleanups.push(() => {
    a.destroy();
    b.destroy();
  });
  return { a, b, rawA, rawB };
}

async function overDuplexPair(): Promise<Connected> {
  const [rawA, rawB] = createDuplexPair();
  return connect(rawA, rawB);
}

async function overTcp(): Promise<Connected> {
  const tcp = await createTcpPair();
  cleanups.push(tcp.close);
  return connect(tcp.client, tcp.server);
}

const TRANSPORTS = [
  { name: "duplex pair", open: overDuplexPair },
  { name: "tcp", open: overTcp },
] as const;

/** Collects exactly `n` bytes from `conn`. */
function collect(conn: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    if (n === 0) {
      resolve(Buffer.alloc(0));
      return;
    }
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      got += chunk.length;
      if (got > n) reject(new Error(`received ${got} bytes, expected ${n}`));
      if (got === n) {
        conn.off("data", onData);
        resolve(Buffer.concat(parts));
      }
    };
    conn.on("data", onData);
    conn.once("error", reject);
  });
}

/** Writes `data` in pseudo-random pieces (zero-length ones included), honouring backpressure. */
async function writeInPieces(conn: Duplex, data: Uint8Array, seed: number, maxPiece: number): Promise<void> {
  const sizes = pseudoRandomBytes(1 + data.length, seed);
  let pos = 0;
  let i = 0;
  while (pos < data.length) {
    const r = sizes[i++ % sizes.length] as number;
    const n = r % 17 === 0 ? 0 : Math.min(data.length - pos, 1 + Math.floor((r / 255) * maxPiece));
    if (!conn.write(data.subarray(pos, pos + n))) await once(conn, "drain");
    pos += n;
  }
}

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe.each(TRANSPORTS)("SecretConnection over $name", ({ open }) => {
  it.each([1, 1023, 1024, 1025, 65_543, 3 * 1024 * 1024 + 13])("exchanges %i bytes both ways at once, intact", async (size) => {
    const { a, b } = await open();
    const aToB = pseudoRandomBytes(size, size);
    const bToA = pseudoRandomBytes(size + 7, size + 1);
    const atB = collect(b, aToB.length);
    const atA = collect(a, bToA.length);
    const maxPiece = Math.max(1, Math.min(size, 200_000));
    await Promise.all([writeInPieces(a, aToB, 11, maxPiece), writeInPieces(b, bToA, 12, maxPiece)]);
    expect(sha(await atB)).toBe(sha(aToB));
    expect(sha(await atA)).toBe(sha(bToA));
  });

  it("carries one large write of 8 MiB in both directions", async () => {
    const { a, b } = await open();
    const big = pseudoRandomBytes(8 * 1024 * 1024, 3);
    const atB = collect(b, big.length);
    const atA = collect(a, big.length);
    a.write(big);
    b.write(big);
    expect(sha(await atB)).toBe(sha(big));
    expect(sha(await atA)).toBe(sha(big));
  });

  it("coalesces 1000 small writes into few socket writes and few frames", async () => {
    const { a, b, rawA } = await open();
    const socketWrite = vi.spyOn(rawA, "write");
    const pieces = Array.from({ length: 1000 }, (_, i) => pseudoRandomBytes(10, i + 1));
    const expected = Buffer.concat(pieces);
    const atB = collect(b, expected.length);
    for (const piece of pieces) a.write(piece);
    expect((await atB).equals(expected)).toBe(true);
    const calls = socketWrite.mock.calls.length;
    const bytesOnWire = socketWrite.mock.calls.reduce((sum, call) => sum + (call[0] as Uint8Array).length, 0);
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(5);
    // Frames are filled across writes: close to ceil(10000 / 1024) = 10 frames, not 1000.
    expect(bytesOnWire / 1044).toBeLessThanOrEqual(10 + calls);
  });

  it("sends nothing for a zero-length write, and still calls back", async () => {
    const { a, rawA } = await open();
    const socketWrite = vi.spyOn(rawA, "write");
    await new Promise<void>((resolve, reject) => {
      a.write(new Uint8Array(0), (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
    expect(socketWrite).not.toHaveBeenCalled();
  });

  it("ends: the remote sees the end, and the connection closes once both sides are done", async () => {
    const { a, b } = await open();
    const bEnded = once(b, "end");
    const aEnded = once(a, "end");
    const atB = collect(b, 5);
    a.end("final");
    expect((await atB).toString()).toBe("final");
    await bEnded;
    // B may still answer when its transport allows half-open connections (the duplex pair does, TCP sockets by default do not).
    if (b.writable) {
      const atA = collect(a, 5);
      b.end("reply");
      expect((await atA).toString()).toBe("reply");
    } else {
      a.resume();
    }
    await aEnded;
    await Promise.all([a.closed ? Promise.resolve() : once(a, "close"), b.closed ? Promise.resolve() : once(b, "close")]);
  });

  it("destroying one side closes both sockets and the remote connection", async () => {
    const { a, b, rawA, rawB } = await open();
    b.resume();
    const closed = once(b, "close");
    a.destroy();
    await closed;
    expect(rawA.destroyed).toBe(true);
    expect(rawB.destroyed).toBe(true);
  });

  it("a socket destroyed underneath closes the connection", async () => {
    const { a, rawA } = await open();
    const closed = once(a, "close");
    rawA.destroy();
    await closed;
    expect(a.destroyed).toBe(true);
  });

  it("a socket error reaches the connection", async () => {
    const { a, rawA } = await open();
    const boom = new Error("boom");
    const failed = once(a, "error");
    rawA.destroy(boom);
    expect((await failed)[0]).toBe(boom);
  });
});

describe("SecretConnection: backpressure", () => {
  it.each(TRANSPORTS)("over $name, a writer that honours write()/'drain' stalls while the remote does not read", async ({ open }) => {
    const { a, b, rawB } = await open();
    const chunk = pseudoRandomBytes(64 * 1024, 1);
    let accepted = 0;
    const control = { stop: false };
    // Capped and yielding, so that broken backpressure fails the test instead of hanging it.
    const pump = (async () => {
      while (!control.stop && accepted < 64 * 1024 * 1024) {
        accepted += chunk.length;
        if (!a.write(chunk)) await once(a, "drain");
        else await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await sleep(300);
    const stalledAt = accepted;
    await sleep(100);
    // Nothing moves while B does not read, and what is in flight is bounded:
    // a few chunks in the writable buffers, one socket read in B.
    expect(accepted).toBe(stalledAt);
    expect(stalledAt).toBeLessThan(8 * 1024 * 1024);
    expect(rawB.isPaused()).toBe(true);
    expect(b.readableLength).toBeLessThan(2 * sealedLength(chunk.length) + 64 * 1024);
    // Reading resumes the flow, and every accepted byte arrives.
    control.stop = true;
    const all = collect(b, stalledAt);
    await pump;
    expect((await all).length).toBe(stalledAt);
  });

  it("after a clean remote close, buffered data is still delivered before the end", async () => {
    const { a, b, rawB } = await overTcp();
    const data = pseudoRandomBytes(10_000, 4);
    b.pause();
    a.end(data);
    await once(rawB, "close");
    await sleep(20);
    // The socket is gone, but the data it delivered is still readable.
    expect(b.destroyed).toBe(false);
    const all = collect(b, data.length);
    const ended = once(b, "end");
    const closed = once(b, "close");
    b.resume();
    expect(sha(await all)).toBe(sha(data));
    await ended;
    await closed;
  });
});

describe("SecretConnection: a hostile peer after the handshake", () => {
  async function withRawPeer(): Promise<{ conn: SecretConnection; peer: RawPeer; ours: Duplex }> {
    const [ours, theirs] = createDuplexPair();
    theirs.on("error", () => undefined);
    const peer = new RawPeer(theirs);
    const [conn] = await Promise.all([
      performHandshake(ours, generateEd25519Key()),
      (async () => {
        await peer.exchangeEphemeral();
        await peer.write(peer.seal(peer.authSig()));
      })(),
    ]);
    cleanups.push(() => {
      conn.destroy();
      theirs.destroy();
    });
    return { conn, peer, ours };
  }

  it("a tampered frame destroys the connection with FrameDecryptError", async () => {
    const { conn, peer, ours } = await withRawPeer();
    const good = collect(conn, 3);
    await peer.write(peer.seal(Uint8Array.of(1, 2, 3)));
    expect([...(await good)]).toEqual([1, 2, 3]);
    const frame = peer.seal(Uint8Array.of(4));
    frame[100] = (frame[100] as number) ^ 0x40;
    const failed = once(conn, "error");
    await peer.write(frame);
    expect((await failed)[0]).toBeInstanceOf(FrameDecryptError);
    expect(ours.destroyed).toBe(true);
  });

  it("an oversize chunk length destroys the connection with FrameLengthError", async () => {
    const { conn, peer } = await withRawPeer();
    const failed = once(conn, "error");
    await peer.write(peer.sealFrame(plainFrame(2000)));
    expect((await failed)[0]).toBeInstanceOf(FrameLengthError);
  });

  it("a truncated frame then end destroys the connection with UnexpectedEofError", async () => {
    const { conn, peer } = await withRawPeer();
    conn.resume();
    const failed = once(conn, "error");
    await peer.write(peer.seal(Uint8Array.of(1)).subarray(0, 1000));
    peer.socket.end();
    expect((await failed)[0]).toBeInstanceOf(UnexpectedEofError);
  });

  it("delivers empty frames as nothing, and frames split at every byte", async () => {
    const { conn, peer } = await withRawPeer();
    const data = pseudoRandomBytes(2500, 8);
    const sealed = Buffer.concat([peer.seal(new Uint8Array(0)), peer.seal(data)]);
    const all = collect(conn, data.length);
    for (const byte of sealed) await peer.write(Uint8Array.of(byte));
    expect(sha(await all)).toBe(sha(data));
  });

  it("our frames to the peer are 1044 bytes, one per 1024 data bytes", async () => {
    const { conn, peer } = await withRawPeer();
    expect((await peer.readFrame())[0]).toBe(0x66); // our AuthSig, nonce 0
    conn.write(pseudoRandomBytes(1025, 9));
    expect(await peer.readFrame()).toHaveLength(1024);
    expect(await peer.readFrame()).toHaveLength(1);
  });
});

describe("SecretConnection: hand-over edge cases", () => {
  it.each(TRANSPORTS)("over $name, a peer that sends everything and closes in one go is read to the end", async ({ name }) => {
    let ours: Duplex;
    let theirs: Duplex;
    if (name === "tcp") {
      const tcp = await createTcpPair();
      cleanups.push(tcp.close);
      ours = tcp.client;
      theirs = tcp.server;
    } else {
      [ours, theirs] = createDuplexPair();
    }
    theirs.on("error", () => undefined);
    const peer = new RawPeer(theirs);
    const data = pseudoRandomBytes(5000, 6);
    const [conn] = await Promise.all([
      performHandshake(ours, generateEd25519Key()),
      (async () => {
        await peer.readEphemeral();
        peer.deriveSession();
        theirs.end(Buffer.concat([peer.ephemeralMessage(), peer.seal(peer.authSig()), peer.seal(data)]));
        // Let the FIN reach our side before the handshake hands over.
        await sleep(20);
      })(),
    ]);
    cleanups.push(() => {
      conn.destroy();
    });
    const all = collect(conn, data.length);
    const ended = once(conn, "end");
    expect(sha(await all)).toBe(sha(data));
    await ended;
  });

  it("a StreamReader over the connection reads a delimited message and hands back the rest", async () => {
    const { a, b } = await overDuplexPair();
    const message = pseudoRandomBytes(3000, 7);
    const tail = pseudoRandomBytes(2000, 8);
    a.write(Buffer.concat([encodeDelimited(message), tail]));
    const reader = new StreamReader(b);
    expect(sha(await reader.readDelimited(10_240, "NodeInfo"))).toBe(sha(message));
    const rest = reader.release();
    const more = collect(b, tail.length - rest.length);
    expect(sha(Buffer.concat([rest, await more]))).toBe(sha(tail));
  });
});

describe("SecretConnection: nonce exhaustion", () => {
  it("a write past send counter 2^64-1 destroys the connection with NonceOverflowError", async () => {
    const [rawA, rawB] = createDuplexPair();
    const key = pseudoRandomBytes(32, 1);
    const remote = generateEd25519Key();
    const conn = new SecretConnection({
      socket: rawA,
      sealer: new FrameSealer(key, { initialCounter: 2n ** 64n - 1n }),
      opener: new FrameOpener(key),
      localPublicKey: generateEd25519Key().publicKey,
      remotePublicKey: remote.publicKey,
    });
    cleanups.push(() => {
      conn.destroy();
      rawB.destroy();
    });
    const failed = once(conn, "error");
    conn.write(new Uint8Array(1));
    conn.write(new Uint8Array(1));
    expect((await failed)[0]).toBeInstanceOf(NonceOverflowError);
    expect(rawA.destroyed).toBe(true);
    expect(sealedLength(1)).toBe(1044);
  });
});
