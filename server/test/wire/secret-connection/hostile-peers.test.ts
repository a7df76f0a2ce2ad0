/**
 * The handshake against a table of hostile peers, each a script driving a raw
 * socket. Every case must reject with its own typed error, within the
 * deadline, over an in-memory duplex pair and over real TCP.
 */
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { generateEd25519Key } from "../../../src/wire/crypto/ed25519.js";
import {
  DeadlineExceededError,
  DecodeError,
  MessageTooLargeError,
  UnexpectedEofError,
  VarintOverflowError,
} from "../../../src/wire/errors.js";
import {
  AuthSignatureError,
  FrameDecryptError,
  FrameLengthError,
  InvalidEphemeralKeyError,
  InvalidPublicKeyError,
  LowOrderPointError,
  ReflectedEphemeralKeyError,
  UnsupportedKeyTypeError,
  performHandshake,
} from "../../../src/wire/secret-connection/index.js";
import { createDuplexPair } from "../../support/duplex-pair.js";
import { RawPeer } from "./raw-peer.js";
import { createTcpPair, hex, plainFrame, pseudoRandomBytes, sleep } from "./support.js";

type ErrorClass = abstract new (...args: never[]) => Error;

interface HostileCase {
  readonly name: string;
  readonly error: ErrorClass;
  /** Handshake deadline for this case. */
  readonly timeoutMs?: number;
  readonly script: (peer: RawPeer) => Promise<void>;
}

const DEFAULT_CASE_TIMEOUT_MS = 1500;
/** Scheduling slack allowed past the deadline. */
const SLACK_MS = 250;

const flipBit = (bytes: Uint8Array, at: number): Uint8Array => {
  const copy = Uint8Array.from(bytes);
  copy[at] = (copy[at] as number) ^ 0x01;
  return copy;
};

/** Sends a raw ephemeral value after reading ours. */
const sendEphemeralValue =
  (value: Uint8Array) =>
  async (peer: RawPeer): Promise<void> => {
    await peer.readEphemeral();
    await peer.write(peer.ephemeralMessage(value));
  };

/** Completes the ephemeral exchange honestly, then sends `build(peer)`. */
const afterEphemeral =
  (build: (peer: RawPeer) => Uint8Array, then?: (peer: RawPeer) => Promise<void>) =>
  async (peer: RawPeer): Promise<void> => {
    await peer.exchangeEphemeral();
    await peer.write(build(peer));
    await then?.(peer);
  };

const LOW_ORDER_POINTS: [string, string][] = [
  ["u = 0", "00".repeat(32)],
  ["u = 1", "01" + "00".repeat(31)],
  ["the order-8 point e0eb7a7c…b800", "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"],
  ["the order-8 point 5f9c95bc…1157", "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"],
  ["u = p - 1", "ec" + "ff".repeat(30) + "7f"],
  ["u = p (non-canonical 0)", "ed" + "ff".repeat(30) + "7f"],
];

const HTTP_REQUEST = Buffer.from("GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n");

