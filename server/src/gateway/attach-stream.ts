/**
 * One Attach stream: the node's side of a remote reactor's bidirectional
 * gRPC call, with its state in fields. It reads AttachRequests (screened,
 * then decoded), registers the reactor, applies acks and credit, runs
 * commands and writes their results; the reactor's events reach the call
 * through the EventSink it attaches.
 *
 * It knows nothing of grpc-js servers: it is driven through {@link receive},
 * {@link drained} and {@link close} and writes to an {@link AttachCall}, the
 * few methods of a grpc-js server stream it uses, so tests drive it with a
 * fake call and no server (`server/test/gateway/attach-stream.test.ts`).
 *
 * Per stream:
 * - Requests before Register: a command is answered NOT_REGISTERED; an ack
 *   or a credit ends the stream (FAILED_PRECONDITION).
 * - A RequestBatch applies as if sent one by one: the ack, the credit, then
 *   each command in order; one of more than {@link MAX_BATCH_COMMANDS}
 *   commands runs none of them (each answered INVALID_ARGUMENT).
 * - Commands that do not complete at once (a Send waiting for queue room, a
 *   Broadcast) are counted; beyond {@link MAX_INFLIGHT_COMMANDS_PER_STREAM}
 *   a command is answered RESOURCE_EXHAUSTED. The count is this stream's
 *   alone, and the one the `commands_in_progress` gauge reads.
 */
import { type ServiceError, status as GrpcStatus } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { AttachRequest, type AttachResponse, type Command, ErrorReason, type Event, type Limits, type Register } from "../gen/switchboard/gateway/v1/gateway.js";
import { type CommandOutcome, runCommand } from "./commands.js";
import { nodeInfoToApi } from "./convert.js";
import { ATTACH_REGISTER_DEADLINE_MS } from "./defaults.js";
import { GatewayError, failedPrecondition, invalidField } from "./errors.js";
import type { EventSink, RemoteReactor } from "./remote-reactor.js";
import { MAX_BATCH_COMMANDS, screenAttachRequest } from "./request-screen.js";
import { ResultWriter } from "./results.js";
import type { Identity } from "./security.js";
import { toCommandError, toServiceError } from "./status-mapping.js";

/** Commands in progress on one stream; beyond it a command is refused with RESOURCE_EXHAUSTED. */
export const MAX_INFLIGHT_COMMANDS_PER_STREAM = 1024;
/**
 * How long an Attach call without valid credentials is held before the node
 * refuses it. It is refused on its headers (GatewayAuth.interceptor): none of
 * its requests is read; the wait only lets a client that writes Register at
 * once finish that write (into HTTP/2 flow control) and then read the
 * refusal, instead of racing its write against the end of the stream.
 * grpc-python's asyncio client loses that race about one time in two: the
 * failed write replaces the node's status with `INTERNAL: Internal error from
 * Core` (grpc/grpc#36066). (An AttachStream built with a refused identity, in
 * tests, answers on its first request or after this wait.)
 */
export const ATTACH_REFUSAL_WAIT_MS = 1_000;

/** The parts of a grpc-js server duplex stream an Attach stream uses. */
export interface AttachCall {
  write(res: AttachResponse): boolean;
  /** True after `write()` returned false and until `'drain'`. */
  readonly writableNeedDrain: boolean;
  /** Ends the call with status OK. */
  end(): void;
  /** Stops (and resumes) reading requests. */
  pause(): unknown;
  resume(): unknown;
  /** The client's address, for logs. */
  getPeer(): string;
  /** grpc-js ends a server call with an error status when it emits `'error'` with the status. */
  emit(event: "error", status: Partial<ServiceError>): boolean;
}

/** Where a stream registers its reactor (the gateway's {@link ReactorRegistry}). */
export interface Registrar {
  register(reg: Register, identity: Identity | null, log: Logger, attach: (rr: RemoteReactor) => void): RemoteReactor;
}

/** Optional observations of a stream, for metrics. */
export interface AttachStreamObserver {
  /** A RequestBatch arrived carrying `commands` commands. */
  requestBatch?(commands: number): void;
  /** A ResultBatch of `results` results was written. */
  resultBatch?(results: number): void;
  /** A request was refused before decoding (too large for its kind, or malformed). */
  requestRefused?(): void;
  /** The stream was ended because it sent no Register within ATTACH_REGISTER_DEADLINE_MS. */
  registerDeadlineMissed?(): void;
}

export interface AttachStreamOptions {
  readonly registrar: Registrar;
  /** What Registered tells the client it must keep to (limits.ts). */
  readonly limits: Limits;
  /** The caller's identity (null: no credentials configured), or why the call is refused. */
  readonly identity: { readonly ok: true; readonly identity: Identity | null } | { readonly ok: false; readonly error: unknown };
  readonly logger: Logger;
  readonly observer?: AttachStreamObserver;
  /** Overrides ATTACH_REGISTER_DEADLINE_MS (tests). */
  readonly registerDeadlineMs?: number;
  /** Called once the stream has closed and none of its commands is in progress any more. */
  readonly onRetired?: (stream: AttachStream) => void;
}

