/**
 * Fuzz target: messages on the PEX channel (`decodePexMessage`,
 * `addressesFromProto`).
 *
 * Properties:
 * - decoding throws only `PexDecodeError`, conversion only
 *   `PexInvalidAddressError`;
 * - every converted address has a canonical IP literal and a port below
 *   65536, and survives `encodePexAddrs` → decode → convert unchanged;
 * - a request re-encodes to the two bytes `0a 00`.
 */
import { PexDecodeError, PexInvalidAddressError } from "../../server/src/p2p/pex/errors.js";
import { canonicalIp } from "../../server/src/p2p/pex/ip.js";
import { type DecodedPexMessage, addressesFromProto, decodePexMessage, encodePexAddrs, encodePexRequest } from "../../server/src/p2p/pex/pex-messages.js";
import { bytesEqual, check, expectTyped } from "./common.js";

export type DecodePex = (bytes: Uint8Array) => DecodedPexMessage;

export function checkPex(bytes: Uint8Array, decode: DecodePex = decodePexMessage): void {
  let msg: DecodedPexMessage;
  try {
    msg = decode(bytes);
  } catch (err) {
    expectTyped(err, [PexDecodeError], "decodePexMessage");
    return;
  }
  if (msg.kind === "request") {
    check(bytesEqual(encodePexRequest(), Uint8Array.of(0x0a, 0x00)), "PexRequest does not encode as 0a 00");
    return;
  }
  let addrs;
  try {
    addrs = addressesFromProto(msg.addrs);
  } catch (err) {
    expectTyped(err, [PexInvalidAddressError], "addressesFromProto");
    return;
  }
  check(addrs.length === msg.addrs.length, "addresses lost in conversion");
  for (const a of addrs) {
    check(canonicalIp(a.host) === a.host, () => `host "${a.host}" is not a canonical IP literal`);
    check(Number.isInteger(a.port) && a.port >= 0 && a.port < 65_536, () => `port ${a.port} out of range`);
  }
  const again = decode(encodePexAddrs(addrs));
  check(again.kind === "addrs", "PexAddrs re-encodes to something else");
  const back = addressesFromProto(again.addrs);
  check(
    back.length === addrs.length && back.every((b, i) => b.id === addrs[i]?.id && b.host === addrs[i].host && b.port === addrs[i].port),
    "PexAddrs does not survive re-encoding",
  );
}

export function fuzz(data: Uint8Array): void {
  checkPex(data);
}
