// Fails when proto/ has changed incompatibly (buf.yaml's `breaking` rules)
// since the protos last released on main: a gateway change that old SDKs or
// reactors cannot speak is caught before it lands.
//
// The baseline is the newest commit of main (origin/main when the clone has
// it) that changed proto/. When that commit is the one checked out and proto/
// has no uncommitted change, the check is against the proto change before it,
// so that CI on main still judges the newest change. Needs the git history
// (a fresh `git clone` has it; a shallow clone is told how to deepen).
import { execFileSync } from "node:child_process";

const root = new URL("..", import.meta.url).pathname;

function git(...args) {
  return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

function tryGit(...args) {
  try {
    return git(...args);
  } catch {
    return "";
  }
}

function fail(message) {
  process.stderr.write(`proto:breaking: ${message}\n`);
  process.exit(1);
}

if (tryGit("rev-parse", "--is-inside-work-tree") !== "true") fail("not a git work tree: the baseline comes from git history");

const mainRef = ["origin/main", "main"].find((ref) => tryGit("rev-parse", "--verify", "--quiet", `${ref}^{commit}`) !== "") ?? "HEAD";
const lastProtoChange = (ref) => tryGit("log", "-1", "--format=%H", ref, "--", "proto");

let baseline = lastProtoChange(mainRef);
const head = git("rev-parse", "HEAD");
const protoClean = tryGit("status", "--porcelain", "--", "proto") === "";
if (baseline === head && protoClean) {
  // Checked out at the newest proto change: compare it with the one before.
  baseline = tryGit("rev-parse", "--verify", "--quiet", `${head}^`) === "" ? "" : lastProtoChange(`${head}^`);
}
if (baseline === "") {
  if (tryGit("rev-parse", "--is-shallow-repository") === "true") {
    fail("shallow clone: no earlier commit changed proto/ in the history fetched (run `git fetch --unshallow`)");
  }
  process.stdout.write("proto:breaking: no earlier version of proto/ in the history: nothing to compare with\n");
  process.exit(0);
}

process.stdout.write(`proto:breaking: proto/ against ${baseline.slice(0, 12)} (${git("log", "-1", "--format=%s", baseline).slice(0, 72)})\n`);
try {
  execFileSync("npx", ["--no-install", "buf", "breaking", "--against", `.git#ref=${baseline}`], { cwd: root, stdio: "inherit" });
} catch {
  fail(`incompatible change to proto/ since ${baseline.slice(0, 12)} (see above); bump the package version instead of breaking v1`);
}
