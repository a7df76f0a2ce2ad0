/**
 * Executes the commands a remote reactor sends, against the Switch, with a
 * typed result or a typed error for each.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { type Command, type CommandResult, ErrorReason } from "../gen/switchboard/gateway/v1/gateway.js";
import { parseNetAddress } from "../p2p/net-address.js";
import type { Peer } from "../p2p/peer.js";
import type { SwitchApi } from "../p2p/switch-api.js";
import { GatewayError, failedPrecondition, invalidField, notFound } from "./errors.js";
import { peerInfoOf, peerStatusOf } from "./convert.js";
import type { RemoteReactor } from "./remote-reactor.js";

/** Longest key in the per-peer store. */
export const MAX_PEER_DATA_KEY_LENGTH = 256;
/**
 * Largest value a remote reactor may store per key: 63 KiB, so that a
 * SetPeerData command with the longest key still fits the 64 KiB the node
 * decodes for commands that carry no message payload (request-screen.ts).
 */
export const MAX_PEER_DATA_VALUE_BYTES = 63 * 1024;
/** Longest wait a Send may ask for. */
export const MAX_SEND_TIMEOUT_MS = 60_000;

export type CommandOutcome = NonNullable<CommandResult["kind"]>;

// Shared, never mutated: encoding reads them, nothing writes them.
const SEND_QUEUED: CommandOutcome = Object.freeze({ $case: "send", value: Object.freeze({ queued: true }) });
const SEND_NOT_QUEUED: CommandOutcome = Object.freeze({ $case: "send", value: Object.freeze({ queued: false }) });

/**
 * What a command runs against: the reactor that sent it, and the Switch as
 * that reactor sees it (what `setSwitch` handed it: the contract every
 * in-process reactor gets, nothing more).
 */
export interface CommandContext {
  readonly rr: RemoteReactor;
  readonly sw: SwitchApi;
}

function resolvePeer(ctx: CommandContext, connectionId: string, peerId: string, field: string): Peer {
  if (connectionId !== "") {
    const p = ctx.rr.connection(connectionId);
    if (p === undefined) {
      if (ctx.rr.wasRemoved(connectionId)) {
        throw notFound(ErrorReason.ERROR_REASON_PEER_REMOVED, `${field}.connection_id: peer connection ${connectionId} was removed`);
      }
      throw notFound(ErrorReason.ERROR_REASON_UNKNOWN_PEER, `${field}.connection_id: no peer connection ${connectionId}`);
    }
    if (peerId !== "" && p.id !== peerId) throw invalidField(`${field}.peer_id`, `connection ${connectionId} belongs to peer ${p.id}, not ${peerId}`);
    return p;
  }
  if (peerId === "") throw invalidField(`${field}.peer_id`, "required when connection_id is empty");
  const p = ctx.sw.peers().get(peerId);
  if (p === undefined) throw notFound(ErrorReason.ERROR_REASON_UNKNOWN_PEER, `${field}.peer_id: no connected peer ${peerId}`);
  return p;
}

function checkChannel(ctx: CommandContext, channelId: number, size: number, field: string): void {
  const ch = ctx.rr.channel(channelId);
  if (ch === undefined) {
    throw failedPrecondition(ErrorReason.ERROR_REASON_CHANNEL_NOT_REGISTERED, `${field}.channel_id: channel 0x${channelId.toString(16)} is not registered by reactor "${ctx.rr.name}"`);
  }
  if (size > ch.recvMessageCapacity) {
    throw new GatewayError(
      GrpcStatus.INVALID_ARGUMENT,
      ErrorReason.ERROR_REASON_MESSAGE_TOO_LARGE,
      `${field}.message: ${size} bytes exceeds channel 0x${channelId.toString(16)}'s limit of ${ch.recvMessageCapacity} bytes`,
    );
  }
}

function checkPeerChannel(peer: Peer, channelId: number, field: string): void {
  if (!peer.hasChannel(channelId)) {
    throw failedPrecondition(
      ErrorReason.ERROR_REASON_CHANNEL_NOT_SUPPORTED_BY_PEER,
      `${field}.channel_id: peer ${peer.id} did not advertise channel 0x${channelId.toString(16)}`,
    );
  }
}

function decodeStored(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return Buffer.from(value, "utf8");
  // JSON.stringify gives undefined for functions and symbols, whatever its type says.
  const json = JSON.stringify(value) as string | undefined;
  return Buffer.from(json === undefined ? "null" : json, "utf8");
}

/**
 * Runs one command. Most commands finish at once and return their outcome
 * (or throw their typed error) synchronously; only a Send that has to wait
 * for queue room and a Broadcast return a promise. That saves a promise and
 * a microtask per command on the hot path, without changing what happens: a
 * Send with room is queued at once either way.
 */
