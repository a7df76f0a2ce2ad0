/**
 * The benchmark message, byte for byte what the Go reference sends: a
 * CometBFT mempool `Message{txs: Txs{txs: [tx]}}` holding one tx of `size`
 * bytes. The tx's first 8 bytes are the send time (LE uint64 nanoseconds of
 * CLOCK_MONOTONIC, `process.hrtime.bigint()`, the same clock in every process
 * of the machine), the next 8 a sequence number.
 *
 * Sizes in every result are tx sizes; the message adds 4 to 8 bytes.
 */
import { putUvarint, uvarintSize } from "../../server/src/wire/varint.js";

/** The one channel every scenario uses (Go: `benchChannel`). */
export const BENCH_CHANNEL = 0x40;

const TAG_TXS = 0x0a; // Message.txs (field 1, bytes) and Txs.txs (field 1, repeated bytes)

/** Offset of the tx inside an encoded message of a tx of `size` bytes. */
export function txOffset(size: number): number {
  const inner = 1 + uvarintSize(size) + size;
  return 1 + uvarintSize(inner) + 1 + uvarintSize(size);
}

/** A message template: stamp a copy of it per send (sent messages are kept by reference until written). */
export function encodeTxMessage(size: number): Buffer {
  const inner = 1 + uvarintSize(size) + size;
  const out = Buffer.alloc(1 + uvarintSize(inner) + inner);
  let o = 0;
  out[o++] = TAG_TXS;
  o = putUvarint(out, o, inner);
  out[o++] = TAG_TXS;
  o = putUvarint(out, o, size);
  for (let i = 0; i < size; i++) out[o + i] = (i * 31 + 7) & 0xff;
  return out;
}

/** Nanoseconds of the machine's monotonic clock. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** A fresh copy of `template` with the send time and `seq` written into its tx. */
export function stampedCopy(template: Buffer, txAt: number, seq: number): Buffer {
  const m = Buffer.allocUnsafe(template.length);
  template.copy(m);
  stamp(m, txAt, seq);
  return m;
}

/** Writes the send time and `seq` into the tx at `txAt` (when the tx has room). */
export function stamp(message: Uint8Array, txAt: number, seq: number): void {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const room = message.length - txAt;
  if (room >= 8) view.setBigUint64(txAt, nowNs(), true);
  if (room >= 16) view.setBigUint64(txAt + 8, BigInt(seq), true);
}

/**
 * Decodes a received message as a reactor would (the two length prefixes)
 * and returns where its tx starts and how long it is; throws on anything else.
 */
export function decodeTx(message: Uint8Array): { at: number; size: number } {
  let p = 0;
  if (message[p++] !== TAG_TXS) throw new Error("not a mempool Message{txs}");
  p = skipVarint(message, p);
  if (message[p++] !== TAG_TXS) throw new Error("not a Txs{txs}");
  let size = 0;
  let mul = 1;
  for (;;) {
    const b = message[p++];
    if (b === undefined) throw new Error("truncated tx length");
    size += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 128;
  }
  if (p + size > message.length) throw new Error("tx runs past the message");
  return { at: p, size };
}

function skipVarint(buf: Uint8Array, pos: number): number {
  let p = pos;
  while (((buf[p] ?? 0) & 0x80) !== 0) p++;
  return p + 1;
}

/** The send time written by {@link stamp}. */
export function sentAtNs(message: Uint8Array, txAt: number): bigint {
  return new DataView(message.buffer, message.byteOffset, message.byteLength).getBigUint64(txAt, true);
}

/** The sequence number written by {@link stamp}. */
export function sequenceOf(message: Uint8Array, txAt: number): number {
  return Number(new DataView(message.buffer, message.byteOffset, message.byteLength).getBigUint64(txAt + 8, true));
}