export class AttachStream {
  private rr: RemoteReactor | null = null;
  private sink: EventSink | null = null;
  private inflight = 0;
  private closed = false;
  private retired = false;
  private refusalTimer: NodeJS.Timeout | null = null;
  /** Ends a stream that has not sent Register in time; cleared by its first Register. */
  private registerTimer: NodeJS.Timeout | null = null;
  private readonly refusal: { readonly error: unknown } | null;
  private readonly identity: Identity | null;
  private readonly results: ResultWriter;
  private readonly log: Logger;
  private readonly observer: AttachStreamObserver;

  constructor(
    private readonly call: AttachCall,
    private readonly options: AttachStreamOptions,
  ) {
    this.log = options.logger.child({ peer: call.getPeer() });
    this.observer = options.observer ?? {};
    this.results = new ResultWriter(call, (n) => this.observer.resultBatch?.(n));
    if (options.identity.ok) {
      this.identity = options.identity.identity;
      this.refusal = null;
      const deadlineMs = options.registerDeadlineMs ?? ATTACH_REGISTER_DEADLINE_MS;
      this.registerTimer = setTimeout(() => {
        this.registerTimer = null;
        if (this.rr !== null || this.closed) return;
        this.observer.registerDeadlineMissed?.();
        this.fail(new GatewayError(GrpcStatus.DEADLINE_EXCEEDED, ErrorReason.ERROR_REASON_NOT_REGISTERED, `no Register within ${deadlineMs} ms of the stream's start: send Register first`));
      }, deadlineMs);
      this.registerTimer.unref();
    } else {
      // Refused: answered once the first request arrives, or after ATTACH_REFUSAL_WAIT_MS (see there).
      this.identity = null;
      this.refusal = { error: options.identity.error };
      this.refusalTimer = setTimeout(() => {
        this.refuse();
      }, ATTACH_REFUSAL_WAIT_MS);
    }
  }

  /** True once the stream has ended, either way. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** The reactor this stream registered, once it has. */
  get reactor(): RemoteReactor | null {
    return this.rr;
  }

  /** Commands of this stream waiting to complete (a Send waiting for queue room, a Broadcast). */
  get commandsInProgress(): number {
    return this.inflight;
  }

  /** Command results waiting for the call's buffer to drain. */
  get resultsWaiting(): number {
    return this.results.waiting;
  }

  /** True while the call is not read until its buffer drains. */
  get readingPaused(): boolean {
    return this.results.readingPaused;
  }

