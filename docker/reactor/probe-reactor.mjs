// The cluster test's probe: a reactor on channel PROBE_CHANNEL that logs every event it receives as a JSON line
// (InitPeer, AddPeer, Receive with the message text, RemovePeer with the reason, OnStart, OnStop, Registered with
// resumed / resume_refused_reason) and broadcasts on request. Runs from the switchboard image:
//
//   node /app/docker/reactor/probe-reactor.mjs
//   env GATEWAY (node0:26670), REACTOR_NAME (probe), PROBE_CHANNEL (231 = 0xe7), NODE_LABEL (node0),
//       STATE_FILE (/tmp/probe-session.json: the session token, kept across a restart of the container so that it
//       resumes its session inside the node's grpc.resume_window), CONTROL_SOCKET (/tmp/probe.sock)
//
// Control: probe-ctl.mjs talks to CONTROL_SOCKET (one JSON request per connection, one JSON answer):
//   {"cmd":"broadcast","text":"..."}  -> the Broadcast CommandResult (per-peer queued flags)
//   {"cmd":"status"}                  -> {attached, peers:[ids]}
//   {"cmd":"forget-session"}          -> the next attach starts without a token (a fresh session)
//   {"cmd":"corrupt-session"}         -> the next attach offers a token the node does not know (resume refused)
// SIGTERM/SIGINT: ends the stream cleanly and exits 0.
import { Buffer } from "node:buffer";
import { createServer } from "node:net";
import { rmSync, writeFileSync } from "node:fs";
import { logJson, runReactor } from "./gateway-client.mjs";

const target = process.env.GATEWAY ?? "127.0.0.1:26670";
const reactorName = process.env.REACTOR_NAME ?? "probe";
const channelId = Number(process.env.PROBE_CHANNEL ?? 0xe7);
const label = process.env.NODE_LABEL ?? "";
const stateFile = process.env.STATE_FILE ?? "/tmp/probe-session.json";
const socketPath = process.env.CONTROL_SOCKET ?? "/tmp/probe.sock";

const peers = new Map(); // connectionId -> peerId
const base = { reactor: reactorName, ...(label ? { node: label } : {}) };

const reactor = runReactor({
  target,
  reactorName,
  label,
  stateFile,
  channels: [{ id: channelId, priority: 5, sendQueueCapacity: 100 }],
  handlers: {
    onRegistered() {},
    onEvent(e) {
      const seq = e.seq;
      switch (e.kind) {
        case "onStart":
          peers.clear();
          logJson({ ...base, event: "OnStart", seq });
          break;
        case "initPeer": {
          const p = e.initPeer.peer;
          peers.set(p.connectionId, p.peerId);
          logJson({ ...base, event: "InitPeer", seq, peer: p.peerId, conn: p.connectionId, moniker: p.nodeInfo?.moniker, outbound: p.outbound, persistent: p.persistent });
          break;
        }
        case "addPeer":
          logJson({ ...base, event: "AddPeer", seq, peer: e.addPeer.peerId, conn: e.addPeer.connectionId });
          break;
        case "receive":
          logJson({ ...base, event: "Receive", seq, peer: e.receive.peerId, conn: e.receive.connectionId, channel: e.receive.channelId, text: e.receive.message.toString("utf8") });
          break;
        case "removePeer":
          peers.delete(e.removePeer.connectionId);
          logJson({ ...base, event: "RemovePeer", seq, peer: e.removePeer.peerId, conn: e.removePeer.connectionId, reason: e.removePeer.reason });
          break;
        case "onStop":
          peers.clear();
          logJson({ ...base, event: "OnStop", seq });
          break;
        default:
          logJson({ ...base, event: "Unknown", seq, kind: e.kind });
      }
    },
  },
});

const control = createServer((sock) => {
  let buf = "";
  sock.setEncoding("utf8");
  sock.on("data", async (chunk) => {
    buf += chunk;
    const nl = buf.indexOf("\n");
    if (nl < 0) return;
    let answer;
    try {
      const req = JSON.parse(buf.slice(0, nl));
      if (req.cmd === "broadcast") {
        const result = await reactor.command({ broadcast: { channelId, message: Buffer.from(String(req.text), "utf8") } });
        answer = result;
        logJson({ ...base, event: "Broadcast", text: req.text, result });
      } else if (req.cmd === "status") {
        answer = { attached: reactor.connected(), peers: [...new Set(peers.values())] };
      } else if (req.cmd === "forget-session") {
        rmSync(stateFile, { force: true });
        answer = { ok: true };
      } else if (req.cmd === "corrupt-session") {
        writeFileSync(stateFile, JSON.stringify({ sessionToken: "not-a-session-of-this-node" }));
        answer = { ok: true };
      } else {
        answer = { error: `unknown cmd ${req.cmd}` };
      }
    } catch (err) {
      answer = { error: String(err?.message ?? err) };
    }
    sock.end(`${JSON.stringify(answer)}\n`);
  });
  sock.on("error", () => {});
});
rmSync(socketPath, { force: true });
control.listen(socketPath);

let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    logJson({ ...base, event: "Exiting", signal: sig });
    control.close();
    await reactor.stop();
    process.exit(0);
  });
}
