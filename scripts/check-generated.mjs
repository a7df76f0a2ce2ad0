// Fails when the checked-in generated code differs from what `buf generate`
// produces from proto/ now: generated code must never drift from its source.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
// Each template with the proto paths it is generated from (as in `npm run proto:gen`).
const templates = [
  { file: "buf.gen.yaml", paths: [] },
  { file: "buf.gen.client.yaml", paths: ["proto/switchboard/gateway"] },
  { file: "examples/typescript/buf.gen.yaml", paths: ["proto/switchboard/cometbft"] },
];
const scratch = mkdtempSync(join(tmpdir(), "switchboard-gen-"));
const outDirs = [];

function listFiles(dir) {
  const out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

try {
  for (const t of templates) {
    const template = readFileSync(join(root, t.file), "utf8");
    const dirs = [...template.matchAll(/^\s*out:\s*(\S+)\s*$/gm)].map((m) => m[1]);
    outDirs.push(...dirs);
    let scratchTemplate = template;
    for (const dir of dirs) scratchTemplate = scratchTemplate.replace(`out: ${dir}`, `out: ${join(scratch, dir)}`);
    const templatePath = join(scratch, t.file);
    mkdirSync(dirname(templatePath), { recursive: true });
    writeFileSync(templatePath, scratchTemplate);
    const args = ["generate", "--template", templatePath, ...t.paths.flatMap((p) => ["--path", p])];
    execFileSync(join(root, "node_modules/.bin/buf"), args, { cwd: root, stdio: "inherit" });
  }
  const problems = [];
  for (const dir of outDirs) {
    const fresh = new Map(listFiles(join(scratch, dir)).map((f) => [relative(join(scratch, dir), f), readFileSync(f, "utf8")]));
    const committed = new Map(listFiles(join(root, dir)).map((f) => [relative(join(root, dir), f), readFileSync(f, "utf8")]));
    for (const [name, text] of fresh) {
      if (!committed.has(name)) problems.push(`missing: ${dir}/${name}`);
      else if (committed.get(name) !== text) problems.push(`stale: ${dir}/${name}`);
    }
    for (const name of committed.keys()) if (!fresh.has(name)) problems.push(`orphan: ${dir}/${name}`);
  }
  if (problems.length > 0) {
    console.error("Generated code is out of sync with proto/. Run `npm run proto:gen` and commit the result:");
    for (const p of problems) console.error(`  ${p}`);
    process.exit(1);
  }
  console.log(`generated code in sync (${outDirs.join(", ")})`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
