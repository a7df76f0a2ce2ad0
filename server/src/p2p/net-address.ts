/**
 * Peer addresses in CometBFT's `id@host:port` form. A `scheme://` prefix is
 * accepted and dropped; IPv6 hosts are bracketed.
 */
import { isIP } from "node:net";
import { isValidHost, isValidNodeId, parsePort, splitHostPort, stripScheme } from "../wire/node-info.js";

export interface NetAddress {
  /** Node ID, lower-case hex. */
  readonly id: string;
  /** IP literal or DNS name. */
  readonly host: string;
  readonly port: number;
}

/** An address that is not `id@host:port`; the message says which part is wrong. */
export class NetAddressError extends Error {
  readonly code = "invalid_net_address";
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid peer address "${input}": ${reason} (expected ID@HOST:PORT)`);
    this.name = "NetAddressError";
  }
}

/** Parses `[scheme://]id@host:port`. */
export function parseNetAddress(input: string): NetAddress {
  const s = stripScheme(input.trim());
  const parts = s.split("@");
  if (parts.length === 1) {
    throw new NetAddressError(input, isValidNodeId(s) ? "missing @HOST:PORT after the node ID" : "missing node ID");
  }
  if (parts.length !== 2) throw new NetAddressError(input, "more than one @");
  const [id, hostPort] = parts as [string, string];
  if (!isValidNodeId(id)) throw new NetAddressError(input, `node ID "${id}" is not 40 hex characters`);
  const { host, port } = parseHostPort(hostPort, input);
  return { id: id.toLowerCase(), host, port };
}

/** Parses `[scheme://]host:port` (no ID); `what` names the input in errors. */
export function parseHostPort(input: string, what = input): { host: string; port: number } {
  const hp = splitHostPort(stripScheme(input.trim()));
  if (hp === null) throw new NetAddressError(what, "not HOST:PORT");
  if (!isValidHost(hp.host)) throw new NetAddressError(what, `"${hp.host}" is not a valid host`);
  const port = parsePort(hp.port);
  if (port === null) throw new NetAddressError(what, `"${hp.port}" is not a valid port`);
  return { host: hp.host, port };
}

/** A comma-separated list, as config keys like `persistent_peers` hold; empty entries are skipped. */
export function parseNetAddressList(list: string): NetAddress[] {
  return list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(parseNetAddress);
}

/** `host:port`, bracketing IPv6. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `id@host:port`. */
export function formatNetAddress(addr: NetAddress): string {
  return `${addr.id}@${formatHostPort(addr.host, addr.port)}`;
}
