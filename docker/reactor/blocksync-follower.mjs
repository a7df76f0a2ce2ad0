// A blocksync follower: a reactor on CometBFT's blocksync channel (0x40) that follows the chain of the peers that
// serve blocks (the cluster's CometBFT node). It asks each such peer for its status every STATUS_INTERVAL_MS, then
// requests the blocks it lacks one by one, in order, and logs one JSON line per block:
//   {"event":"Block","height":"7","chainId":"...","time":"<Go RFC3339Nano>","lastBlockHash":"HEX","appHash":"HEX",
//    "dataHash":"HEX","proposer":"HEX","txs":0,"from":"<peer id>"}
// which the e2e test compares with the CometBFT node's RPC (/block?height=H). It does not verify commits: it is a
// test of the transport, not a light client.
//
//   node /app/docker/reactor/blocksync-follower.mjs
//   env GATEWAY (node3:26670), REACTOR_NAME (blocksync), NODE_LABEL, STATE_FILE (/tmp/follower-session.json),
//       STATUS_INTERVAL_MS (1000)
import { Buffer } from "node:buffer";
import { clearInterval, setInterval } from "node:timers";
import { hex, loadProtos, logJson, runReactor } from "./gateway-client.mjs";

const BLOCKSYNC = 0x40;
const target = process.env.GATEWAY ?? "127.0.0.1:26670";
const reactorName = process.env.REACTOR_NAME ?? "blocksync";
const label = process.env.NODE_LABEL ?? "";
const stateFile = process.env.STATE_FILE ?? "/tmp/follower-session.json";
const statusIntervalMs = Number(process.env.STATUS_INTERVAL_MS ?? 1000);
const base = { reactor: reactorName, ...(label ? { node: label } : {}) };

const root = loadProtos(["switchboard/cometbft/blocksync/v1/blocksync.proto"]);
const Msg = root.lookupType("switchboard.cometbft.blocksync.v1.BlocksyncMessage");
const encode = (o) => Buffer.from(Msg.encode(Msg.fromObject(o)).finish());
const decode = (b) => Msg.toObject(Msg.decode(b), { longs: String, bytes: Buffer, defaults: true, oneofs: true });

/** Go's time.Time.MarshalJSON (RFC3339Nano, UTC): fractional seconds with trailing zeros trimmed. */
function goTime(ts) {
  const secs = Number(ts?.seconds ?? 0);
  const nanos = Number(ts?.nanos ?? 0);
  const whole = new Date(secs * 1000).toISOString().slice(0, 19);
  const frac = nanos === 0 ? "" : `.${String(nanos).padStart(9, "0").replace(/0+$/, "")}`;
  return `${whole}${frac}Z`;
}

/** Peers that advertise the blocksync channel: peerId -> { conn, height, base } */
const servers = new Map();
let nextHeight = 0; // 0: not known yet (set from the first StatusResponse's base)
let inFlight = null; // { height, peer, sentAt }
let reactor;

async function send(peerId, conn, message) {
  const res = await reactor.command({ send: { peerId, connectionId: conn, channelId: BLOCKSYNC, message: encode(message), timeoutMs: 2000 } });
  if (res.error && res.error.message) logJson({ ...base, event: "SendFailed", peer: peerId, error: res.error.message });
  return !res.error || !res.error.message;
}

function requestNext() {
  if (inFlight !== null && Date.now() - inFlight.sentAt < 5000) return;
  inFlight = null;
  if (nextHeight === 0) return;
  for (const [peerId, s] of servers) {
    if (s.height >= nextHeight) {
      inFlight = { height: nextHeight, peer: peerId, sentAt: Date.now() };
      void send(peerId, s.conn, { blockRequest: { height: nextHeight } });
      return;
    }
  }
}

