/**
 * What a person running a reactor sees when they made a mistake, against a
 * real node, in a process of its own: the reactor of client/README.md (its
 * code block, as a newcomer copies it) and the same without an `error`
 * callback (as a hasty one writes it). A taken name ends the program with one
 * line that names the name and what to do, never a stack trace; with no node
 * at the address, the reactor says so instead of retrying in silence.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filter, firstValueFrom } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReactorClient } from "../src/reactor-client.js";
import { REPO_ROOT, SwitchboardNode, destroyAllNodes } from "./support/switchboard-node.js";

const SDK = join(REPO_ROOT, "client", "src", "index.ts");
const children: ChildProcess[] = [];
const clients: { unsubscribe(): void }[] = [];
let dir: string;

/** The code block after `<!-- newcomer-test: reactor.ts -->` in client/README.md, importing the SDK's source. */
async function readmeReactor(): Promise<string> {
  const readme = await readFile(join(REPO_ROOT, "client", "README.md"), "utf8");
  const block = /<!-- newcomer-test: reactor\.ts -->\s*```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error("client/README.md has no reactor.ts block");
  return block.replace('from "@switchboard/client"', `from ${JSON.stringify(SDK)}`);
}

/** A reactor as a hasty newcomer writes it: subscribe(next), no error callback. */
const BARE_REACTOR = `import { ReactorClient } from ${JSON.stringify(SDK)};
const reactor = new ReactorClient({ target: process.argv[2] ?? "", name: "app", channels: [{ id: 0x70, priority: 5 }] });
reactor.events$.subscribe((event) => console.log(event.type));
`;

interface Run {
  readonly stderr: () => string;
  readonly exit: Promise<number | null>;
}

async function run(code: string, file: string, target: string): Promise<Run> {
  const path = join(dir, file);
  await writeFile(path, code);
  const child = spawn(process.execPath, ["--import", "tsx", path, target], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, SB_CLIENT_TRACE: "" } });
  children.push(child);
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdout.resume();
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { stderr: () => stderr, exit };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-client-operator-"));
});

afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const c of clients) c.unsubscribe();
  await destroyAllNodes();
  await rm(dir, { recursive: true, force: true });
}, 30_000);

describe("a second reactor with a name already attached", () => {
  let target: string;

  beforeAll(async () => {
    const node = await SwitchboardNode.start({ moniker: "taken", network: "operator", reactors: ["app"] });
    target = await node.grpc;
    const first = new ReactorClient({ target, name: "app", channels: [{ id: 0x70, priority: 5 }], logger: false });
    const attached = firstValueFrom(first.events$.pipe(filter((e) => e.type === "session")));
    clients.push(first.events$.subscribe({ error: () => undefined }));
    await attached;
  }, 30_000);

  const expected = (t: string): string =>
    `reactor "app": the node at ${t} refused it: ALREADY_EXISTS: reactor "app" is attached on another stream. ` +
    'The name "app" is taken on that node (by another process, or by another client in this one): stop that reactor, or give this one another name.';

  it("the README's reactor prints one line naming the name and what to do, and exits 1", async () => {
    const r = await run(await readmeReactor(), "readme-reactor.ts", target);
    expect(await r.exit).toBe(1);
    expect(r.stderr()).toBe(`AttachError: ${expected(target)}\n`);
  }, 30_000);

  it("a reactor without an error callback ends with the same message as an uncaught error, without a stack trace", async () => {
    const r = await run(BARE_REACTOR, "bare-reactor.ts", target);
    expect(await r.exit).not.toBe(0);
    expect(r.stderr()).toContain(expected(target));
    expect(r.stderr()).not.toMatch(/^\s+at /m);
  }, 30_000);
});

it("with no node at the address, the README's reactor says so at once, naming the address, and keeps retrying", async () => {
  const target = `127.0.0.1:${await freePort()}`;
  const r = await run(await readmeReactor(), "unreachable-reactor.ts", target);
  const deadline = Date.now() + 20_000;
  while (!r.stderr().includes("\n") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(r.stderr()).toMatch(
    new RegExp(
      `^reactor "app": cannot reach the node at ${target.replace(/\./g, "\\.")} \\(UNAVAILABLE: .*ECONNREFUSED.*\\)\\. ` +
        `Check that the node is running and that ${target.replace(/\./g, "\\.")} is its grpc\\.laddr\\. Retrying in \\d+ ms; this is reported again every 30 s while it lasts\\.\n$`,
    ),
  );
  // Still running: it retries until the node answers.
  const exited = await Promise.race([r.exit.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 1_000))]);
  expect(exited).toBe(false);
}, 30_000);