const CASES: HostileCase[] = [
  // --- the plaintext ephemeral-key step ---
  {
    name: "closes before sending anything",
    error: UnexpectedEofError,
    script: (peer) => {
      peer.socket.end();
      return Promise.resolve();
    },
  },
  {
    name: "closes in the middle of the ephemeral message",
    error: UnexpectedEofError,
    script: async (peer) => {
      await peer.write(peer.ephemeralMessage().subarray(0, 20));
      peer.socket.end();
    },
  },
  {
    name: "sends garbage: an endless varint",
    error: VarintOverflowError,
    script: async (peer) => peer.write(new Uint8Array(40).fill(0xff)),
  },
  {
    name: "sends garbage: an undecodable message",
    error: DecodeError,
    script: async (peer) => peer.write(hex("030a0501")),
  },
  {
    name: "sends garbage: an HTTP request (decodes to no key at all)",
    error: InvalidEphemeralKeyError,
    script: async (peer) => peer.write(HTTP_REQUEST),
  },
  {
    name: "announces a 1 MiB ephemeral message (Go's limit, far above ours)",
    error: MessageTooLargeError,
    script: async (peer) => peer.write(hex("808040")),
  },
  { name: "sends a 31-byte ephemeral key", error: InvalidEphemeralKeyError, script: sendEphemeralValue(new Uint8Array(31).fill(9)) },
  { name: "sends a 33-byte ephemeral key", error: InvalidEphemeralKeyError, script: sendEphemeralValue(new Uint8Array(33).fill(9)) },
  { name: "sends an empty ephemeral key", error: InvalidEphemeralKeyError, script: sendEphemeralValue(new Uint8Array(0)) },
  ...LOW_ORDER_POINTS.map(
    ([name, point]): HostileCase => ({
      name: `sends the low-order point ${name}`,
      error: LowOrderPointError,
      script: sendEphemeralValue(hex(point)),
    }),
  ),
  {
    name: "echoes our own ephemeral key",
    error: ReflectedEphemeralKeyError,
    script: async (peer) => {
      const ours = await peer.readEphemeral();
      await peer.write(peer.ephemeralMessage(ours));
    },
  },
  {
    name: "sends one byte every 100 ms and stalls past the deadline",
    error: DeadlineExceededError,
    timeoutMs: 400,
    script: async (peer) => {
      for (const byte of peer.ephemeralMessage()) {
        await peer.write(Uint8Array.of(byte));
        await sleep(100);
      }
    },
  },

  // --- the encrypted AuthSig step ---
  {
    name: "closes after the ephemeral key",
    error: UnexpectedEofError,
    script: afterEphemeral(
      () => new Uint8Array(0),
      (peer) => {
        peer.socket.end();
        return Promise.resolve();
      },
    ),
  },
  {
    name: "stalls after the ephemeral key",
    error: DeadlineExceededError,
    timeoutMs: 300,
    script: afterEphemeral(() => new Uint8Array(0)),
  },
  {
    name: "sends a truncated frame, then closes",
    error: UnexpectedEofError,
    script: afterEphemeral(
      (peer) => peer.seal(peer.authSig()).subarray(0, 700),
      (peer) => {
        peer.socket.end();
        return Promise.resolve();
      },
    ),
  },
  {
    name: "sends a frame with a flipped bit",
    error: FrameDecryptError,
    script: afterEphemeral((peer) => flipBit(peer.seal(peer.authSig()), 37)),
  },
  {
    name: "seals with its receive key (swapped key halves)",
    error: FrameDecryptError,
    script: afterEphemeral((peer) => peer.sealFrame(plainFrame(103, peer.authSig()), peer.session.recvKey)),
  },
  {
    name: "sends plaintext where a frame belongs",
    error: FrameDecryptError,
    script: afterEphemeral((peer) => {
      const frame = new Uint8Array(1044);
      frame.set(peer.authSig());
      return frame;
    }),
  },
  {
    name: "announces a chunk longer than 1024 bytes",
    error: FrameLengthError,
    script: afterEphemeral((peer) => peer.sealFrame(plainFrame(1025, peer.authSig()))),
  },
  {
    name: "announces an AuthSig of 1 MiB + 1 bytes (over the delimited limit)",
    error: MessageTooLargeError,
    script: afterEphemeral((peer) => peer.seal(hex("818040"))),
  },
  {
    name: "sends an endless varint as the AuthSig prefix",
    error: VarintOverflowError,
    script: afterEphemeral((peer) => peer.seal(new Uint8Array(12).fill(0x80))),
  },
  {
    name: "sends an undecodable AuthSig",
    error: DecodeError,
    script: afterEphemeral((peer) => peer.seal(hex("030a0501"))),
  },
  {
    name: "sends an AuthSig without pub_key",
    error: InvalidPublicKeyError,
    script: afterEphemeral((peer) => peer.seal(peer.authSig({ pubKey: undefined }))),
  },
  {
    name: "sends a pub_key with no key set in the oneof",
    error: InvalidPublicKeyError,
    script: afterEphemeral((peer) => peer.seal(peer.authSig({ pubKey: { sum: undefined } }))),
  },
  {
    name: "sends a 31-byte ed25519 key",
    error: InvalidPublicKeyError,
    script: afterEphemeral((peer) => peer.seal(peer.authSig({ pubKey: { sum: { $case: "ed25519", value: new Uint8Array(31) } } }))),
  },
  {
    name: "sends a 33-byte ed25519 key",
    error: InvalidPublicKeyError,
    script: afterEphemeral((peer) => peer.seal(peer.authSig({ pubKey: { sum: { $case: "ed25519", value: new Uint8Array(33) } } }))),
  },
  {
    name: "sends a secp256k1 key",
    error: UnsupportedKeyTypeError,
    script: afterEphemeral((peer) =>
      peer.seal(peer.authSig({ pubKey: { sum: { $case: "secp256k1", value: Uint8Array.of(2, ...new Uint8Array(32).fill(7)) } } })),
    ),
  },
  {
    name: "sends a secp256k1 key of the wrong size",
    error: InvalidPublicKeyError,
    script: afterEphemeral((peer) => peer.seal(peer.authSig({ pubKey: { sum: { $case: "secp256k1", value: new Uint8Array(32) } } }))),
  },
  {
    name: "sends a bad signature (one flipped bit)",
    error: AuthSignatureError,
    script: afterEphemeral((peer) => peer.seal(peer.authSig({ sig: flipBit(peer.identity.sign(peer.session.challenge), 5) }))),
  },
  {
    name: "signs something other than the challenge",
    error: AuthSignatureError,
    script: afterEphemeral((peer) => peer.seal(peer.authSig({ sig: peer.identity.sign(new Uint8Array(32)) }))),
  },
  {
    name: "presents a key that did not sign",
    error: AuthSignatureError,
    script: afterEphemeral((peer) =>
      peer.seal(peer.authSig({ pubKey: { sum: { $case: "ed25519", value: generateEd25519Key().publicKey } } })),
    ),
  },
  {
    name: "sends a 63-byte signature",
    error: AuthSignatureError,
    script: afterEphemeral((peer) => peer.seal(peer.authSig({ sig: peer.identity.sign(peer.session.challenge).subarray(0, 63) }))),
  },
  {
    name: "sends no signature",
    error: AuthSignatureError,
    script: afterEphemeral((peer) => peer.seal(peer.authSig({ sig: new Uint8Array(0) }))),
  },
  {
    name: "sends empty frames forever",
    error: DeadlineExceededError,
    timeoutMs: 400,
    script: async (peer) => {
      await peer.exchangeEphemeral();
      for (;;) {
        await peer.write(peer.seal(new Uint8Array(0)));
        await sleep(5);
      }
    },
  },
];

