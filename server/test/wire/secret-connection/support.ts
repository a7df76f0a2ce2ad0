/** Shared helpers of the SecretConnection tests: vectors, raw frame sealing, TCP pairs. */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, connect, type Socket } from "node:net";

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

export interface VectorSide {
  eph_priv: string;
  eph_pub: string;
  ed25519_seed: string;
  ed25519_pub: string;
  node_id: string;
  eph_msg_on_wire: string;
  loc_is_least: boolean;
  recv_key: string;
  send_key: string;
  signature: string;
  authsig_delimited: string;
  first_frame_plain_prefix: string;
  first_sealed_frame: string;
  first_sealed_frame_sha256: string;
}

export interface HandshakeVector {
  A: VectorSide;
  B: VectorSide;
  lo_eph_pub: string;
  hi_eph_pub: string;
  dh_secret: string;
  hkdf_okm_96: string;
  challenge: string;
  nonce_examples: Record<"counter_0" | "counter_1" | "counter_256", string>;
}

export function loadHandshakeVector(): HandshakeVector {
  return JSON.parse(readFileSync(new URL("../../vectors/secret_connection_handshake_vector.json", import.meta.url), "utf8")) as HandshakeVector;
}

export interface GoldenLine {
  dhSecret: string;
  locIsLeast: boolean;
  recvKey: string;
  sendKey: string;
  legacyChallenge: string;
}

/** The 32 lines of CometBFT's TestDeriveSecretsAndChallengeGolden.golden, parsed as committed. */
export function loadGoldenKdf(): GoldenLine[] {
  const text = readFileSync(new URL("../../vectors/TestDeriveSecretsAndChallengeGolden.golden", import.meta.url), "utf8");
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((line) => {
      const [dhSecret, flag, recvKey, sendKey, legacyChallenge] = line.split(",");
      if (dhSecret === undefined || recvKey === undefined || sendKey === undefined || legacyChallenge === undefined) {
        throw new Error(`bad golden line: ${line}`);
      }
      if (flag !== "true" && flag !== "false") throw new Error(`bad golden flag: ${line}`);
      return { dhSecret, locIsLeast: flag === "true", recvKey, sendKey, legacyChallenge };
    });
}

/** The 12-byte nonce for `counter`, built independently of the code under test. */
export function nonceFor(counter: bigint): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter, 4);
  return nonce;
}

/** Seals an arbitrary 1028-byte plaintext frame, straight on node's AEAD (lets tests craft what our sealer never would). */
export function sealRawFrame(key: Uint8Array, counter: bigint, plaintext: Uint8Array): Buffer {
  if (plaintext.length !== 1028) throw new Error("a plaintext frame is 1028 bytes");
  const cipher = createCipheriv("chacha20-poly1305", key, nonceFor(counter), { authTagLength: 16 });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** A plaintext frame announcing `chunkLength` and carrying `data` (zero padding). */
export function plainFrame(chunkLength: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const frame = Buffer.alloc(1028);
  frame.writeUInt32LE(chunkLength >>> 0, 0);
  frame.set(data.subarray(0, 1024), 4);
  return frame;
}

/** Opens one sealed frame straight on node's AEAD; returns the 1028-byte plaintext. */
export function openRawFrame(key: Uint8Array, counter: bigint, sealed: Uint8Array): Buffer {
  const decipher = createDecipheriv("chacha20-poly1305", key, nonceFor(counter), { authTagLength: 16 });
  decipher.setAuthTag(sealed.subarray(1028));
  return Buffer.concat([decipher.update(sealed.subarray(0, 1028)), decipher.final()]);
}

/** Two connected TCP sockets on 127.0.0.1 (client first); `close()` tears everything down. */
export async function createTcpPair(): Promise<{ client: Socket; server: Socket; close: () => Promise<void> }> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const address = listener.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  const accepted = new Promise<Socket>((resolve) => listener.once("connection", resolve));
  const client = connect(address.port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
  });
  const server = await accepted;
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Deterministic pseudo-random bytes (xorshift), so that failures are reproducible. */
export function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
