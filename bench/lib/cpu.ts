/**
 * CPU time of processes, from /proc (Linux). Wall-clock rates swing with
 * whatever else runs on the machine; CPU time per message much less, so
 * throughput rows also report it (the Go reference measures the same with
 * getrusage).
 */
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/PID/stat (USER_HZ; 100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of `pid` in µs, or null where /proc is missing. */
export function cpuTimeUs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1e6) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Sum of {@link cpuTimeUs} over `pids`, or null when any is unknown. */
export function totalCpuTimeUs(pids: readonly number[]): number | null {
  let total = 0;
  for (const pid of pids) {
    const t = cpuTimeUs(pid);
    if (t === null) return null;
    total += t;
  }
  return total;
}

/** {@link cpuTimeUs} of each named process, read once each; null when any is unknown. */
export function cpuByProcess(processes: Readonly<Record<string, number>>): Record<string, number> | null {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(processes)) {
    const us = cpuTimeUs(pid);
    if (us === null) return null;
    out[name] = us;
  }
  return out;
}

/** The CPU time each process spent between two {@link cpuByProcess} readings; null when either is. */
export function cpuSpent(before: Record<string, number> | null, after: Record<string, number> | null): Record<string, number> | null {
  if (before === null || after === null) return null;
  return Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
}

/** `spent` divided by `count`, process by process and in total (null stays null). */
export function cpuPer(spent: Record<string, number> | null, count: number): { total: number; byProcess: Record<string, number> } | null {
  if (spent === null) return null;
  const byProcess = Object.fromEntries(Object.entries(spent).map(([k, us]) => [k, us / count]));
  return { total: Object.values(spent).reduce((a, b) => a + b, 0) / count, byProcess };
}
