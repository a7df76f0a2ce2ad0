/**
 * What the SDK writes on one Attach call, coalesced: the acks, credit and
 * commands the engine emits during one turn of the event loop go to the node
 * as one RequestBatch (applied there as if sent one by one: the ack, then the
 * credit, then the commands in order), written at the end of the turn
 * (`setImmediate`). A batch that would pass the node's `max_batch_commands`
 * commands, its `max_batch_payload_bytes` payload bytes or its
 * `max_message_bytes` is written at once and a new one begins, and so is one
 * that holds a command without a payload and would pass its
 * `max_control_request_bytes` (the node's screen); a lone part goes as the
 * plain message it is. The limits are the node's, told in Registered
 * ({@link limitsFromRegistered}); until then, or from a node that tells none,
 * {@link FALLBACK_LIMITS}.
 *
 * Coalescing keeps the node's view the same: acks are cumulative (the last
 * one covers the others), credits add up, and commands keep their order.
 * Moving an ack or a credit ahead of commands written before it in the same
 * turn changes nothing the node could tell apart.
 *
 * Bounded: at most one batch waits here, and the engine bounds the commands
 * in flight (`maxInflightCommands`, `maxInflightCommandBytes`).
 *
 * @internal
 */
import { type AttachRequest, Command, type Credit, type Limits } from "../gen/switchboard/gateway/v1/gateway.js";

/** What the node accepts on an Attach stream (the proto's Limits, every field set). */
export interface ProtocolLimits {
  /** Most commands in one RequestBatch (beyond it the node refuses each command of the batch). */
  readonly maxBatchCommands: number;
  /** Most payload bytes of commands in one RequestBatch; a larger command goes alone. */
  readonly maxBatchPayloadBytes: number;
  /** Largest request the node decodes unless send, try_send and broadcast payloads make it large. */
  readonly maxControlRequestBytes: number;
  /** Largest gRPC message the node receives. */
  readonly maxMessageBytes: number;
}

/**
 * What nodes enforced before they told their limits in Registered: used only
 * for a node that sends none. Every other value comes from the node.
 */
export const FALLBACK_LIMITS: ProtocolLimits = Object.freeze({
  maxBatchCommands: 1024,
  maxBatchPayloadBytes: 1024 * 1024,
  maxControlRequestBytes: 64 * 1024,
  maxMessageBytes: 110 * 1024 * 1024,
});

/** The limits a Registered told: each field the node set, the fallback for the others (an older node sets none). */
export function limitsFromRegistered(told: Limits | undefined): ProtocolLimits {
  const pick = (v: number | undefined, fallback: number): number => (v !== undefined && v > 0 ? v : fallback);
  return {
    maxBatchCommands: pick(told?.maxBatchCommands, FALLBACK_LIMITS.maxBatchCommands),
    maxBatchPayloadBytes: pick(told?.maxBatchPayloadBytes, FALLBACK_LIMITS.maxBatchPayloadBytes),
    maxControlRequestBytes: pick(told?.maxControlRequestBytes, FALLBACK_LIMITS.maxControlRequestBytes),
    maxMessageBytes: pick(told?.maxMessageBytes, FALLBACK_LIMITS.maxMessageBytes),
  };
}

/** What a RequestBatch adds around its commands at most: request framing, an ack and a credit (43 bytes; some slack). */
const REQUEST_OVERHEAD_BYTES = 64;

const MAX_UINT32 = 0xffff_ffff;

/** Send, try_send and broadcast: the commands the node admits in requests over 64 KiB. */
export function isPayloadCommand(c: Command): boolean {
  const k = c.kind?.$case;
  return k === "send" || k === "trySend" || k === "broadcast";
}

/**
 * A command's encoded size in a batch, an upper bound: exact for commands
 * without a payload (they are rare and small), payload plus the largest
 * framing for the others (whose identifiers are short).
 */
export function commandWireBytes(c: Command): number {
  if (!isPayloadCommand(c)) return Command.encode(c).finish().length + 6;
  const k = c.kind;
  if (k?.$case === "broadcast") return k.value.message.length + 32;
  if (k?.$case === "send" || k?.$case === "trySend") return k.value.message.length + k.value.connectionId.length * 3 + k.value.peerId.length * 3 + 48;
  return 0;
}

/**
 * Why the node would end the stream for this command, whatever it is batched
 * with, or null: a command without a payload over `max_control_request_bytes`,
 * any command over `max_message_bytes`.
 */
