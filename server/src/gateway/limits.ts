/**
 * The limits a node tells every reactor in `Registered` (the proto's
 * `Limits`), so that SDKs obey the node they talk to instead of copies of
 * its numbers. Each value is owned where it is enforced; this file only
 * gathers them, and owns the one value the node advises but does not
 * enforce (the payload bytes per RequestBatch).
 */
import type { Limits } from "../gen/switchboard/gateway/v1/gateway.js";
import { MAX_BATCH_COMMANDS, MAX_CONTROL_MESSAGE_BYTES } from "./request-screen.js";

/**
 * Payload bytes a client should put in one RequestBatch at most (a larger
 * command goes alone): 1 MiB, as the node's own event batches. The
 * per-message cost is amortized long before (the bench measured no
 * difference between 64 KiB and 4 MiB); a smaller batch reaches the node,
 * and its first command runs, sooner.
 */
export const MAX_REQUEST_BATCH_PAYLOAD_BYTES = 1024 * 1024;

/** The Limits of a gateway whose gRPC messages are at most `maxMessageBytes`. */
export function protocolLimits(maxMessageBytes: number): Limits {
  return {
    maxBatchCommands: MAX_BATCH_COMMANDS,
    maxBatchPayloadBytes: MAX_REQUEST_BATCH_PAYLOAD_BYTES,
    maxControlRequestBytes: MAX_CONTROL_MESSAGE_BYTES,
    maxMessageBytes,
  };
}
