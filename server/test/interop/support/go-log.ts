/**
 * Reading what a CometBFT v0.38 node says about one peer connection, from its log file (run the node with
 * `log_level = "*:info,p2p:debug"`). The Go side of the wire, as Go itself saw it:
 *
 *   D[2026-11-21|07:23:27.133] Received bytes    module=p2p peer=<id>@127.0.0.1:51306 chID=64 msgBytes=0A020801
 *   D[2026-11-21|07:23:26.024] Send              module=p2p peer=<id>@127.0.0.1:51306 channel=64 conn=MConn{…} msgBytes=2A04…
 *   D[…] TrySend / Send Ping / Receive Pong / Receive Ping / Send Pong   module=p2p peer=<id>@…
 *
 * (p2p/conn/connection.go and p2p/peer.go, v0.38: `Send`/`TrySend` log the marshalled message when it is queued,
 * `Received bytes` the reassembled message before it is handed to the reactor; ping and pong are logged by the
 * MConnection routines.) Lines of one peer carry `peer=<node id>@<socket address>` (unquoted).
 */
import { readFileSync } from "node:fs";

export interface GoLogLine {
  /** D, I, E, … */
  readonly level: string;
  readonly message: string;
  /** key=value pairs after the message; quoted values are unquoted. */
  readonly fields: Readonly<Record<string, string>>;
}

const LINE = /^([A-Z])\[[^\]]*\] (.*)$/;
const FIELD = /(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g;

/** Parses one line of CometBFT's default (logfmt-like) log format; undefined for other lines. */
export function parseGoLogLine(line: string): GoLogLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const rest = m[2] ?? "";
  // Keyvals start with `module=` on every line a module logger writes.
  const at = rest.search(/\smodule=/);
  const message = (at < 0 ? rest : rest.slice(0, at)).trim();
  const fields: Record<string, string> = {};
  if (at >= 0) {
    for (const f of rest.slice(at).matchAll(FIELD)) {
      const raw = f[2] ?? "";
      fields[f[1] ?? ""] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    }
  }
  return { level: m[1] ?? "", message, fields };
}

export function readGoLog(path: string): GoLogLine[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .map(parseGoLogLine)
    .filter((l): l is GoLogLine => l !== undefined);
}

/** Lines about connections to the node `peerId` (any connection of it). */
export function peerLines(lines: readonly GoLogLine[], peerId: string): GoLogLine[] {
  return lines.filter((l) => l.fields["peer"]?.startsWith(`${peerId}@`) === true);
}

export interface GoWireMessage {
  readonly channelId: number;
  /** upper-case hex, as Go's %X prints it */
  readonly hex: string;
}

/** Messages the Go node reassembled from `peerId` (`Received bytes`), in order. */
export function messagesGoReceived(lines: readonly GoLogLine[], peerId: string): GoWireMessage[] {
  return peerLines(lines, peerId)
    .filter((l) => l.message === "Received bytes")
    .map((l) => ({ channelId: Number(l.fields["chID"]), hex: l.fields["msgBytes"] ?? "" }));
}

/** Messages the Go node queued for `peerId` (`Send` and `TrySend` of the MConnection), in order. */
export function messagesGoSent(lines: readonly GoLogLine[], peerId: string): GoWireMessage[] {
  return peerLines(lines, peerId)
    .filter((l) => (l.message === "Send" || l.message === "TrySend") && l.fields["msgBytes"] !== undefined)
    .map((l) => ({ channelId: Number(l.fields["channel"]), hex: l.fields["msgBytes"] ?? "" }));
}

export interface GoPingPong {
  readonly sendPing: number;
  readonly receivePong: number;
  readonly receivePing: number;
  readonly sendPong: number;
}

/** How often the Go node pinged `peerId`, got its pong, got its ping, and answered it. */
export function goPingPong(lines: readonly GoLogLine[], peerId: string): GoPingPong {
  const mine = peerLines(lines, peerId);
  const count = (message: string): number => mine.filter((l) => l.message === message).length;
  return {
    sendPing: count("Send Ping"),
    receivePong: count("Receive Pong"),
    receivePing: count("Receive Ping"),
    sendPong: count("Send Pong"),
  };
}

/** Debug lines Go writes several times per block for channels we do not advertise (consensus gossip). */
const NOISE = /^D\[[^\]]*\] (?:Broadcast|Unknown channel for peer)\s/;

/** The last `count` lines of the log, without the per-block consensus-gossip debug noise. */
export function logTailWithoutNoise(path: string, count = 80): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    return `(cannot read ${path}: ${err instanceof Error ? err.message : String(err)})`;
  }
  return text
    .trimEnd()
    .split("\n")
    .filter((l) => !NOISE.test(l))
    .slice(-count)
    .join("\n");
}

/** Upper-case hex of bytes, to compare with Go's `msgBytes`. */
export function hexUpper(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex").toUpperCase();
}
