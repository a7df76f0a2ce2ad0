/**
 * ping-pong: a reactor on channel 0x70 that pings every peer when it is added
 * (and then every --interval-ms), answers pings with pongs, and prints one
 * JSON line per round trip. Written in the callback style (`runReactor`), the
 * way a CometBFT Go reactor is.
 *
 *   npx tsx examples/typescript/ping-pong.ts --grpc 127.0.0.1:26670
 *
 * Wire format, shared with the Python and Go examples (17 bytes, big-endian):
 * a kind byte (1 = ping, 2 = pong), a uint64 sequence number and the pinger's
 * uint64 send time in nanoseconds; a pong echoes both.
 */
import { parseArgs } from "node:util";
import { CommandError, type PeerInfo, type ReactorClient, runReactor } from "../../client/src/index.js";

const PING_PONG = 0x70;
const PING = 1;
const PONG = 2;

const { values } = parseArgs({
  options: {
    grpc: { type: "string", default: "127.0.0.1:26670" },
    name: { type: "string", default: "ping-pong" },
    // The reactor's bearer token, when the node has a grpc.credentials_file (as the CLI, from the environment by default).
    token: { type: "string", default: process.env["SWITCHBOARD_GRPC_TOKEN"] ?? "" },
    "interval-ms": { type: "string", default: "1000" },
  },
});
const intervalMs = Number(values["interval-ms"]);
if (!Number.isInteger(intervalMs) || intervalMs < 0) throw new Error(`--interval-ms: ${values["interval-ms"]} is not an integer >= 0 (0: ping once per peer)`);

function log(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
}

const MESSAGE_BYTES = 17;

function frame(kind: number, nonce: bigint, sentNs: bigint = process.hrtime.bigint()): Uint8Array {
  const b = new Uint8Array(MESSAGE_BYTES);
  b[0] = kind;
  const view = new DataView(b.buffer);
  view.setBigUint64(1, nonce);
  view.setBigUint64(9, sentNs);
  return b;
}

function parse(message: Uint8Array): { kind: number; nonce: bigint; sentNs: bigint } | null {
  if (message.length !== MESSAGE_BYTES) return null;
  const kind = message[0] ?? 0;
  if (kind !== PING && kind !== PONG) return null;
  const view = new DataView(message.buffer, message.byteOffset, MESSAGE_BYTES);
  return { kind, nonce: view.getBigUint64(1), sentNs: view.getBigUint64(9) };
}

/** Per connection: the pings in flight (nonce → send time) and the ping timer. */
interface PeerState {
  readonly peer: PeerInfo;
  readonly sent: Map<bigint, number>;
  timer: NodeJS.Timeout | undefined;
}

function pingPong(sw: ReactorClient) {
  const peers = new Map<string, PeerState>();
  let nextNonce = 1n;

  const ping = async (state: PeerState): Promise<void> => {
    const nonce = nextNonce++;
    state.sent.set(nonce, performance.now());
    // At most 64 pings in flight per peer: a silent peer does not grow the map forever.
    if (state.sent.size > 64) state.sent.delete(state.sent.keys().next().value ?? 0n);
    try {
      // trySend: a ping that does not fit the send queue now is simply skipped.
      if (!(await sw.trySend(state.peer, PING_PONG, frame(PING, nonce)))) log({ event: "ping_dropped", peer: state.peer.id });
    } catch (err) {
      // The peer may have gone meanwhile (PEER_REMOVED): its removePeer follows.
      if (!(err instanceof CommandError)) throw err;
      log({ event: "ping_failed", peer: state.peer.id, reason: err.reason });
    }
  };

  const forget = (connectionId: string): void => {
    const state = peers.get(connectionId);
    if (state?.timer !== undefined) clearInterval(state.timer);
    peers.delete(connectionId);
  };

  return {
    onSession: (s: { resumed: boolean; refusedReason: string; nodeInfo: { nodeId: string } }) => {
      log({ event: "session", node: s.nodeInfo.nodeId, resumed: s.resumed, refused: s.refusedReason || undefined });
      // A fresh session re-announces every peer: start over.
      if (!s.resumed) for (const id of [...peers.keys()]) forget(id);
    },
    addPeer: (peer: PeerInfo) => {
      const state: PeerState = { peer, sent: new Map(), timer: undefined };
      peers.set(peer.connectionId, state);
      log({ event: "add_peer", peer: peer.id, outbound: peer.outbound });
      void ping(state);
      if (intervalMs > 0) state.timer = setInterval(() => void ping(state), intervalMs);
    },
    removePeer: (peer: PeerInfo, reason: string) => {
      forget(peer.connectionId);
      log({ event: "remove_peer", peer: peer.id, reason: reason || undefined });
    },
    receive: async ({ src, message }: { src: PeerInfo; message: Uint8Array }) => {
      const m = parse(message);
      if (m === null) {
        log({ event: "bad_message", peer: src.id, bytes: message.length });
        return;
      }
      if (m.kind === PING) {
        await sw.trySend(src, PING_PONG, frame(PONG, m.nonce, m.sentNs)).catch((err: unknown) => {
          if (!(err instanceof CommandError)) throw err;
        });
        return;
      }
      const state = peers.get(src.connectionId);
      const sentAt = state?.sent.get(m.nonce);
      if (m.kind !== PONG || state === undefined || sentAt === undefined) return;
      state.sent.delete(m.nonce);
      log({ event: "rtt", peer: src.id, nonce: Number(m.nonce), rtt_ms: Math.round((performance.now() - sentAt) * 1000) / 1000 });
    },
    onStop: () => {
      for (const id of [...peers.keys()]) forget(id);
      log({ event: "stop" });
    },
  };
}

const running = runReactor({ target: values.grpc, name: values.name, token: values.token, channels: [{ id: PING_PONG, priority: 5, sendQueueCapacity: 100 }] }, pingPong);
process.once("SIGINT", () => running.stop());
process.once("SIGTERM", () => running.stop());
running.done.then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