  /** One AttachRequest, as the client's bytes. */
  receive(raw: Buffer): void {
    if (this.closed) return;
    if (this.refusal !== null) {
      this.refuse();
      return;
    }
    const refusal = screenAttachRequest(raw);
    if (refusal !== null) {
      this.observer.requestRefused?.();
      this.fail(invalidField("AttachRequest", refusal));
      return;
    }
    let req: AttachRequest;
    try {
      req = AttachRequest.decode(raw);
    } catch (err) {
      this.fail(invalidField("AttachRequest", `malformed message (${(err as Error).message})`));
      return;
    }
    const m = req.msg;
    if (m === undefined) {
      this.fail(invalidField("AttachRequest.msg", "not set"));
      return;
    }
    try {
      switch (m.$case) {
        case "register":
          this.register(m.value);
          return;
        case "ack":
          this.applyAck(m.value.eventSeq, "ack");
          return;
        case "credit":
          this.applyCredit(m.value.messages, m.value.bytes, "credit");
          return;
        case "command":
          this.runOne(m.value);
          return;
        case "batch": {
          // As if sent one by one: the ack, then the credit, then each command in order.
          const b = m.value;
          this.observer.requestBatch?.(b.commands.length);
          if (b.ack !== undefined) this.applyAck(b.ack.eventSeq, "batch.ack");
          if (b.credit !== undefined) this.applyCredit(b.credit.messages, b.credit.bytes, "batch.credit");
          if (b.commands.length > MAX_BATCH_COMMANDS) {
            const err = invalidField("batch.commands", `${b.commands.length} commands exceed the limit of ${MAX_BATCH_COMMANDS} per batch; none of them ran`);
            for (const cmd of b.commands) this.reply(cmd.requestId, null, err);
            return;
          }
          for (const cmd of b.commands) {
            // A command may end the stream (stopping a peer can overflow this reactor's lifecycle backlog).
            if (this.isClosed) return;
            this.runOne(cmd);
          }
          return;
        }
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** The call's buffer drained: results first (they are few and small, and events would refill the buffer before them). */
  drained(): void {
    this.results.drained();
    this.rr?.drained();
  }

  /**
   * The client ended the stream, cancelled it, or went away (grpc-js reports
   * these by several events, in no reliable order: one reason for them all).
   * The reactor's session waits for a resume.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearRefusalTimer();
    this.results.close();
    const rr = this.rr;
    const sink = this.sink;
    if (rr !== null && sink !== null) rr.detach(sink, "the reactor closed the stream or went away", this.call.getPeer());
    this.retireIfIdle();
  }

  /** Ends the stream with the status `err` maps to. */
  fail(err: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.clearRefusalTimer();
    this.results.close();
    const st = toServiceError(err, this.log);
    const why = `${GrpcStatus[st.code ?? GrpcStatus.UNKNOWN]}: ${st.details ?? ""}`;
    // A registered reactor's drop is logged by its RemoteReactor (with the resume window).
    const rr = this.rr;
    const sink = this.sink;
    if (rr !== null && sink !== null) rr.detach(sink, `the node ended it (${why})`, this.call.getPeer());
    else this.log.info({ code: st.code, details: st.details }, "attach stream ended with an error");
    this.call.emit("error", st);
    this.retireIfIdle();
  }

  // ------------------------------------------------------------ internals

  private refuse(): void {
    if (this.refusal !== null) this.fail(this.refusal.error);
  }

  private clearRefusalTimer(): void {
    if (this.refusalTimer !== null) clearTimeout(this.refusalTimer);
    this.refusalTimer = null;
    if (this.registerTimer !== null) clearTimeout(this.registerTimer);
    this.registerTimer = null;
  }

  private retireIfIdle(): void {
    if (!this.closed || this.inflight > 0 || this.retired) return;
    this.retired = true;
    this.options.onRetired?.(this);
  }

  private register(reg: Register): void {
    if (this.rr !== null) throw invalidField("register", "this stream has already registered");
    if (this.registerTimer !== null) clearTimeout(this.registerTimer);
    this.registerTimer = null;
    const call = this.call;
    const sink: EventSink = {
      write: (events: Event[]) => call.write({ msg: { $case: "events", value: { events } } }),
      end: () => {
        call.end();
      },
      abort: (_code, message) => {
        call.emit("error", { code: GrpcStatus.RESOURCE_EXHAUSTED, details: message });
      },
    };
    const rr = this.options.registrar.register(reg, this.identity, this.log, (reactor) => {
      const credit = reg.initialCredit;
      // Hold events until Registered is written: it must come first on the stream.
      const result = reactor.attach(sink, reg.sessionToken, { messages: credit?.messages ?? 0, bytes: Number(credit?.bytes ?? 0n) });
      call.write({
        msg: {
          $case: "registered",
          value: {
            sessionToken: result.token,
            resumed: result.resumed,
            resumeRefusedReason: result.resumeRefusedReason,
            nodeInfo: nodeInfoToApi(reactor.switchApi.nodeInfo()),
            nextEventSeq: BigInt(result.nextEventSeq),
            limits: this.options.limits,
          },
        },
      });
      reactor.drained();
    });
    this.rr = rr;
    this.sink = sink;
    if (reg.batchResults) this.results.batchResults();
  }

  /** Ack (`field` names it in errors); throws what ends the stream. */
  private applyAck(eventSeq: bigint, field: string): void {
    const rr = this.rr;
    if (rr === null) throw failedPrecondition(ErrorReason.ERROR_REASON_NOT_REGISTERED, `${field} before register`);
    const problem = rr.ack(Number(eventSeq));
    if (problem !== null) throw invalidField(`${field}.event_seq`, problem);
  }

  private applyCredit(messages: number, bytes: bigint, field: string): void {
    const rr = this.rr;
    if (rr === null) throw failedPrecondition(ErrorReason.ERROR_REASON_NOT_REGISTERED, `${field} before register`);
    rr.grantCredit(messages, Number(bytes));
  }

  private reply(requestId: bigint, outcome: CommandOutcome | null, err: unknown): void {
    if (this.closed) return;
    this.results.add(outcome === null ? { requestId, error: toCommandError(err, this.log), kind: undefined } : { requestId, error: undefined, kind: outcome });
  }

  /** One command, alone or from a batch: answered once, now or when it completes. */
  private runOne(cmd: Command): void {
    const rr = this.rr;
    if (rr === null) {
      this.reply(cmd.requestId, null, failedPrecondition(ErrorReason.ERROR_REASON_NOT_REGISTERED, "command before register: send Register first"));
      return;
    }
    if (this.inflight >= MAX_INFLIGHT_COMMANDS_PER_STREAM) {
      this.reply(
        cmd.requestId,
        null,
        new GatewayError(GrpcStatus.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_TOO_MANY_COMMANDS, `more than ${MAX_INFLIGHT_COMMANDS_PER_STREAM} commands in progress on this stream`),
      );
      return;
    }
    let outcome: CommandOutcome | Promise<CommandOutcome>;
    try {
      outcome = runCommand({ rr, sw: rr.switchApi }, cmd);
    } catch (err) {
      this.reply(cmd.requestId, null, err);
      return;
    }
    if (!(outcome instanceof Promise)) {
      this.reply(cmd.requestId, outcome, null);
      return;
    }
    this.inflight++;
    outcome.then(
      (o) => {
        this.inflight--;
        this.reply(cmd.requestId, o, null);
        this.retireIfIdle();
      },
      (err: unknown) => {
        this.inflight--;
        this.reply(cmd.requestId, null, err);
        this.retireIfIdle();
      },
    );
  }
}
