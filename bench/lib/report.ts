/** Result rows, the comparison table and bench/results/latest.json. */
import { execFileSync } from "node:child_process";
import { renameSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import { dirname } from "node:path";
import { median } from "./stats.js";

/** Which way a figure is better. */
export type Better = "higher" | "lower";

export interface Target {
  /** What the target says, e.g. "≥ 1.0" or "≤ 200 µs". */
  readonly text: string;
  /** Checks the row's figures. */
  readonly met: (row: { ours: number; theirs: number | null; ratio: number | null }) => boolean;
}

export interface Row {
  readonly scenario: string;
  /** Message size in bytes, or null for scenarios without one. */
  readonly sizeBytes: number | null;
  readonly metric: string;
  readonly unit: string;
  readonly better: Better;
  /** One figure per round; the table shows the median. */
  readonly ours: number[];
  /** Null where CometBFT has no counterpart. */
  readonly theirs: number[] | null;
  readonly target?: Target;
  /** Extra figures (per round) kept in the JSON, e.g. MB/s beside msgs/s. */
  readonly detail?: Record<string, number[]>;
}

/** Collects figures by key across rounds. */
export class Rows {
  private readonly rows = new Map<string, Row>();

  add(r: Omit<Row, "ours" | "theirs" | "detail"> & { ours?: number; theirs?: number | null; detail?: Record<string, number> }): void {
    const key = `${r.scenario}|${r.sizeBytes ?? "-"}|${r.metric}`;
    let row = this.rows.get(key);
    if (row === undefined) {
      const { ours: _ours, theirs, detail, ...rest } = r;
      row = { ...rest, ours: [], theirs: theirs === null ? null : [], ...(detail === undefined ? {} : { detail: {} }) };
      this.rows.set(key, row);
    }
    if (r.ours !== undefined) row.ours.push(r.ours);
    if (r.theirs !== undefined && r.theirs !== null) row.theirs?.push(r.theirs);
    const detail = row.detail;
    if (detail !== undefined) {
      for (const [k, v] of Object.entries(r.detail ?? {})) (detail[k] ??= []).push(v);
    }
  }

  list(): Row[] {
    return [...this.rows.values()];
  }
}

export interface Summary {
  readonly scenario: string;
  readonly sizeBytes: number | null;
  readonly metric: string;
  readonly unit: string;
  readonly better: Better;
  readonly ours: { readonly median: number; readonly rounds: number[] };
  readonly theirs: { readonly median: number; readonly rounds: number[] } | null;
  /** Switchboard / CometBFT, medians. */
  readonly ratio: number | null;
  readonly target: string | null;
  readonly met: boolean | null;
  readonly detail?: Record<string, { readonly median: number; readonly rounds: number[] }>;
}

export function summarize(rows: readonly Row[]): Summary[] {
  return rows.map((r) => {
    const ours = median(r.ours);
    const theirs = r.theirs === null || r.theirs.length === 0 ? null : median(r.theirs);
    const ratio = theirs === null || theirs === 0 ? null : ours / theirs;
    const met = r.target === undefined || r.ours.length === 0 ? null : r.target.met({ ours, theirs, ratio });
    return {
      scenario: r.scenario,
      sizeBytes: r.sizeBytes,
      metric: r.metric,
      unit: r.unit,
      better: r.better,
      ours: { median: ours, rounds: r.ours },
      theirs: theirs === null || r.theirs === null ? null : { median: theirs, rounds: r.theirs },
      ratio,
      target: r.target?.text ?? null,
      met,
      ...(r.detail === undefined
        ? {}
        : { detail: Object.fromEntries(Object.entries(r.detail).map(([k, v]) => [k, { median: median(v), rounds: v }])) }),
    };
  });
}

export function sizeLabel(size: number | null): string {
  if (size === null) return "";
  if (size >= 1024 * 1024) return `${size / 1024 / 1024} MiB`;
  if (size >= 1024) return `${size / 1024} KiB`;
  return `${size} B`;
}

function fmt(v: number, unit: string): string {
  if (!Number.isFinite(v)) return "-";
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
}

/** The comparison table, as Markdown. */
export function renderTable(summaries: readonly Summary[]): string {
  const head = ["scenario", "size", "metric", "Switchboard", "CometBFT", "ratio SB/CB", "better", "target", ""];
  const lines = summaries.map((s) => [
    s.scenario,
    sizeLabel(s.sizeBytes),
    s.metric,
    fmt(s.ours.median, s.unit),
    s.theirs === null ? "—" : fmt(s.theirs.median, s.unit),
    s.ratio === null ? "—" : s.ratio.toFixed(2),
    s.better === "higher" ? "↑" : "↓",
    s.target ?? "",
    s.met === null ? "" : s.met ? "met" : "MISSED",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const row = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [row(head), row(widths.map((w) => "-".repeat(w))), ...lines.map(row)].join("\n");
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly cpuSpeedMHz: number;
  readonly totalMemBytes: number;
  readonly platform: string;
  readonly release: string;
  readonly loadAvgAtStart: readonly number[];
  loadAvgAtEnd: readonly number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cpus: cpus.length,
    cpuSpeedMHz: cpus[0]?.speed ?? 0,
    totalMemBytes: os.totalmem(),
    platform: os.platform(),
    release: os.release(),
    loadAvgAtStart: os.loadavg(),
    loadAvgAtEnd: [],
  };
}

/** `git rev-parse HEAD` (plus "-dirty" when the tree has changes), or "unknown". */
export function gitCommit(cwd: string): string {
  try {
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd, encoding: "utf8" }).trim() !== "";
    return dirty ? `${head}-dirty` : head;
  } catch {
    return "unknown";
  }
}

/** Writes `value` as JSON to `path` atomically (through `path.tmp`). */
export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`);
  renameSync(tmp, path);
}
