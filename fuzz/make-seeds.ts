/**
 * Writes the seed corpus under fuzz/corpus/<target>/ (small files, committed):
 * well-formed inputs built with our encoders, so that the fuzzer starts from
 * the valid shapes and mutates outward. Deterministic; rerun after changing a
 * target's input layout:
 *
 *   node --import tsx fuzz/make-seeds.ts
 *
 * Files named `regress-*` are inputs that once broke something; this script
 * never touches them.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AuthSigMessage } from "../server/src/gen/switchboard/p2p/v1/conn.js";
import { encodePexAddrs, encodePexRequest } from "../server/src/p2p/pex/pex-messages.js";
import { ed25519KeyFromSeed } from "../server/src/wire/crypto/ed25519.js";
import { encodePacket } from "../server/src/wire/mconnection/packet.js";
import { encodeNodeInfo } from "../server/src/wire/node-info.js";
import { encodeDelimited } from "../server/src/wire/varint.js";
import { concatBytes, uvarintOf } from "./targets/common.js";
import { FUZZ_CHALLENGE } from "./targets/handshake.js";
import { OUR_NODE_INFO } from "./targets/node-info.js";

const CORPUS = join(dirname(fileURLToPath(import.meta.url)), "corpus");

const u32le = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
};
const u16le = (n: number): Uint8Array => Uint8Array.of(n & 0xff, (n >> 8) & 0xff);
const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

function write(target: string, seeds: Record<string, Uint8Array>): void {
  const dir = join(CORPUS, target);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.startsWith("seed-")) rmSync(join(dir, f));
  for (const [name, data] of Object.entries(seeds)) writeFileSync(join(dir, `seed-${name}`), data);
}

// delimited: [limit index][chunking seed u32][stream]
write("delimited", {
  "three-bodies-limit1024": concatBytes([Uint8Array.of(5), u32le(1), encodeDelimited(bytes(3, 1)), encodeDelimited(new Uint8Array(0)), encodeDelimited(bytes(200, 2))]),
  "split-bytewise": concatBytes([Uint8Array.of(5), u32le(0), encodeDelimited(bytes(130, 3)), encodeDelimited(bytes(1, 4))]),
  "oversize-prefix": concatBytes([Uint8Array.of(3), u32le(2), encodeDelimited(bytes(5, 5)), uvarintOf(128n), bytes(4, 6)]),
  "overflowing-prefix": concatBytes([Uint8Array.of(7), u32le(3), uvarintOf(2n ** 60n), bytes(2, 7)]),
  "partial-tail": concatBytes([Uint8Array.of(6), u32le(4), encodeDelimited(bytes(40, 8)), uvarintOf(10_000n), bytes(9, 9)]),
});

// packet: [limit index][chunking seed u32][stream]
const msg = (channelId: number, eof: boolean, data: Uint8Array): Uint8Array => encodePacket({ kind: "msg", channelId, eof, data });
write("packet", {
  "ping-pong-msgs": concatBytes([
    Uint8Array.of(0),
    u32le(1),
    encodePacket({ kind: "ping" }),
    encodePacket({ kind: "pong" }),
    msg(0x40, false, bytes(1024, 1)),
    msg(0x40, true, bytes(10, 2)),
    msg(0x01, true, bytes(20, 3)),
    msg(0x00, true, new Uint8Array(0)),
  ]),
  "reassembly-over-capacity": concatBytes([Uint8Array.of(0), u32le(0), msg(0x01, false, bytes(60, 4)), msg(0x01, true, bytes(10, 5))]),
  "unknown-fields-and-group": concatBytes([Uint8Array.of(0), u32le(2), Uint8Array.of(0x08, 0x20, 0x01, 0x23, 0x08, 0x01, 0x24, 0x0a, 0x00)]),
  "negative-channel": concatBytes([Uint8Array.of(0), u32le(3), msg(-1, true, bytes(3, 6))]),
  "oversize-prefix": concatBytes([Uint8Array.of(0), u32le(4), encodePacket({ kind: "ping" }), uvarintOf(1035n), bytes(8, 7)]),
});

// frame: [truncate flag (>= 64: none)][chunking seed u32][count][frames...]
const honest = (data: Uint8Array): Uint8Array => concatBytes([Uint8Array.of(0), u16le(data.length), data]);
write("frame", {
  "honest-three": concatBytes([Uint8Array.of(200), u32le(1), Uint8Array.of(2), honest(bytes(1024, 1)), honest(bytes(5, 2)), honest(new Uint8Array(0))]),
  "bad-length": concatBytes([Uint8Array.of(200), u32le(3), Uint8Array.of(1), honest(bytes(7, 3)), Uint8Array.of(210, 0)]),
  "tampered": concatBytes([Uint8Array.of(200), u32le(2), Uint8Array.of(1), honest(bytes(100, 4)), Uint8Array.of(230), u16le(10), bytes(10, 5), u16le(1040), Uint8Array.of(0x80)]),
  "truncated": concatBytes([Uint8Array.of(10), u16le(500), u32le(0), Uint8Array.of(1), honest(bytes(300, 6)), honest(bytes(2, 7))]),
});

// node-info: a NodeInfo body
write("node-info", {
  valid: encodeNodeInfo(OUR_NODE_INFO),
  "ipv6-no-scheme": encodeNodeInfo({ ...OUR_NODE_INFO, listenAddr: "[::1]:26656", channels: [0x40], other: { txIndex: "", rpcAddress: "tcp://0.0.0.0:26657" } }),
  "sixteen-channels": encodeNodeInfo({ ...OUR_NODE_INFO, channels: Array.from({ length: 16 }, (_, i) => i) }),
  "other-network": encodeNodeInfo({ ...OUR_NODE_INFO, network: "other", moniker: "x y", version: "" }),
});

// pex: a message of the PEX channel
write("pex", {
  request: encodePexRequest(),
  addrs: encodePexAddrs([
    { id: "b".repeat(40), host: "1.2.3.4", port: 26656 },
    { id: "c".repeat(40), host: "2001:db8::1", port: 1 },
    { id: "", host: "::ffff:10.0.0.1", port: 65_535 },
  ]),
  "empty-addrs": encodePexAddrs([]),
});

// handshake: an AuthSigMessage body
const key = ed25519KeyFromSeed(bytes(32, 42));
write("handshake", {
  valid: AuthSigMessage.encode({ pubKey: { sum: { $case: "ed25519", value: key.publicKey } }, sig: key.sign(FUZZ_CHALLENGE) }).finish(),
  secp256k1: AuthSigMessage.encode({ pubKey: { sum: { $case: "secp256k1", value: bytes(33, 2) } }, sig: bytes(64, 1) }).finish(),
  "bad-signature": AuthSigMessage.encode({ pubKey: { sum: { $case: "ed25519", value: key.publicKey } }, sig: bytes(64, 9) }).finish(),
});

console.log(`seed corpus written under ${CORPUS}`);