export function commandOverLimit(c: Command, limits: ProtocolLimits): { readonly reason: "INVALID_FIELD" | "MESSAGE_TOO_LARGE"; readonly message: string } | null {
  const bytes = commandWireBytes(c) + REQUEST_OVERHEAD_BYTES;
  if (bytes > limits.maxMessageBytes) {
    return { reason: "MESSAGE_TOO_LARGE", message: `the command is over ${limits.maxMessageBytes} bytes encoded, the largest message the node receives (its grpc.max_message_bytes); it was not sent` };
  }
  if (!isPayloadCommand(c) && bytes > limits.maxControlRequestBytes) {
    return { reason: "INVALID_FIELD", message: `the command is over ${limits.maxControlRequestBytes} bytes encoded, the most the node reads for a command that is not send, try_send or broadcast` };
  }
  return null;
}

/** Payload bytes a command carries (message or peer-data value): what the SDK's in-flight byte bound counts. */
export function commandPayloadBytes(k: Command["kind"]): number {
  switch (k?.$case) {
    case "send":
    case "trySend":
    case "broadcast":
      return k.value.message.length;
    case "setPeerData":
      return k.value.value.length;
    default:
      return 0;
  }
}

export class Outbox {
  private ack: bigint | null = null;
  private credit: Credit | null = null;
  private commands: Command[] = [];
  private commandBytes = 0;
  /** Encoded size of the waiting commands (upper bound), and whether one of them has no payload. */
  private wireBytes = 0;
  private hasControl = false;
  private limits: ProtocolLimits = FALLBACK_LIMITS;
  private scheduled: NodeJS.Immediate | null = null;
  private readonly onTurnEnd = (): void => {
    this.scheduled = null;
    this.flush();
  };

  /** @param write writes one request on the call. */
  constructor(private readonly write: (req: AttachRequest) => void) {}

  /** From now on, batches keep to `limits` (what the node told in Registered). */
  setLimits(limits: ProtocolLimits): void {
    this.limits = limits;
  }

  /** Takes one request the engine emits. Register (and anything unknown) is written at once, after what waits. */
  add(req: AttachRequest): void {
    const m = req.msg;
    switch (m?.$case) {
      case "ack":
        this.ack = m.value.eventSeq;
        break;
      case "credit": {
        const c = this.credit;
        if (c !== null && c.messages + m.value.messages > MAX_UINT32) this.flush();
        this.credit = this.credit === null ? { ...m.value } : { messages: this.credit.messages + m.value.messages, bytes: this.credit.bytes + m.value.bytes };
        break;
      }
      case "command": {
        const bytes = commandPayloadBytes(m.value.kind);
        const wire = commandWireBytes(m.value);
        const control = !isPayloadCommand(m.value);
        const l = this.limits;
        const requestBytes = this.wireBytes + wire + REQUEST_OVERHEAD_BYTES;
        const overWireLimit = requestBytes > l.maxMessageBytes || ((this.hasControl || control) && requestBytes > l.maxControlRequestBytes);
        if (this.commands.length >= l.maxBatchCommands || (this.commands.length > 0 && (this.commandBytes + bytes > l.maxBatchPayloadBytes || overWireLimit))) this.flush();
        this.commands.push(m.value);
        this.commandBytes += bytes;
        this.wireBytes += wire;
        this.hasControl ||= control;
        break;
      }
      default:
        this.flush();
        this.write(req);
        return;
    }
    this.scheduled ??= setImmediate(this.onTurnEnd);
  }

  /** Writes what waits, now. */
  flush(): void {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    const { ack, credit, commands } = this;
    const parts = (ack === null ? 0 : 1) + (credit === null ? 0 : 1) + commands.length;
    if (parts === 0) return;
    this.clear();
    if (parts === 1) {
      if (ack !== null) this.write({ msg: { $case: "ack", value: { eventSeq: ack } } });
      else if (credit !== null) this.write({ msg: { $case: "credit", value: credit } });
      else this.write({ msg: { $case: "command", value: commands[0] as Command } });
      return;
    }
    this.write({ msg: { $case: "batch", value: { ack: ack === null ? undefined : { eventSeq: ack }, credit: credit ?? undefined, commands } } });
  }

  /** Drops what waits (the call is over). */
  discard(): void {
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.clear();
  }

  /** Empties the pending batch. */
  private clear(): void {
    this.ack = null;
    this.credit = null;
    this.commands = [];
    this.commandBytes = 0;
    this.wireBytes = 0;
    this.hasControl = false;
  }
}
