// Talks to a running probe-reactor.mjs through its control socket (run it inside the probe's container):
//   docker-compose exec -T probe0 node /app/docker/reactor/probe-ctl.mjs broadcast TEXT
//   docker-compose exec -T probe0 node /app/docker/reactor/probe-ctl.mjs status | forget-session | corrupt-session
// Prints the probe's JSON answer; exits 1 when it carries an error.
import { connect } from "node:net";
import { setTimeout } from "node:timers";

const [cmd, ...rest] = process.argv.slice(2);
if (!cmd) {
  console.error("usage: probe-ctl.mjs broadcast TEXT | status | forget-session | corrupt-session");
  process.exit(2);
}
const socketPath = process.env.CONTROL_SOCKET ?? "/tmp/probe.sock";
const sock = connect(socketPath);
let out = "";
sock.setEncoding("utf8");
sock.on("connect", () => sock.write(`${JSON.stringify({ cmd, text: rest.join(" ") })}\n`));
sock.on("data", (d) => (out += d));
sock.on("error", (err) => {
  console.error(`probe-ctl: ${err.message}`);
  process.exit(1);
});
sock.on("end", () => {
  process.stdout.write(out);
  const answer = JSON.parse(out);
  process.exit(answer?.error ? 1 : 0);
});
setTimeout(() => {
  console.error("probe-ctl: no answer within 15 s");
  process.exit(1);
}, 15_000).unref();
