/**
 * The encoder of AttachResponses on the hot path, byte for byte what the
 * generated `AttachResponse.encode` writes, in one allocation.
 *
 * The generated encoder writes nested messages into a growing buffer and,
 * for every nested message of 128 bytes or more, moves the bytes already
 * written to widen its length prefix: a Receive's payload is copied once per
 * nesting level (Receive, Event, EventBatch, AttachResponse), plus the
 * buffer's growth and the final slice. Here the sizes are computed first and
 * each payload is copied once, into a buffer of the exact size.
 *
 * Event batches take this path (Receive events written field by field; the
 * few other events through the generated encoder, then copied whole);
 * everything else goes through the generated encoder.
 */
import { AttachResponse, Event } from "../gen/switchboard/gateway/v1/gateway.js";
import { putUvarint, uvarintSize } from "../wire/varint.js";

const TAG_ATTACH_EVENTS = (2 << 3) | 2;
const TAG_BATCH_EVENT = (1 << 3) | 2;
const TAG_EVENT_SEQ = (1 << 3) | 0;
const TAG_EVENT_RECEIVE = (5 << 3) | 2;
const TAG_RECEIVE_CONNECTION_ID = (1 << 3) | 2;
const TAG_RECEIVE_PEER_ID = (2 << 3) | 2;
const TAG_RECEIVE_CHANNEL_ID = (3 << 3) | 0;
const TAG_RECEIVE_MESSAGE = (4 << 3) | 2;

/**
 * The UTF-8 bytes of the last few peer and connection IDs written. A batch's
 * Receive events mostly come from a handful of connections, and the same
 * string object each time, so the lookup is a pointer comparison; a miss
 * encodes the string and replaces the oldest entry. Fixed size: nothing
 * accumulates.
 */
class Utf8Cache {
  private readonly strings: string[];
  private readonly bytes: Buffer[];
  private next = 0;

  constructor(size: number) {
    this.strings = new Array<string>(size).fill("");
    this.bytes = new Array<Buffer>(size).fill(Buffer.alloc(0));
  }

  get(s: string): Buffer {
    const strings = this.strings;
    for (let i = 0; i < strings.length; i++) if (strings[i] === s) return this.bytes[i] as Buffer;
    const b = Buffer.from(s, "utf8");
    const slot = this.next;
    strings[slot] = s;
    this.bytes[slot] = b;
    this.next = (slot + 1) % strings.length;
    return b;
  }
}
const ids = new Utf8Cache(8);

/** Sizes of one event while encoding a batch: kept in parallel arrays, reused between calls (encoding is synchronous). */
const scratch = { receiveSize: [] as number[], eventSize: [] as number[], conn: [] as Buffer[], peer: [] as Buffer[], other: [] as (Uint8Array | null)[] };

/** Encodes `res` as `AttachResponse.encode(res).finish()` would, into a Buffer of its own. */
export function encodeAttachResponse(res: AttachResponse): Buffer {
  const m = res.msg;
  if (m?.$case === "events") {
    const fast = encodeEvents(m.value.events);
    if (fast !== null) return fast;
  }
  const bytes = AttachResponse.encode(res).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Null when an event does not fit the fast path (a sequence number past 2^53). */
function encodeEvents(events: readonly Event[]): Buffer | null {
  const n = events.length;
  const { receiveSize, eventSize, conn: connBytes, peer: peerBytes, other } = scratch;
  let batchSize = 0;
  for (let i = 0; i < n; i++) {
    const e = events[i] as Event;
    const k = e.kind;
    if (e.seq > BigInt(Number.MAX_SAFE_INTEGER)) return null;
    const seq = Number(e.seq);
    let size = seq === 0 ? 0 : 1 + uvarintSize(seq);
    if (k?.$case === "receive") {
      const r = k.value;
      const c = ids.get(r.connectionId);
      const p = ids.get(r.peerId);
      const conn = c.length;
      const peer = p.length;
      let rs = 0;
      if (conn > 0) rs += 1 + uvarintSize(conn) + conn;
      if (peer > 0) rs += 1 + uvarintSize(peer) + peer;
      if (r.channelId !== 0) rs += 1 + uvarintSize(r.channelId);
      if (r.message.length > 0) rs += 1 + uvarintSize(r.message.length) + r.message.length;
      size += 1 + uvarintSize(rs) + rs;
      receiveSize[i] = rs;
      connBytes[i] = c;
      peerBytes[i] = p;
      other[i] = null;
    } else {
      // Lifecycle events: rare and small; the generated encoder, without the seq (written here).
      const bytes = k === undefined ? new Uint8Array(0) : encodeKindOnly(e);
      other[i] = bytes;
      size += bytes.length;
    }
    eventSize[i] = size;
    batchSize += 1 + uvarintSize(size) + size;
  }
  const total = 1 + uvarintSize(batchSize) + batchSize;
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  buf[pos++] = TAG_ATTACH_EVENTS;
  pos = putUvarint(buf, pos, batchSize);
  for (let i = 0; i < n; i++) {
    const e = events[i] as Event;
    buf[pos++] = TAG_BATCH_EVENT;
    pos = putUvarint(buf, pos, eventSize[i] as number);
    const seq = Number(e.seq);
    if (seq !== 0) {
      buf[pos++] = TAG_EVENT_SEQ;
      pos = putUvarint(buf, pos, seq);
    }
    const bytes = other[i];
    if (bytes !== null && bytes !== undefined) {
      buf.set(bytes, pos);
      pos += bytes.length;
      other[i] = null;
      continue;
    }
    const k = e.kind;
    if (k?.$case !== "receive") continue; // unreachable: sized above as a Receive
    const r = k.value;
    buf[pos++] = TAG_EVENT_RECEIVE;
    pos = putUvarint(buf, pos, receiveSize[i] as number);
    const conn = connBytes[i] as Buffer;
    if (conn.length > 0) {
      buf[pos++] = TAG_RECEIVE_CONNECTION_ID;
      pos = putUvarint(buf, pos, conn.length);
      buf.set(conn, pos);
      pos += conn.length;
    }
    const peer = peerBytes[i] as Buffer;
    if (peer.length > 0) {
      buf[pos++] = TAG_RECEIVE_PEER_ID;
      pos = putUvarint(buf, pos, peer.length);
      buf.set(peer, pos);
      pos += peer.length;
    }
    if (r.channelId !== 0) {
      buf[pos++] = TAG_RECEIVE_CHANNEL_ID;
      pos = putUvarint(buf, pos, r.channelId);
    }
    if (r.message.length > 0) {
      buf[pos++] = TAG_RECEIVE_MESSAGE;
      pos = putUvarint(buf, pos, r.message.length);
      buf.set(r.message, pos);
      pos += r.message.length;
    }
  }
  if (pos !== total) throw new Error(`event batch encoding wrote ${pos} of ${total} bytes`);
  return buf;
}

/** An event's `kind` field (tag, length, body) as the generated encoder writes it. */
function encodeKindOnly(e: Event): Uint8Array {
  // Event.encode writes seq (field 1) first, then the kind: encode with seq 0 (omitted) to get the kind alone.
  return Event.encode({ seq: 0n, kind: e.kind }).finish();
}
