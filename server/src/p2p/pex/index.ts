/** The PEX reactor and its address book. */
export {
  AddressBook,
  type AddAddressResult,
  type AddressBookOptions,
  type AddressRejectReason,
  type BucketType,
  type KnownAddressInfo,
} from "./address-book.js";
export {
  BUCKET_TYPE_NEW,
  BUCKET_TYPE_OLD,
  decodeAddressBookFile,
  encodeAddressBookFile,
  type StoredAddressBook,
  type StoredKnownAddress,
} from "./address-book-file.js";
export { type PexClock, type PexRandom, type PexTimer, mathRandom, systemPexClock } from "./clock.js";
export * from "./defaults.js";
export {
  AddressBookCorruptError,
  AddressBookIoError,
  PexConfigError,
  PexDecodeError,
  PexInvalidAddressError,
  PexRequestTooSoonError,
  PexUnsolicitedAddrsError,
} from "./errors.js";
export { canonicalIp, groupKey, nonRoutableReason, parseIp, formatIp } from "./ip.js";
export { addressesFromProto, decodePexMessage, encodePexAddrs, encodePexRequest, type DecodedPexMessage } from "./pex-messages.js";
export { PexReactor, advertisedAddress, type DialOutcome, type PexReactorOptions } from "./pex-reactor.js";
