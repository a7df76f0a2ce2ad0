/**
 * Typed errors of the PEX reactor and the address book. Each has a stable
 * `code` for logs and metrics. The errors a peer causes are the `reason`
 * given to `stopPeerForError`, so their messages name the peer's fault.
 */
import { P2PError } from "../errors.js";

/** Bytes on the PEX channel that are not a `tendermint.p2p.Message` we know. */
export class PexDecodeError extends P2PError {
  readonly code = "pex_decode";
  constructor(detail: string, options?: ErrorOptions) {
    super(`malformed PEX message: ${detail}`, options);
  }
}

/** A PexAddrs entry with an IP that does not parse or a port above 65535 (the sender is banned). */
export class PexInvalidAddressError extends P2PError {
  readonly code = "pex_invalid_address";
  constructor(
    readonly index: number,
    detail: string,
  ) {
    super(`PexAddrs entry ${index}: ${detail}`);
  }
}

/** A PexAddrs without an outstanding PexRequest of ours (CometBFT's `ErrUnsolicitedList`; the sender is banned). */
export class PexUnsolicitedAddrsError extends P2PError {
  readonly code = "pex_unsolicited_addrs";
  constructor(peerId: string) {
    super(`peer ${peerId} sent PexAddrs we did not ask for (or a second reply to one request)`);
  }
}

/** A PexRequest that came sooner than the minimum interval after the previous one (the sender is banned). */
export class PexRequestTooSoonError extends P2PError {
  readonly code = "pex_request_too_soon";
  constructor(
    peerId: string,
    readonly sinceLastMs: number,
    readonly minIntervalMs: number,
  ) {
    super(`peer ${peerId} sent a PexRequest ${sinceLastMs} ms after the previous one; the minimum is ${minIntervalMs} ms`);
  }
}

/** A reactor or address book option out of range; `field` names it. */
export class PexConfigError extends P2PError {
  readonly code = "pex_config";
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`invalid PEX option ${field}: ${reason}`);
  }
}

/** An address book file that exists but cannot be read as one. */
export class AddressBookCorruptError extends P2PError {
  readonly code = "addrbook_corrupt";
  constructor(
    readonly path: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`address book file ${path} is corrupt: ${detail} (fix or delete the file; a missing file starts an empty book)`, options);
  }
}

/** Reading or writing the address book file failed for a reason other than its content. */
export class AddressBookIoError extends P2PError {
  readonly code = "addrbook_io";
  constructor(
    readonly path: string,
    operation: "read" | "write",
    options?: ErrorOptions,
  ) {
    super(`cannot ${operation} address book file ${path}: ${errorMessage(options?.cause)}`, options);
  }
}

function errorMessage(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
