// Docker HEALTHCHECK of the switchboard image: asks the node's grpc.health.v1 service for the overall status ("").
// The node reports SERVING only once every reactor in grpc.reactors has registered and the Switch runs.
//
//   node healthcheck.cjs [HOST:PORT]      default: from SWITCHBOARD_GRPC_LADDR (0.0.0.0 -> 127.0.0.1), else 127.0.0.1:26670
// Exit 0 when SERVING, 1 otherwise (unreachable, NOT_SERVING, 3 s deadline).
"use strict";
const grpc = require("@grpc/grpc-js");
const { service } = require("grpc-health-check");

function target() {
  if (process.argv[2]) return process.argv[2];
  const laddr = process.env.SWITCHBOARD_GRPC_LADDR || "tcp://127.0.0.1:26670";
  if (laddr.startsWith("unix://")) return `unix:${laddr.slice("unix://".length)}`;
  return laddr.replace(/^tcp:\/\//, "").replace(/^(0\.0\.0\.0|\[::\]|::)?:/, "127.0.0.1:");
}

const Health = grpc.makeGenericClientConstructor(service, "Health");
const client = new Health(target(), grpc.credentials.createInsecure());
client.check({ service: "" }, { deadline: Date.now() + 3000 }, (err, res) => {
  const status = err ? `error: ${err.message}` : res.status;
  if (status === "SERVING" || status === 1) {
    process.exit(0);
  }
  console.error(`switchboard health: ${status}`);
  process.exit(1);
});
