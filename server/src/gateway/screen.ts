/**
 * A cheap look at an AttachRequest before it is decoded. Decoding allocates
 * objects per field (an empty repeated entry costs tens of bytes of heap per
 * byte of input), so a large message is only decoded when it is one of the
 * commands that legitimately carry a large payload: send, try_send and
 * broadcast. Everything else must fit {@link MAX_CONTROL_MESSAGE_BYTES}.
 * The scan walks tags and skips bodies; it allocates nothing.
 */
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** Largest AttachRequest that is not a message-carrying command. */
export const MAX_CONTROL_MESSAGE_BYTES = 64 * 1024;

const ATTACH_COMMAND_FIELD = 4;
const COMMAND_REQUEST_ID_FIELD = 1;
/** Command.kind cases that carry a message payload: send, try_send, broadcast. */
const PAYLOAD_COMMAND_FIELDS = new Set([2, 3, 4]);

/** Null when `raw` may be decoded; otherwise why not. */
export function screenAttachRequest(raw: Uint8Array): string | null {
  if (raw.length <= MAX_CONTROL_MESSAGE_BYTES) return null;
  const refuse = `${raw.length} bytes: only send, try_send and broadcast commands may exceed ${MAX_CONTROL_MESSAGE_BYTES} bytes`;
  try {
    const outer = new BinaryReader(raw);
    while (outer.pos < outer.len) {
      const [field, wireType] = outer.tag();
      if (field !== ATTACH_COMMAND_FIELD || wireType !== WireType.LengthDelimited) return refuse;
      const cmd = new BinaryReader(outer.bytes());
      while (cmd.pos < cmd.len) {
        const [f, w] = cmd.tag();
        if (f === COMMAND_REQUEST_ID_FIELD && w === WireType.Varint) cmd.skip(w);
        else if (PAYLOAD_COMMAND_FIELDS.has(f) && w === WireType.LengthDelimited) cmd.skip(w);
        else return refuse;
      }
    }
    return null;
  } catch (err) {
    return `malformed message (${(err as Error).message})`;
  }
}
