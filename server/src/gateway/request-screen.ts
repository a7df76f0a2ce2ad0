/**
 * A cheap look at an AttachRequest before it is decoded. Decoding allocates
 * objects per field (an empty repeated entry costs tens of bytes of heap per
 * byte of input), so a large message is only decoded when what makes it large
 * is message payloads: a send, try_send or broadcast command, or a
 * RequestBatch whose ack and credit are small and whose commands are all such
 * commands, not too many of them. Everything else must fit
 * {@link MAX_CONTROL_MESSAGE_BYTES}.
 *
 * The scan walks tags and lengths over the bytes with integer cursors and
 * skips bodies: it allocates nothing (except the string of a refusal), and its
 * work is bounded by the number of tags it reads.
 */

/** Largest AttachRequest that is not made large by message payloads. */
export const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;
/** Most commands one RequestBatch may run (the proto's limit); beyond it every command of the batch is answered with INVALID_ARGUMENT. */
export const MAX_BATCH_COMMANDS = 1024;
/**
 * Most commands a request over {@link MAX_CONTROL_MESSAGE_BYTES} may carry and
 * still be decoded: a batch that went a little over {@link MAX_BATCH_COMMANDS}
 * still gets an answer per command, while a flood of tiny commands in one huge
 * message cannot make the node decode millions of objects (the stream ends).
 */
export const MAX_LARGE_REQUEST_COMMANDS = 4 * MAX_BATCH_COMMANDS;
/** Most fields in the body of a large send, try_send or broadcast (Send has 5; an encoder writes each once). */
export const MAX_PAYLOAD_COMMAND_FIELDS = 8;
/** Largest ack or credit inside a batch over {@link MAX_CONTROL_MESSAGE_BYTES} (an Ack encodes in at most 11 bytes, a Credit in 17). */
export const MAX_BATCH_PART_BYTES = 32;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

const ATTACH_COMMAND_FIELD = 4;
const ATTACH_BATCH_FIELD = 5;
const BATCH_ACK_FIELD = 1;
const BATCH_CREDIT_FIELD = 2;
const BATCH_COMMANDS_FIELD = 3;
const COMMAND_REQUEST_ID_FIELD = 1;
/** Command.kind cases that carry a message payload: send (2), try_send (3), broadcast (4). */
const isPayloadCommandField = (f: number): boolean => f === 2 || f === 3 || f === 4;

// The scan's cursor and last varint, as module state: the scan is synchronous
// and not re-entrant, and this keeps it free of per-tag allocations.
let pos = 0;
let varint = 0;

/** Reads a varint of at most 5 bytes (tags and lengths) at `pos`; false when malformed or past `end`. */
function readVarint32(buf: Uint8Array, end: number): boolean {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (pos >= end) return false;
    const b = buf[pos++] as number;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      varint = value;
      return true;
    }
    scale *= 128;
  }
  return false;
}

/** Skips a field's body of `wireType` at `pos`; false when malformed or past `end`. */
function skipBody(buf: Uint8Array, end: number, wireType: number): boolean {
  switch (wireType) {
    case WIRE_VARINT:
      for (let i = 0; i < 10; i++) {
        if (pos >= end) return false;
        if ((buf[pos++] as number) < 0x80) return true;
      }
      return false;
    case WIRE_FIXED64:
      pos += 8;
      return pos <= end;
    case WIRE_FIXED32:
      pos += 4;
      return pos <= end;
    case WIRE_LENGTH_DELIMITED:
      if (!readVarint32(buf, end)) return false;
      pos += varint;
      return pos <= end;
    default:
      return false; // groups are not part of our schema
  }
}

/** Outcome of screening one sub-message. */
const OK = 0;
const MALFORMED = 1;
const NOT_SMALL = 2;

/**
 * A Command in [pos, end): a request_id and one payload-carrying kind, whose
 * body has at most {@link MAX_PAYLOAD_COMMAND_FIELDS} fields (a repeated field
 * decodes again on each occurrence, so a body of a million tiny fields would
 * cost a million decodes).
 */
