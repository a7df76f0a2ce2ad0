/**
 * The PEX channel's messages (`tendermint.p2p.Message`): a oneof of
 * `pex_request` (field 1, always emitted even though empty: `0a 00`) and
 * `pex_addrs` (field 2). Pure functions, no state.
 */
import { PexMessage } from "../../gen/switchboard/p2p/v1/pex.js";
import type { NetAddress as ProtoNetAddress } from "../../gen/switchboard/p2p/v1/types.js";
import type { NetAddress } from "../net-address.js";
import { PexDecodeError, PexInvalidAddressError } from "./errors.js";
import { formatIp, parseIp } from "./ip.js";

/** A decoded PEX message. Addresses are raw: see {@link addressesFromProto}. */
export type DecodedPexMessage =
  | { readonly kind: "request" }
  | { readonly kind: "addrs"; readonly addrs: readonly ProtoNetAddress[] };

/** `PexRequest{}` wrapped in the oneof: always the two bytes `0a 00`. */
export function encodePexRequest(): Uint8Array {
  return PexMessage.encode({ sum: { $case: "pexRequest", value: {} } }).finish();
}

/** `PexAddrs{addrs}` wrapped in the oneof; an empty list is `12 00`. */
export function encodePexAddrs(addrs: readonly NetAddress[]): Uint8Array {
  return PexMessage.encode({
    sum: { $case: "pexAddrs", value: { addrs: addrs.map((a) => ({ id: a.id, ip: a.host, port: a.port })) } },
  }).finish();
}

/**
 * Decodes bytes received on the PEX channel. Throws {@link PexDecodeError}
 * for bytes that are not protobuf, and for an empty or unknown oneof (for
 * example the legacy "V2" fields 3 and 4, which v0.38 does not have).
 */
export function decodePexMessage(bytes: Uint8Array): DecodedPexMessage {
  let msg: PexMessage;
  try {
    msg = PexMessage.decode(bytes);
  } catch (err) {
    throw new PexDecodeError(`${bytes.length} bytes do not decode as tendermint.p2p.Message: ${(err as Error).message}`, { cause: err });
  }
  const sum = msg.sum;
  if (sum === undefined) throw new PexDecodeError(`${bytes.length} bytes carry no known message (empty or unknown oneof field)`);
  if (sum.$case === "pexRequest") return { kind: "request" };
  return { kind: "addrs", addrs: sum.value.addrs };
}

/**
 * Converts received addresses as Go's `NetAddressesFromProto` does: the IP
 * must be an IP literal and the port below 65536, else the whole list is
 * refused with {@link PexInvalidAddressError} (and CometBFT bans the
 * sender). IDs and routability are the address book's business.
 */
export function addressesFromProto(addrs: readonly ProtoNetAddress[]): NetAddress[] {
  return addrs.map((a, i) => {
    const ip = parseIp(a.ip);
    if (ip === null) throw new PexInvalidAddressError(i, `"${a.ip.slice(0, 64)}" is not an IP address`);
    if (a.port >= 65_536) throw new PexInvalidAddressError(i, `port ${a.port} is not below 65536`);
    return { id: a.id, host: formatIp(ip), port: a.port };
  });
}
