/**
 * Sequence-numbered message streams for the fault tests: what a sender puts
 * in each message, and the checks on what receivers got.
 *
 * A stream is one sender connection on one channel. Its key names the
 * sender's node instance, its connection and the channel, so it is unique for
 * the whole test; its messages carry 1, 2, 3, ... in the order `send`
 * accepted them.
 */

/** `seq (u32 BE) || keyLength (u8) || key || filler`. */
export function encodeSeqMessage(key: string, seq: number, size: number): Uint8Array {
  const k = Buffer.from(key, "utf8");
  const out = new Uint8Array(Math.max(5 + k.length, size));
  new DataView(out.buffer).setUint32(0, seq);
  out[4] = k.length;
  out.set(k, 5);
  return out;
}

export function decodeSeqMessage(message: Uint8Array): { key: string; seq: number } | null {
  if (message.length < 5) return null;
  const len = message[4] as number;
  if (message.length < 5 + len) return null;
  return {
    seq: new DataView(message.buffer, message.byteOffset, message.byteLength).getUint32(0),
    key: Buffer.from(message.subarray(5, 5 + len)).toString("utf8"),
  };
}

/** One message as a receiver saw it. */
export interface Delivery {
  /** Which reactor instance (or remote session) received it. */
  readonly receiver: string;
  /** The receiver's connection ID. */
  readonly connection: string;
  readonly key: string;
  readonly seq: number;
}

/**
 * Checks every stream: per receiver, connection and key, the sequence numbers
 * must be exactly 1, 2, 3, ... — in order, none twice, none skipped (a broken
 * connection loses a suffix, nothing else) — and a key must reach one
 * receiver connection only. `clean` maps the keys of streams closed cleanly to
 * the number of messages the sender had queued: those must have arrived
 * whole. Returns a list of violations (empty when all holds).
 */
export function checkStreams(deliveries: readonly Delivery[], clean: ReadonlyMap<string, number>): string[] {
  const problems: string[] = [];
  const last = new Map<string, number>();
  const where = new Map<string, string>();
  for (const d of deliveries) {
    const at = `${d.receiver}/${d.connection}`;
    const seen = where.get(d.key);
    if (seen === undefined) where.set(d.key, at);
    else if (seen !== at) problems.push(`stream ${d.key} reached two connections: ${seen} and ${at}`);
    const prev = last.get(d.key) ?? 0;
    if (d.seq !== prev + 1) problems.push(`stream ${d.key} at ${at}: seq ${d.seq} after ${prev}${d.seq <= prev ? " (duplicate or reordered)" : " (gap)"}`);
    last.set(d.key, Math.max(prev, d.seq));
  }
  for (const [key, sent] of clean) {
    const got = last.get(key) ?? 0;
    if (got !== sent) problems.push(`stream ${key} closed cleanly after ${sent} messages, but ${got} arrived`);
  }
  return problems;
}
