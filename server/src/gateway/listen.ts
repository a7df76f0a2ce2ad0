/**
 * Where the gateway listens: `grpc.laddr` as grpc-js wants it, a stale Unix
 * socket left by a killed node, and listen failures as one line that says
 * what to do.
 */
import { lstat } from "node:fs/promises";
import { connect } from "node:net";
import { GatewayListenError } from "./errors.js";

/** `tcp://HOST:PORT`, `HOST:PORT` or `unix:///PATH` → grpc-js's `HOST:PORT` or `unix:/PATH`. */
export function toGrpcAddress(laddr: string): string {
  if (laddr.startsWith("unix://")) return `unix:${laddr.slice("unix://".length)}`;
  return laddr.replace(/^tcp:\/\//, "");
}

/** The errno code (EADDRINUSE...) of a listen failure; grpc-js puts it in the message only. */
function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return /\b(E[A-Z]{3,})\b/.exec(err instanceof Error ? err.message : String(err))?.[1];
}

/** Whether path is a Unix socket on which no process accepts connections. */
export async function isStaleSocket(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => null);
  if (st === null || !st.isSocket()) return false;
  return new Promise((resolve) => {
    const c = connect(path);
    c.once("connect", () => {
      c.destroy();
      resolve(false);
    });
    c.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

/** Why listening on `laddr` failed, and what to do about it. */
export function listenError(laddr: string, err: unknown): GatewayListenError {
  const code = errnoOf(err);
  const unix = laddr.startsWith("unix://");
  const why =
    code === "EADDRINUSE"
      ? unix
        ? "another process is listening on this socket (is another node running with this home?)"
        : "address already in use (is another node running? choose another port with --grpc.laddr)"
      : code === "EACCES"
        ? unix
          ? "permission denied (check the socket directory's permissions)"
          : "permission denied (ports below 1024 need privileges)"
        : code === "EADDRNOTAVAIL"
          ? "no such local address"
          : code === "ENOENT"
            ? "the socket's directory does not exist"
            : err instanceof Error
              ? err.message
              : String(err);
  return new GatewayListenError(`cannot listen on grpc.laddr ${laddr}: ${why}`, { cause: err });
}