reactor = runReactor({
  target,
  reactorName,
  label,
  stateFile,
  // As CometBFT's blocksync reactor registers the channel.
  channels: [{ id: BLOCKSYNC, priority: 5, sendQueueCapacity: 1000, recvBufferCapacity: 50 * 4096, recvMessageCapacity: 104_857_605 }],
  handlers: {
    onRegistered() {},
    onEvent(e) {
      switch (e.kind) {
        case "onStart":
        case "onStop":
          servers.clear();
          logJson({ ...base, event: e.kind === "onStart" ? "OnStart" : "OnStop", seq: e.seq });
          break;
        case "initPeer": {
          const p = e.initPeer.peer;
          const channels = p.nodeInfo?.channels ?? Buffer.alloc(0);
          const serves = channels.includes(BLOCKSYNC);
          logJson({ ...base, event: "InitPeer", seq: e.seq, peer: p.peerId, conn: p.connectionId, moniker: p.nodeInfo?.moniker, blocksync: serves });
          if (serves) servers.set(p.peerId, { conn: p.connectionId, height: 0, base: 0, added: false });
          break;
        }
        case "addPeer": {
          logJson({ ...base, event: "AddPeer", seq: e.seq, peer: e.addPeer.peerId, conn: e.addPeer.connectionId });
          const s = servers.get(e.addPeer.peerId);
          if (s && s.conn === e.addPeer.connectionId) {
            s.added = true;
            void send(e.addPeer.peerId, s.conn, { statusRequest: {} });
          }
          break;
        }
        case "removePeer": {
          logJson({ ...base, event: "RemovePeer", seq: e.seq, peer: e.removePeer.peerId, conn: e.removePeer.connectionId, reason: e.removePeer.reason });
          const s = servers.get(e.removePeer.peerId);
          if (s && s.conn === e.removePeer.connectionId) servers.delete(e.removePeer.peerId);
          if (inFlight?.peer === e.removePeer.peerId) inFlight = null;
          break;
        }
        case "receive": {
          if (e.receive.channelId !== BLOCKSYNC) break;
          let m;
          try {
            m = decode(e.receive.message);
          } catch (err) {
            logJson({ ...base, event: "BadMessage", peer: e.receive.peerId, error: String(err) });
            break;
          }
          const peerId = e.receive.peerId;
          if (m.sum === "statusResponse") {
            const s = servers.get(peerId);
            if (s) {
              s.height = Number(m.statusResponse.height);
              s.base = Number(m.statusResponse.base);
            }
            if (nextHeight === 0) {
              nextHeight = Math.max(1, Number(m.statusResponse.base));
              logJson({ ...base, event: "Following", from: peerId, base: m.statusResponse.base, height: m.statusResponse.height });
            }
            requestNext();
          } else if (m.sum === "blockResponse") {
            const b = m.blockResponse.block;
            const h = b?.header;
            if (!h || Number(h.height) !== nextHeight) break;
            logJson({
              ...base,
              event: "Block",
              height: String(h.height),
              chainId: h.chainId,
              time: goTime(h.time),
              lastBlockHash: hex(h.lastBlockId?.hash),
              appHash: hex(h.appHash),
              dataHash: hex(h.dataHash),
              proposer: hex(h.proposerAddress),
              txs: b.data?.txs?.length ?? 0,
              from: peerId,
            });
            nextHeight++;
            inFlight = null;
            requestNext();
          } else if (m.sum === "noBlockResponse") {
            if (inFlight?.height === Number(m.noBlockResponse.height)) inFlight = null;
          } else if (m.sum === "statusRequest") {
            // We store no blocks: tell the asker so (height 0, base 0).
            const s = servers.get(peerId);
            if (s) void send(peerId, s.conn, { statusResponse: { height: 0, base: 0 } });
          } else if (m.sum === "blockRequest") {
            const s = servers.get(peerId);
            if (s) void send(peerId, s.conn, { noBlockResponse: { height: m.blockRequest.height } });
          }
          break;
        }
        default:
          break;
      }
    },
  },
});

const timer = setInterval(() => {
  for (const [peerId, s] of servers) if (s.added) void send(peerId, s.conn, { statusRequest: {} });
  requestNext();
}, statusIntervalMs);

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, async () => {
    clearInterval(timer);
    logJson({ ...base, event: "Exiting", signal: sig });
    await reactor.stop();
    process.exit(0);
  });
}
