import type { Duplex } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { ed25519KeyFromSeed, generateEd25519Key, nodeIdFromPublicKey } from "../../../src/wire/crypto/ed25519.js";
import { DeadlineExceededError } from "../../../src/wire/errors.js";
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  encodeAuthSigMessage,
  encodeEphemeralKeyMessage,
  performHandshake,
  type SecretConnection,
} from "../../../src/wire/secret-connection/index.js";
import { x25519KeyPairFromPrivateKey } from "../../../src/wire/secret-connection/keys.js";
import { createDuplexPair } from "../../support/duplex-pair.js";
import { RawPeer } from "./raw-peer.js";
import { createTcpPair, hex, loadHandshakeVector, plainFrame, toHex } from "./support.js";

const vector = loadHandshakeVector();

function written(spy: { mock: { calls: unknown[][] } }): Buffer {
  return Buffer.concat(spy.mock.calls.map((call) => Buffer.from(call[0] as Uint8Array)));
}

function readAll(conn: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      got += chunk.length;
      if (got >= n) {
        conn.off("data", onData);
        conn.pause();
        resolve(Buffer.concat(parts));
      }
    };
    conn.on("data", onData);
    conn.once("error", reject);
  });
}

describe("performHandshake: the deterministic vector", () => {
  it("reproduces ephemeral messages, AuthSig frames, challenge and identities byte for byte", async () => {
    const [a, b] = createDuplexPair();
    const writeA = vi.spyOn(a, "write");
    const writeB = vi.spyOn(b, "write");
    const [connA, connB] = await Promise.all([
      performHandshake(a, ed25519KeyFromSeed(hex(vector.A.ed25519_seed)), {
        generateEphemeralKey: () => x25519KeyPairFromPrivateKey(hex(vector.A.eph_priv)),
      }),
      performHandshake(b, ed25519KeyFromSeed(hex(vector.B.ed25519_seed)), {
        generateEphemeralKey: () => x25519KeyPairFromPrivateKey(hex(vector.B.eph_priv)),
      }),
    ]);
    for (const [side, spy] of [
      [vector.A, writeA],
      [vector.B, writeB],
    ] as const) {
      const wire = written(spy);
      expect(wire).toHaveLength(35 + 1044);
      expect(toHex(wire.subarray(0, 35))).toBe(side.eph_msg_on_wire);
      expect(toHex(wire.subarray(35))).toBe(side.first_sealed_frame);
    }
    expect(toHex(connA.remotePublicKey)).toBe(vector.B.ed25519_pub);
    expect(connA.remoteNodeId).toBe(vector.B.node_id);
    expect(toHex(connA.localPublicKey)).toBe(vector.A.ed25519_pub);
    expect(connB.remoteNodeId).toBe(vector.A.node_id);

    // The sessions continue with nonce 1 in both directions.
    const sent = Buffer.from("after the handshake");
    const received = readAll(connB, sent.length);
    connA.write(sent);
    expect((await received).toString()).toBe(sent.toString());
    connA.destroy();
    connB.destroy();
  });

  it("encodes the vector's messages", () => {
    expect(toHex(encodeEphemeralKeyMessage(hex(vector.A.eph_pub)))).toBe(vector.A.eph_msg_on_wire);
    expect(toHex(encodeAuthSigMessage(hex(vector.B.ed25519_pub), hex(vector.B.signature)))).toBe(vector.B.authsig_delimited);
    expect(toHex(hex(vector.A.first_frame_plain_prefix).subarray(4))).toBe(vector.A.authsig_delimited);
  });

  it("defaults the deadline to CometBFT's 3 s", () => {
    expect(DEFAULT_HANDSHAKE_TIMEOUT_MS).toBe(3000);
  });
});

