// A minimal, dependency-light client of the reactor gateway (proto/switchboard/gateway/v1/gateway.proto) for the
// docker-compose cluster's test reactors (probe-reactor.mjs, blocksync-follower.mjs). It is deliberately NOT the
// SDK (client/): the cluster test must not depend on the code it is checking. It uses only what the switchboard
// image already has (@grpc/grpc-js, protobufjs, the proto/ directory), so the reactors run from that image.
//
// What it does: Register (resuming with the token kept in STATE_FILE, if any), log every event as one JSON line on
// stdout, Ack each batch and give the credit back, run commands (request IDs, CommandResult), and on a lost stream
// re-attach with backoff (the node resumes the session inside grpc.resume_window, else starts a fresh one).
import { Buffer } from "node:buffer";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout } from "node:timers";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";

/** Finds proto/ by walking up from this file (/app/docker/reactor -> /app/proto in the image). */
export function findProtoDir() {
  if (process.env.PROTO_DIR) return process.env.PROTO_DIR;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "proto", "switchboard/gateway/v1/gateway.proto"))) return join(dir, "proto");
    dir = dirname(dir);
  }
  throw new Error("cannot find proto/switchboard/gateway/v1/gateway.proto (set PROTO_DIR)");
}

/** Loads .proto files (paths relative to proto/) into one protobufjs Root. */
export function loadProtos(files) {
  const protoDir = findProtoDir();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith("google/protobuf/") ? target : join(protoDir, target));
  root.loadSync(files, { keepCase: false });
  root.resolveAll();
  return root;
}

const TO_OBJECT = { longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true };

/** One JSON line on stdout: what the e2e test reads through `docker-compose logs`. */
export function logJson(fields) {
  process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), ...fields })}\n`);
}

export function hex(buf) {
  return Buffer.from(buf ?? []).toString("hex").toUpperCase();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one reactor until stop(). `handlers.onEvent(event)` gets each event (plain objects, camelCase, oneof name in
 * `event.kind`); `handlers.onRegistered(registered)` each Registered. Returns { command, stop, connected }.
 */
export function runReactor({ target, reactorName, channels, stateFile, initialCredit, handlers, label }) {
  const root = loadProtos(["switchboard/gateway/v1/gateway.proto"]);
  const AttachRequest = root.lookupType("switchboard.gateway.v1.AttachRequest");
  const AttachResponse = root.lookupType("switchboard.gateway.v1.AttachResponse");
  const Client = grpc.makeGenericClientConstructor(
    {
      Attach: {
        path: "/switchboard.gateway.v1.ReactorGatewayService/Attach",
        requestStream: true,
        responseStream: true,
        requestSerialize: (o) => Buffer.from(AttachRequest.encode(AttachRequest.fromObject(o)).finish()),
        requestDeserialize: (b) => AttachRequest.decode(b),
        responseSerialize: (o) => Buffer.from(AttachResponse.encode(o).finish()),
        responseDeserialize: (b) => AttachResponse.toObject(AttachResponse.decode(b), TO_OBJECT),
      },
    },
    "ReactorGatewayService",
  );
  const client = new Client(target, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 128 * 1024 * 1024,
    "grpc.max_send_message_length": 128 * 1024 * 1024,
  });
  const credit = initialCredit ?? { messages: 1000, bytes: 64 * 1024 * 1024 };
  const base = { reactor: reactorName, ...(label ? { node: label } : {}) };

  let call = null;
  let registered = false;
  let stopping = false;
  let nextRequestId = 1;
  const pending = new Map();
  let lastSeq = 0n;

  const loadToken = () => {
    try {
      return JSON.parse(readFileSync(stateFile, "utf8")).sessionToken ?? "";
    } catch {
      return "";
    }
  };
  const saveToken = (token) => {
    if (stateFile) writeFileSync(stateFile, JSON.stringify({ sessionToken: token }));
  };

  const attachOnce = () =>
    new Promise((resolve) => {
      const token = stateFile ? loadToken() : "";
      const c = client.Attach();
      call = c;
      registered = false;
      c.write({ register: { reactorName, channels, sessionToken: token, initialCredit: credit } });
      logJson({ ...base, event: "Attaching", resumeToken: token !== "" });
      c.on("data", (msg) => {
        if (msg.msg === "registered") {
          const r = msg.registered;
          registered = true;
          if (!r.resumed) lastSeq = 0n; // a fresh session numbers its events from 1 again
          saveToken(r.sessionToken);
          logJson({
            ...base,
            event: "Registered",
            resumed: r.resumed,
            resumeRefusedReason: r.resumeRefusedReason,
            nextEventSeq: r.nextEventSeq,
            nodeId: r.nodeInfo?.nodeId,
            network: r.nodeInfo?.network,
          });
          handlers.onRegistered?.(r);
        } else if (msg.msg === "events") {
          let bytes = 0;
          const evs = msg.events.events;
          for (const e of evs) {
            const seq = BigInt(e.seq);
            if (seq <= lastSeq) continue; // resent after a resume, and already handled
            lastSeq = seq;
            if (e.kind === "receive") bytes += e.receive.message.length;
            handlers.onEvent(e);
          }
          if (evs.length > 0) {
            c.write({ ack: { eventSeq: evs[evs.length - 1].seq } });
            c.write({ credit: { messages: evs.length, bytes: Math.max(bytes, 1) } });
          }
        } else if (msg.msg === "result") {
          const res = msg.result;
          const p = pending.get(String(res.requestId));
          if (p) {
            pending.delete(String(res.requestId));
            p(res);
          }
        }
      });
      const done = (how, err) => {
        if (call !== c) return;
        call = null;
        registered = false;
        for (const p of pending.values()) p({ error: { message: "stream ended" } });
        pending.clear();
        logJson({ ...base, event: "Detached", how, code: err?.code, details: err?.details });
        resolve(err);
      };
      c.on("error", (err) => done("error", err));
      c.on("end", () => done("end"));
    });

  const loop = (async () => {
    let backoffMs = 250;
    while (!stopping) {
      const started = Date.now();
      const err = await attachOnce();
      if (stopping) break;
      if (err === undefined || Date.now() - started > 10_000) backoffMs = 250;
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, 3_000);
    }
  })();

  return {
    /** Sends a command (e.g. { broadcast: { channelId, message } }); resolves with its CommandResult. */
    command(cmd) {
      if (call === null || !registered) return Promise.resolve({ error: { message: "not attached" } });
      const requestId = nextRequestId++;
      return new Promise((resolve) => {
        pending.set(String(requestId), resolve);
        call.write({ command: { requestId, ...cmd } });
      });
    },
    connected: () => call !== null && registered,
    async stop() {
      stopping = true;
      if (call !== null) {
        call.end();
        call.cancel();
      }
      await loop;
      client.close();
    },
  };
}
