/**
 * Child processes of the harness and a small RPC over their IPC channel.
 *
 * Each of our nodes and remote reactors runs in its own process (as the Go
 * reference's goroutines run on every core); the controller calls methods on
 * them and awaits the results. Children are started through `sh` so that the
 * soft limit on open files can be raised to the hard limit first (500 peers
 * is 500 sockets on each side).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { compiled } from "./build.js";

type Handler = (args: never) => unknown;

interface Request {
  readonly id: number;
  readonly method: string;
  readonly args: unknown;
}

type Response = { readonly id: number; readonly result: unknown } | { readonly id: number; readonly error: string };

/** In a child: answers the parent's calls with `handlers`. Exits when the parent goes away. */
export function serve(handlers: Record<string, Handler>): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error("serve() must run in a child started by startChild()");
  process.on("message", (raw: Request) => {
    const handler = handlers[raw.method];
    Promise.resolve()
      .then(() => {
        if (handler === undefined) throw new Error(`unknown method ${raw.method}`);
        return (handler as (args: unknown) => unknown)(raw.args);
      })
      .then(
        (result: unknown) => send({ id: raw.id, result } satisfies Response),
        (err: unknown) => send({ id: raw.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Response),
      );
  });
  // A normal exit, so that --cpu-prof and friends write their files.
  process.on("disconnect", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  call<T>(method: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Kills the child (SIGKILL after a grace period) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Node flags of every child: gc exposed for the memory figures. */
export const CHILD_EXEC_ARGV = ["--expose-gc"];

/**
 * Starts `script` (a .ts path relative to bench/, run as compiled by
 * {@link buildOurs} into bench/dist/) as a child speaking the RPC of {@link serve}.
 */
export function startChild(name: string, script: string, options: { readonly execArgv?: readonly string[] } = {}): Child {
  const file = compiled(script);
  // BENCH_CHILD_NODE_OPTIONS adds flags to every child, e.g. "--cpu-prof --cpu-prof-dir=bench/.tmp/prof".
  const extra = (process.env["BENCH_CHILD_NODE_OPTIONS"] ?? "").split(" ").filter((s) => s !== "");
  const argv = [...(options.execArgv ?? CHILD_EXEC_ARGV), ...extra, file];
  const proc = spawn("sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...argv], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  return wrap(name, proc);
}

function wrap(name: string, proc: ChildProcess): Child {
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let exitError: Error | null = null;
  const exited = new Promise<void>((resolve) => {
    proc.once("exit", (code, signal) => {
      exitError = new Error(`${name} exited (code ${code ?? "-"}, signal ${signal ?? "-"})`);
      for (const p of pending.values()) p.reject(exitError);
      pending.clear();
      resolve();
    });
  });
  proc.on("message", (m: Response) => {
    const p = pending.get(m.id);
    if (p === undefined) return;
    pending.delete(m.id);
    if ("error" in m) p.reject(new Error(`${name}: ${m.error}`));
    else p.resolve(m.result);
  });
  return {
    name,
    pid: proc.pid ?? -1,
    call<T>(method: string, args: unknown = {}, timeoutMs = 300_000): Promise<T> {
      if (exitError !== null) return Promise.reject(exitError);
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}.${method} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        proc.send({ id, method, args } satisfies Request);
      });
    },
    async stop(): Promise<void> {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
