/**
 * An in-process reactor for tests: records every call it receives (as
 * reactor-trace events), stores received messages, and can be told to hold
 * messages (a pending receive) or to fail.
 */
import type { ChannelDescriptor } from "../../src/wire/mconnection/channel-descriptor.js";
import type { Peer } from "../../src/p2p/peer.js";
import type { Envelope, Reactor, RemoveReason } from "../../src/p2p/reactor.js";
import type { SwitchApi } from "../../src/p2p/switch-api.js";
import type { TraceEvent } from "./reactor-trace.js";

export interface Received {
  readonly peerId: string;
  readonly connection: string;
  readonly channelId: number;
  readonly message: Uint8Array;
}

export class RecordingReactor implements Reactor {
  readonly events: TraceEvent[] = [];
  readonly received: Received[] = [];
  readonly removeReasons: { peerId: string; connection: string; reason: RemoveReason }[] = [];
  sw: SwitchApi | null = null;
  /** When set, receive returns this promise (holding the peer's later messages). */
  hold: Promise<void> | null = null;
  /** Called on every receive, after recording. */
  onReceive: ((env: Envelope) => void) | null = null;
  onAddPeer: ((peer: Peer) => void) | null = null;
  private readonly waiters: { pred: () => boolean; resolve: () => void }[] = [];

  constructor(private readonly channels: readonly ChannelDescriptor[]) {}

  getChannels(): readonly ChannelDescriptor[] {
    this.events.push({ kind: "GetChannels" });
    return this.channels;
  }
  setSwitch(sw: SwitchApi): void {
    this.events.push({ kind: "SetSwitch" });
    this.sw = sw;
  }
  onStart(): void {
    this.events.push({ kind: "OnStart" });
  }
  onStop(): void {
    this.events.push({ kind: "OnStop" });
    this.notify();
  }
  initPeer(peer: Peer): void {
    this.events.push({ kind: "InitPeer", peerId: peer.id, connection: peer.connectionId });
    this.notify();
  }
  addPeer(peer: Peer): void {
    this.events.push({ kind: "AddPeer", peerId: peer.id, connection: peer.connectionId });
    this.onAddPeer?.(peer);
    this.notify();
  }
  removePeer(peer: Peer, reason: RemoveReason): void {
    this.events.push({ kind: "RemovePeer", peerId: peer.id, connection: peer.connectionId });
    this.removeReasons.push({ peerId: peer.id, connection: peer.connectionId, reason });
    this.notify();
  }
  receive(env: Envelope): void | Promise<void> {
    this.events.push({ kind: "Receive", peerId: env.src.id, connection: env.src.connectionId, channelId: env.channelId });
    this.received.push({ peerId: env.src.id, connection: env.src.connectionId, channelId: env.channelId, message: new Uint8Array(env.message) });
    this.onReceive?.(env);
    this.notify();
    return this.hold ?? undefined;
  }

  /** Resolves once `pred` holds, checked after every recorded call. */
  waitFor(pred: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  count(kind: TraceEvent["kind"], peerId?: string): number {
    return this.events.filter((e) => e.kind === kind && (peerId === undefined || ("peerId" in e && e.peerId === peerId))).length;
  }

  private notify(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.pred()) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}