interface Transport {
  readonly name: string;
  readonly open: () => Promise<{ ours: Duplex; theirs: Duplex; close: () => Promise<void> }>;
}

const TRANSPORTS: Transport[] = [
  {
    name: "duplex pair",
    open: () => {
      const [ours, theirs] = createDuplexPair();
      return Promise.resolve({
        ours,
        theirs,
        close: () => {
          ours.destroy();
          theirs.destroy();
          return Promise.resolve();
        },
      });
    },
  },
  {
    name: "tcp",
    open: async () => {
      const tcp = await createTcpPair();
      return { ours: tcp.client, theirs: tcp.server, close: tcp.close };
    },
  },
];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe.each(TRANSPORTS)("hostile peers over $name", (transport) => {
  it.each(CASES)("rejects a peer that $name", async (hostile) => {
    const { ours, theirs, close } = await transport.open();
    cleanups.push(close);
    // The caller owns the sockets' errors once the handshake gives up.
    ours.on("error", () => undefined);
    theirs.on("error", () => undefined);
    const timeoutMs = hostile.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS;
    const peer = new RawPeer(theirs);
    const started = performance.now();
    const handshake = performHandshake(ours, generateEd25519Key(), { timeoutMs });
    const script = hostile.script(peer).catch(() => undefined);
    const error = await handshake.then(
      () => null,
      (err: unknown) => err,
    );
    const elapsedMs = performance.now() - started;
    expect(error).toBeInstanceOf(hostile.error);
    expect(elapsedMs).toBeLessThan(timeoutMs + SLACK_MS);
    if (hostile.error === DeadlineExceededError) expect(elapsedMs).toBeGreaterThanOrEqual(timeoutMs - 5);
    // The handshake left closing to us.
    expect(ours.destroyed).toBe(false);
    await close();
    await script;
  });
});