function screenCommand(buf: Uint8Array, end: number): number {
  let kinds = 0;
  while (pos < end) {
    if (!readVarint32(buf, end)) return MALFORMED;
    const field = Math.floor(varint / 8);
    const wireType = varint & 7;
    if (field === COMMAND_REQUEST_ID_FIELD && wireType === WIRE_VARINT) {
      if (!skipBody(buf, end, wireType)) return MALFORMED;
      continue;
    }
    if (!isPayloadCommandField(field) || wireType !== WIRE_LENGTH_DELIMITED || ++kinds > 1) return NOT_SMALL;
    if (!readVarint32(buf, end) || pos + varint > end) return MALFORMED;
    const bodyEnd = pos + varint;
    for (let fields = 0; pos < bodyEnd; fields++) {
      if (fields === MAX_PAYLOAD_COMMAND_FIELDS) return NOT_SMALL;
      if (!readVarint32(buf, bodyEnd)) return MALFORMED;
      if (!skipBody(buf, bodyEnd, varint & 7)) return MALFORMED;
    }
  }
  return OK;
}

function tooManyCommands(bytes: number): string {
  return `${bytes} bytes with more than ${MAX_LARGE_REQUEST_COMMANDS} commands: a batch runs at most ${MAX_BATCH_COMMANDS}, and a request over ${MAX_CONTROL_MESSAGE_BYTES} bytes may not carry more than ${MAX_LARGE_REQUEST_COMMANDS}`;
}

/**
 * Null when `raw` may be decoded; otherwise why not (the stream then ends
 * with INVALID_ARGUMENT).
 */
export function screenAttachRequest(raw: Uint8Array): string | null {
  if (raw.length <= MAX_CONTROL_MESSAGE_BYTES) return null;
  const end = raw.length;
  let commands = 0;
  let batches = 0;
  let problem = OK;
  pos = 0;
  scan: while (pos < end) {
    if (!readVarint32(raw, end)) {
      problem = MALFORMED;
      break;
    }
    const field = Math.floor(varint / 8);
    const wireType = varint & 7;
    if (wireType !== WIRE_LENGTH_DELIMITED || (field !== ATTACH_COMMAND_FIELD && field !== ATTACH_BATCH_FIELD)) {
      problem = NOT_SMALL;
      break;
    }
    if (!readVarint32(raw, end) || pos + varint > end) {
      problem = MALFORMED;
      break;
    }
    const bodyEnd = pos + varint;
    if (field === ATTACH_COMMAND_FIELD) {
      if (++commands > MAX_LARGE_REQUEST_COMMANDS) return tooManyCommands(raw.length);
      problem = screenCommand(raw, bodyEnd);
      if (problem !== OK) break;
      continue;
    }
    // A RequestBatch: at most one per request, with at most one ack and one credit, each small.
    if (++batches > 1) {
      problem = NOT_SMALL;
      break;
    }
    let acks = 0;
    let credits = 0;
    while (pos < bodyEnd) {
      if (!readVarint32(raw, bodyEnd)) {
        problem = MALFORMED;
        break scan;
      }
      const f = Math.floor(varint / 8);
      const w = varint & 7;
      if (w !== WIRE_LENGTH_DELIMITED) {
        problem = NOT_SMALL;
        break scan;
      }
      if (!readVarint32(raw, bodyEnd) || pos + varint > bodyEnd) {
        problem = MALFORMED;
        break scan;
      }
      const partEnd = pos + varint;
      if (f === BATCH_COMMANDS_FIELD) {
        if (++commands > MAX_LARGE_REQUEST_COMMANDS) return tooManyCommands(raw.length);
        problem = screenCommand(raw, partEnd);
        if (problem !== OK) break scan;
      } else if ((f === BATCH_ACK_FIELD && ++acks === 1) || (f === BATCH_CREDIT_FIELD && ++credits === 1)) {
        if (partEnd - pos > MAX_BATCH_PART_BYTES) {
          problem = NOT_SMALL;
          break scan;
        }
        pos = partEnd;
      } else {
        problem = NOT_SMALL;
        break scan;
      }
    }
  }
  if (problem === MALFORMED) return "malformed message (a tag or length runs past its end)";
  if (problem === NOT_SMALL) {
    return `${raw.length} bytes: only send, try_send and broadcast commands may exceed ${MAX_CONTROL_MESSAGE_BYTES} bytes (alone, or in a batch with at most one small ack and credit)`;
  }
  return null;
}
