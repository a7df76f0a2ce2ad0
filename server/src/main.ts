/**
 * The `switchboard` executable: runs the CLI on the process's arguments and
 * exits with its code.
 *
 * Signals: the first SIGINT or SIGTERM stops a running node gracefully (every
 * peer removed, every reactor stopped, listeners closed), then the process
 * exits 0. A second signal exits at once with code 1.
 */
import { createGrpcNodeClient, nodeClientSecurityFromEnv } from "./cli/grpc-node-client.js";
import { runCli } from "./cli/index.js";
import { createNodeGateway } from "./gateway/node-gateway.js";

const controller = new AbortController();
let signals = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  signals++;
  if (signals > 1) {
    process.stderr.write(`received ${signal} again: exiting now\n`);
    process.exit(1);
  }
  process.stderr.write(`received ${signal}: stopping (send it again to exit at once)\n`);
  controller.abort(signal);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const code = await runCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  signal: controller.signal,
  gateway: createNodeGateway,
  nodeClient: createGrpcNodeClient(nodeClientSecurityFromEnv(process.env)),
});
// Exit even if a stray handle would keep the event loop alive: the node has stopped.
process.exit(code);