export function runCommand(ctx: CommandContext, cmd: Command): CommandOutcome | Promise<CommandOutcome> {
  const k = cmd.kind;
  if (k === undefined) throw invalidField("command.kind", "not set");
  switch (k.$case) {
    case "send": {
      const c = k.value;
      checkChannel(ctx, c.channelId, c.message.length, "send");
      if (c.timeoutMs > MAX_SEND_TIMEOUT_MS) throw invalidField("send.timeout_ms", `at most ${MAX_SEND_TIMEOUT_MS}`);
      const peer = resolvePeer(ctx, c.connectionId, c.peerId, "send");
      checkPeerChannel(peer, c.channelId, "send");
      // With room in the queue (or a connection that is not running) Send answers at once, as trySend does.
      if (peer.trySend(c.channelId, c.message)) return SEND_QUEUED;
      return peer.send(c.channelId, c.message, c.timeoutMs > 0 ? { timeoutMs: c.timeoutMs } : undefined).then((queued) => (queued ? SEND_QUEUED : SEND_NOT_QUEUED));
    }
    case "trySend": {
      const c = k.value;
      checkChannel(ctx, c.channelId, c.message.length, "try_send");
      const peer = resolvePeer(ctx, c.connectionId, c.peerId, "try_send");
      checkPeerChannel(peer, c.channelId, "try_send");
      return peer.trySend(c.channelId, c.message) ? SEND_QUEUED : SEND_NOT_QUEUED;
    }
    case "broadcast": {
      const c = k.value;
      checkChannel(ctx, c.channelId, c.message.length, "broadcast");
      return ctx.sw.broadcast(c.channelId, c.message).then((results) => ({ $case: "broadcast", value: { results: results.map((r) => ({ peerId: r.peerId, queued: r.queued })) } }));
    }
    case "stopPeerForError": {
      const c = k.value;
      const peer = resolvePeer(ctx, c.connectionId, c.peerId, "stop_peer_for_error");
      const reason = new Error(c.reason === "" ? `stopped by reactor "${ctx.rr.name}"` : c.reason);
      ctx.sw.stopPeerForError(peer, reason, { reconnect: !c.noReconnect });
      return { $case: "done", value: {} };
    }
    case "stopPeerGracefully": {
      const c = k.value;
      const peer = resolvePeer(ctx, c.connectionId, c.peerId, "stop_peer_gracefully");
      if (c.flush) return ctx.sw.flushStopPeer(peer).then(() => ({ $case: "done", value: {} }));
      ctx.sw.stopPeerGracefully(peer);
      return { $case: "done", value: {} };
    }
    case "markPeerAsGood": {
      const c = k.value;
      ctx.sw.markPeerAsGood(resolvePeer(ctx, c.connectionId, c.peerId, "mark_peer_as_good"));
      return { $case: "done", value: {} };
    }
    case "dialPeers": {
      const c = k.value;
      if (c.addresses.length === 0) throw invalidField("dial_peers.addresses", "empty");
      const parsed = c.addresses.map((a, i) => {
        try {
          return parseNetAddress(a);
        } catch (err) {
          throw new GatewayError(GrpcStatus.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_INVALID_ADDRESS, `dial_peers.addresses[${i}]: ${(err as Error).message}`);
        }
      });
      if (c.persistent) ctx.sw.addPersistentPeers(parsed);
      ctx.sw.dialPeersAsync(c.addresses);
      return { $case: "done", value: {} };
    }
    case "getPeerData": {
      const c = k.value;
      if (c.key === "") throw invalidField("get_peer_data.key", "empty");
      const value = resolvePeer(ctx, c.connectionId, c.peerId, "get_peer_data").get(c.key);
      return { $case: "peerData", value: value === undefined ? { found: false, value: new Uint8Array(0) } : { found: true, value: decodeStored(value) } };
    }
    case "setPeerData": {
      const c = k.value;
      if (c.key === "" || c.key.length > MAX_PEER_DATA_KEY_LENGTH) throw invalidField("set_peer_data.key", `must be 1..${MAX_PEER_DATA_KEY_LENGTH} characters`);
      if (c.value.length > MAX_PEER_DATA_VALUE_BYTES) throw invalidField("set_peer_data.value", `${c.value.length} bytes exceeds ${MAX_PEER_DATA_VALUE_BYTES}`);
      resolvePeer(ctx, c.connectionId, c.peerId, "set_peer_data").set(c.key, c.value.slice());
      return { $case: "done", value: {} };
    }
    case "listPeers":
      return { $case: "peers", value: { peers: ctx.sw.peers().list().map(peerInfoOf) } };
    case "numPeers":
      return { $case: "numPeers", value: ctx.sw.numPeers() };
    case "getPeer": {
      const c = k.value;
      return { $case: "peer", value: peerStatusOf(resolvePeer(ctx, "", c.peerId, "get_peer")) };
    }
  }
}