describe("performHandshake: honest peers", () => {
  it("two fresh nodes authenticate each other", async () => {
    const [a, b] = createDuplexPair();
    const ka = generateEd25519Key();
    const kb = generateEd25519Key();
    const [ca, cb] = await Promise.all([performHandshake(a, ka), performHandshake(b, kb)]);
    expect(ca.remoteNodeId).toBe(nodeIdFromPublicKey(kb.publicKey));
    expect(cb.remoteNodeId).toBe(nodeIdFromPublicKey(ka.publicKey));
    ca.destroy();
    cb.destroy();
  });

  it("does not wait for the remote's ephemeral key before sending its own", async () => {
    const [ours, theirs] = createDuplexPair();
    const peer = new RawPeer(theirs);
    const handshake = performHandshake(ours, generateEd25519Key(), { timeoutMs: 200 });
    // The peer sends nothing, yet our key arrives.
    expect(await peer.readEphemeral()).toHaveLength(32);
    await expect(handshake).rejects.toBeInstanceOf(DeadlineExceededError);
    ours.destroy();
  });

  async function scripted(script: (peer: RawPeer) => Promise<void>): Promise<{ conn: SecretConnection; peer: RawPeer }> {
    const [ours, theirs] = createDuplexPair();
    const peer = new RawPeer(theirs);
    const [conn] = await Promise.all([performHandshake(ours, generateEd25519Key(), { timeoutMs: 2000 }), script(peer)]);
    expect(conn.remoteNodeId).toBe(nodeIdFromPublicKey(peer.identity.publicKey));
    return { conn, peer };
  }

  it("keeps the bytes that arrive behind the ephemeral key: AuthSig and data in the same write", async () => {
    const payload = Buffer.from("node info follows");
    const { conn, peer } = await scripted(async (peer) => {
      const ourKey = await peer.readEphemeral();
      expect(ourKey).toHaveLength(32);
      peer.deriveSession();
      await peer.write(Buffer.concat([peer.ephemeralMessage(), peer.seal(peer.authSig()), peer.seal(payload)]));
    });
    expect((await readAll(conn, payload.length)).toString()).toBe(payload.toString());
    // Our AuthSig went out as the first frame (nonce 0).
    expect(Buffer.from(await peer.readFrame()).subarray(0, 1)[0]).toBe(0x66);
    conn.destroy();
  });

  it("keeps data that shares the AuthSig's frame, and a partial frame behind it", async () => {
    const first = Buffer.from("shares the frame");
    const second = Buffer.alloc(3000, 0x42);
    let sendRest: (() => Promise<void>) | null = null;
    const { conn } = await scripted(async (peer) => {
      await peer.exchangeEphemeral();
      const sealed = Buffer.concat([peer.seal(Buffer.concat([peer.authSig(), first])), peer.seal(second)]);
      // AuthSig + data in frame 0, then 500 bytes of frame 1 now, the rest later.
      await peer.write(sealed.subarray(0, 1044 + 500));
      sendRest = () => peer.write(sealed.subarray(1044 + 500));
    });
    const received = readAll(conn, first.length + second.length);
    await sendRest!();
    expect(toHex(await received)).toBe(toHex(Buffer.concat([first, second])));
    conn.destroy();
  });

  it("reads an AuthSig split over several frames, with empty frames between", async () => {
    const { conn } = await scripted(async (peer) => {
      await peer.exchangeEphemeral();
      const authSig = peer.authSig();
      const parts = [
        peer.seal(new Uint8Array(0)),
        peer.sealFrame(plainFrame(1, authSig.subarray(0, 1))),
        peer.seal(new Uint8Array(0)),
        peer.seal(authSig.subarray(1, 50)),
        peer.seal(authSig.subarray(50)),
      ];
      await peer.write(Buffer.concat(parts));
    });
    conn.destroy();
  });

  it("survives a peer that writes one byte at a time", async () => {
    const { conn } = await scripted(async (peer) => {
      const ourKey = peer.readEphemeral();
      const wireEph = peer.ephemeralMessage();
      for (const byte of wireEph) await peer.write(Uint8Array.of(byte));
      await ourKey;
      peer.deriveSession();
      for (const byte of peer.seal(peer.authSig())) await peer.write(Uint8Array.of(byte));
    });
    conn.destroy();
  });

  it("completes over TCP with a real node pair", async () => {
    const tcp = await createTcpPair();
    try {
      const [ca, cb] = await Promise.all([
        performHandshake(tcp.client, generateEd25519Key()),
        performHandshake(tcp.server, generateEd25519Key()),
      ]);
      const received = readAll(cb, 5);
      ca.write("hello");
      expect((await received).toString()).toBe("hello");
      ca.destroy();
      cb.destroy();
    } finally {
      await tcp.close();
    }
  });
});
