/**
 * The NodeInfo exchange, run over the SecretConnection right after its
 * handshake: both sides send their delimited NodeInfo at once, and each reads
 * the other's with a 10240-byte body limit under its own deadline.
 */
import type { Duplex } from "node:stream";
import { DeadlineExceededError } from "./errors.js";
import { MAX_NODE_INFO_SIZE_BYTES, type NodeInfo, decodeNodeInfo, encodeNodeInfoDelimited } from "./node-info.js";
import { StreamReader } from "./stream-reader.js";

export interface ExchangeNodeInfoOptions {
  /** Deadline for sending ours and reading theirs. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * Sends `ours` and returns the remote's NodeInfo, decoded but not validated.
 * Bytes the remote sent after its NodeInfo are pushed back onto `conn`, so the
 * next reader (the MConnection) sees them first.
 */
export async function exchangeNodeInfo(conn: Duplex, ours: NodeInfo, options: ExchangeNodeInfoOptions): Promise<NodeInfo> {
  const deadline = new AbortController();
  const timer = setTimeout(() => {
    deadline.abort(new DeadlineExceededError("NodeInfo exchange", options.timeoutMs));
  }, options.timeoutMs);
  const signal = options.signal === undefined ? deadline.signal : AbortSignal.any([deadline.signal, options.signal]);
  const reader = new StreamReader(conn, { signal });
  try {
    conn.write(encodeNodeInfoDelimited(ours));
    const body = await reader.readDelimited(MAX_NODE_INFO_SIZE_BYTES, "NodeInfo");
    return decodeNodeInfo(body);
  } finally {
    clearTimeout(timer);
    const rest = reader.release();
    if (rest.length > 0 && !conn.destroyed) conn.unshift(rest);
  }
}
