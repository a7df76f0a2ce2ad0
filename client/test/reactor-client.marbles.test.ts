/**
 * Marble tests of the stream's lifecycle: WHEN the Attach call is opened and
 * cancelled (the fake call's subscription log), and what `events$` emits, in
 * virtual time.
 */
import { status as Status } from "@grpc/grpc-js";
import { type Observable, catchError, defer, map, of } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { AttachError } from "../src/errors.js";
import type { AttachRequest, AttachResponse } from "../src/gen/switchboard/gateway/v1/gateway.js";
import { ReactorClient } from "../src/reactor-client.js";
import type { AttachTransport } from "../src/transport.js";
import type { ReactorEvent } from "../src/types.js";
import { NODE_INFO, ev, serviceError } from "./support/fake-node.js";

const CHANNELS = [{ id: 0x70, priority: 5, sendQueueCapacity: 100 }];

const R: Record<string, AttachResponse> = {
  r: { msg: { $case: "registered", value: { sessionToken: "tok", resumed: false, resumeRefusedReason: "", nodeInfo: NODE_INFO, nextEventSeq: 1n, limits: undefined } } },
  a: { msg: { $case: "events", value: { events: [ev.start(1)] } } },
  b: { msg: { $case: "events", value: { events: [ev.init(2, "p1", "c1"), ev.add(3, "p1", "c1")] } } },
  s: { msg: { $case: "events", value: { events: [ev.stop(2)] } } },
};

/** Each subscription of the transport subscribes the same (cold) response observable: its log is the call log. */
function marbleTransport(responses: Observable<AttachResponse>, written: AttachRequest[] = []): AttachTransport {
  return (requests) =>
    defer(() => {
      requests.subscribe((r) => written.push(r));
      return responses;
    });
}

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

const types = (e: ReactorEvent): string => e.type;
const letters: Record<string, string> = { session: "s", start: "t", initPeer: "i", addPeer: "a", stop: "p", receive: "r", removePeer: "x" };
const letter = (e: ReactorEvent): string => letters[types(e)] ?? "?";

function client(transport: AttachTransport, reconnect: ConstructorParameters<typeof ReactorClient>[0]["reconnect"] = { initialDelayMs: 3, multiplier: 1, jitter: 0 }): ReactorClient {
  return new ReactorClient({ target: "unused", name: "app", channels: CHANNELS, transport, reconnect, trace: false, logger: false });
}

describe("events$ lifecycle (marbles)", () => {
  it("opens the call on subscribe and cancels it on unsubscribe", () => {
    const written: AttachRequest[] = [];
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold("-r-a----", R);
      const reactor = client(marbleTransport(call, written));
      expectObservable(reactor.events$.pipe(map(letter)), "^-----!").toBe("-s-t--");
      expectSubscriptions(call.subscriptions).toBe("^-----!");
    });
    // Register first, then the ack and credit of the two consumed events (session events carry no credit).
    expect(written.map((r) => r.msg?.$case)).toEqual(["register", "credit", "ack"]);
    expect(written[0]?.msg?.$case === "register" && written[0].msg.value.reactorName).toBe("app");
  });

  it("opens nothing before subscription: a late subscriber opens the call then", () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold("-r-a--", R);
      const reactor = client(marbleTransport(call));
      expectObservable(reactor.events$.pipe(map(letter)), "---^-----!").toBe("----s-t---");
      expectSubscriptions(call.subscriptions).toBe("---^-----!");
    });
  });

  it("shares one call among subscribers: the call ends when the last one leaves", () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold("-r-a-b---", R);
      const reactor = client(marbleTransport(call));
      expectObservable(reactor.events$.pipe(map(letter)), "^-------!").toBe("-s-t-(ia)");
      // A late subscriber sees events from then on; leaving early does not cancel the call.
      expectObservable(reactor.events$.pipe(map(letter)), "--^---!").toBe("---t-(ia)");
      expectSubscriptions(call.subscriptions).toBe("^-------!");
    });
  });

  it("completes after OnStop once the node ends the stream", () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold("-r-a-s-|", R);
      const reactor = client(marbleTransport(call));
      expectObservable(reactor.events$.pipe(map(letter))).toBe("-s-t-p-|");
      expectSubscriptions(call.subscriptions).toBe("^------!");
    });
  });

  it("re-attaches after UNAVAILABLE, after the backoff delay, until unsubscribed", () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold("-r-#", R, serviceError(Status.UNAVAILABLE, "connection dropped"));
      const reactor = client(marbleTransport(call));
      expectObservable(reactor.events$.pipe(map(letter)), "^----------!").toBe("-s-----s---");
      // Fails at 3, waits 3, re-attaches at 6, fails at 9, would re-attach at 12: unsubscribed at 11 first.
      expectSubscriptions(call.subscriptions).toBe(["^--!", "------^--!"]);
    });
  });

  it("cancels the pending re-attach when unsubscribed during the backoff", () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold("-#", R, serviceError(Status.UNAVAILABLE, "no route"));
      const reactor = client(marbleTransport(call), { initialDelayMs: 5, jitter: 0 });
      expectObservable(reactor.events$.pipe(map(letter)), "^--!").toBe("---");
      expectSubscriptions(call.subscriptions).toBe(["^!"]);
    });
  });

  it("errors without retrying when the node refuses the registration (ALREADY_EXISTS)", () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold("-#", R, serviceError(Status.ALREADY_EXISTS, 'reactor "app" is attached on another stream'));
      const reactor = client(marbleTransport(call));
      const out = reactor.events$.pipe(
        map(letter),
        catchError((err: unknown) => of(err instanceof AttachError ? `E${err.code}` : "other")),
      );
      expectObservable(out).toBe("-(x|)", { x: `E${Status.ALREADY_EXISTS}` });
      expectSubscriptions(call.subscriptions).toBe("^!");
    });
  });

  it("treats an end without OnStop as transient, and errors when the attempts run out", () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold("-r-|", R);
      // resetOnSuccess: false, or every successful Register would start the count again.
      const reactor = client(marbleTransport(call), { count: 1, initialDelayMs: 2, jitter: 0, resetOnSuccess: false });
      const out = reactor.events$.pipe(
        map(letter),
        catchError((err: unknown) => of(err instanceof AttachError ? `E${err.code}` : "other")),
      );
      expectObservable(out).toBe("-s----s-(x|)", { s: "s", x: `E${Status.UNAVAILABLE}` });
      expectSubscriptions(call.subscriptions).toBe(["^--!", "-----^--!"]);
    });
  });

  it("resubscribing after everyone left opens a new call (and asks to resume)", () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold("-r-a--", R);
      const written: AttachRequest[] = [];
      const reactor = client(marbleTransport(call, written));
      expectObservable(reactor.events$.pipe(map(letter)), "^--!").toBe("-s-");
      expectObservable(reactor.events$.pipe(map(letter)), "-----^---!").toBe("------s-t");
      expectSubscriptions(call.subscriptions).toBe(["^--!", "-----^---!"]);
    });
  });
});