describe("hostile peers: bounded buffering", () => {
  it("stops reading a flood of garbage after the first bad frame", async () => {
    const tcp = await createTcpPair();
    cleanups.push(tcp.close);
    tcp.client.on("error", () => undefined);
    tcp.server.on("error", () => undefined);
    const peer = new RawPeer(tcp.server);
    const handshake = performHandshake(tcp.client, generateEd25519Key(), { timeoutMs: 2000 });
    const flood = (async () => {
      await peer.exchangeEphemeral();
      const garbage = pseudoRandomBytes(1024 * 1024, 5);
      for (let i = 0; i < 64; i++) await peer.write(garbage);
    })().catch(() => undefined);
    await expect(handshake).rejects.toBeInstanceOf(FrameDecryptError);
    // Only what the socket's own buffer holds was pulled off the kernel.
    expect(tcp.client.bytesRead).toBeLessThan(1024 * 1024);
    await tcp.close();
    await flood;
  });

  it("rejects an oversize AuthSig at its prefix, without waiting for the body", async () => {
    const [ours, theirs] = createDuplexPair();
    cleanups.push(() => {
      ours.destroy();
      theirs.destroy();
      return Promise.resolve();
    });
    const peer = new RawPeer(theirs);
    const handshake = performHandshake(ours, generateEd25519Key(), { timeoutMs: 2000 });
    await peer.exchangeEphemeral();
    // uvarint(2^31) and nothing else: the body never comes.
    await peer.write(peer.seal(hex("8080808008")));
    await expect(handshake).rejects.toMatchObject({ constructor: MessageTooLargeError, sizeBytes: 2 ** 31 });
  });
});

describe("performHandshake: cancellation", () => {
  it("rejects with the caller's abort reason", async () => {
    const [ours, theirs] = createDuplexPair();
    cleanups.push(() => {
      ours.destroy();
      theirs.destroy();
      return Promise.resolve();
    });
    const controller = new AbortController();
    const handshake = performHandshake(ours, generateEd25519Key(), { signal: controller.signal });
    const reason = new Error("shutting down");
    controller.abort(reason);
    await expect(handshake).rejects.toBe(reason);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const [ours, theirs] = createDuplexPair();
    cleanups.push(() => {
      ours.destroy();
      theirs.destroy();
      return Promise.resolve();
    });
    const reason = new Error("already");
    await expect(performHandshake(ours, generateEd25519Key(), { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it("leaves no listeners on the socket or the signal after a failure", async () => {
    const [ours, theirs] = createDuplexPair();
    cleanups.push(() => {
      ours.destroy();
      theirs.destroy();
      return Promise.resolve();
    });
    const events = ["readable", "data", "end", "close", "error"] as const;
    const before = events.map((e) => ours.listenerCount(e));
    const controller = new AbortController();
    const handshake = performHandshake(ours, generateEd25519Key(), { timeoutMs: 100, signal: controller.signal });
    await expect(handshake).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(events.map((e) => ours.listenerCount(e))).toEqual(before);
    // Aborting later is harmless.
    controller.abort();
  });

  it("refuses a non-positive deadline", async () => {
    const [ours] = createDuplexPair();
    await expect(performHandshake(ours, generateEd25519Key(), { timeoutMs: 0 })).rejects.toBeInstanceOf(RangeError);
    ours.destroy();
  });
});
