/**
 * IP literals as PEX and the address book see them: parsing and printing the
 * way Go's `net.ParseIP` and `net.IP.String` do, and the address classes
 * CometBFT's NetAddress uses for validity, routability and bucket groups.
 *
 * An IPv4 address and its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`) are the
 * same address, as in Go: both parse to the 4-byte form.
 */

/** A parsed IP: 4 bytes for IPv4 (mapped forms included), 16 for IPv6. */
export type IpBytes = Uint8Array;

const IPV4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i] as string;
    // Leading zeros are refused, as Go has done since 1.17 (they are ambiguous: octal or decimal).
    if (!IPV4_OCTET.test(p)) return null;
    out[i] = Number(p);
  }
  return out;
}

function parseIpv6(s: string): Uint8Array | null {
  if (s.length === 0 || s.length > 45) return null;
  const out = new Uint8Array(16);
  const double = s.indexOf("::");
  if (double !== -1 && s.indexOf("::", double + 1) !== -1) return null;
  const headText = double === -1 ? s : s.slice(0, double);
  const tailText = double === -1 ? "" : s.slice(double + 2);
  const head = headText === "" ? [] : headText.split(":");
  const tail = tailText === "" ? [] : tailText.split(":");
  const groups: number[] = [];
  const tailGroups: number[] = [];
  const parseGroups = (list: string[], into: number[], mayEndWithV4: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i] as string;
      if (mayEndWithV4 && i === list.length - 1 && g.includes(".")) {
        const v4 = parseIpv4(g);
        if (v4 === null) return false;
        into.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      into.push(parseInt(g, 16));
    }
    return true;
  };
  if (!parseGroups(head, groups, double === -1)) return null;
  if (!parseGroups(tail, tailGroups, true)) return null;
  const total = groups.length + tailGroups.length;
  if (double === -1 ? total !== 8 : total > 7) return null;
  const all = [...groups, ...new Array<number>(8 - total).fill(0), ...tailGroups];
  for (let i = 0; i < 8; i++) {
    const g = all[i] as number;
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  }
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/**
 * Parses an IPv4 or IPv6 literal (no brackets, no zone, no host names), as
 * Go's `net.ParseIP`. Null when `s` is not one.
 */
export function parseIp(s: string): IpBytes | null {
  if (s.includes(":")) {
    const b = parseIpv6(s);
    if (b === null) return null;
    return isV4Mapped(b) ? b.slice(12, 16) : b;
  }
  return parseIpv4(s);
}

/** Prints an IP as Go's `net.IP.String` does: dotted IPv4, RFC 5952 IPv6. */
export function formatIp(ip: IpBytes): string {
  if (ip.length === 4) return Array.from(ip).join(".");
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((ip[2 * i] as number) << 8) | (ip[2 * i + 1] as number));
  // The longest run of two or more zero groups (the first on a tie) becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** The canonical text of an IP literal, or null when `s` is not one. */
export function canonicalIp(s: string): string | null {
  const b = parseIp(s);
  return b === null ? null : formatIp(b);
}

interface Cidr {
  readonly net: Uint8Array;
  readonly bits: number;
}

function cidr(text: string, bits: number): Cidr {
  const net = parseIp(text);
  if (net === null) throw new Error(`bad CIDR ${text}`);
  return { net, bits };
}

/** True when `ip` is inside the network; an IPv4 address is never inside an IPv6 network, and back. */
function contains(c: Cidr, ip: IpBytes): boolean {
  if (ip.length !== c.net.length) return false;
  let bits = c.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((ip[i] as number) & mask) !== ((c.net[i] as number) & mask)) return false;
  }
  return true;
}

const RFC1918 = [cidr("10.0.0.0", 8), cidr("192.168.0.0", 16), cidr("172.16.0.0", 12)];
const RFC3849 = cidr("2001:db8::", 32); // IPv6 documentation
const RFC3927 = cidr("169.254.0.0", 16); // IPv4 link-local
const RFC3964 = cidr("2002::", 16); // 6to4
const RFC4193 = cidr("fc00::", 7); // IPv6 unique local
const RFC4380 = cidr("2001::", 32); // Teredo
const RFC4843 = cidr("2001:10::", 28); // ORCHID
const RFC4862 = cidr("fe80::", 64); // IPv6 link-local autoconfiguration
const RFC6052 = cidr("64:ff9b::", 96); // IPv4/IPv6 translation well-known prefix
const RFC6145 = cidr("::ffff:0:0:0", 96); // IPv4-translated
const ZERO4 = cidr("0.0.0.0", 8); // "this network"
const ONION_CAT = cidr("fd87:d87e:eb43::", 48); // Tor
const HE_NET = cidr("2001:470::", 32); // Hurricane Electric, grouped by /36

function isZero(ip: IpBytes): boolean {
  return ip.every((b) => b === 0);
}

/** 0.0.0.0 or `::`. */
export function isUnspecified(ip: IpBytes): boolean {
  return isZero(ip);
}

/** 127.0.0.0/8 or `::1`. */
export function isLoopback(ip: IpBytes): boolean {
  if (ip.length === 4) return ip[0] === 127;
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) return false;
  return ip[15] === 1;
}

/** Why an IP can never be a peer's address; null when it can. */
export function invalidIpReason(ip: IpBytes): string | null {
  if (isUnspecified(ip)) return "unspecified IP";
  if (contains(RFC3849, ip)) return "documentation IP (RFC 3849)";
  if (ip.length === 4 && ip.every((b) => b === 0xff)) return "broadcast IP";
  return null;
}

/** Loopback or 0.0.0.0/8 (CometBFT's `Local`). */
export function isLocal(ip: IpBytes): boolean {
  return isLoopback(ip) || contains(ZERO4, ip);
}

/**
 * Why a valid IP is not routable on the public Internet (CometBFT's
 * `Routable`, used when `addr_book_strict` is on); null when it is routable.
 */
export function nonRoutableReason(ip: IpBytes): string | null {
  const invalid = invalidIpReason(ip);
  if (invalid !== null) return invalid;
  if (RFC1918.some((c) => contains(c, ip))) return "private IPv4 (RFC 1918)";
  if (contains(RFC3927, ip)) return "link-local IPv4 (RFC 3927)";
  if (contains(RFC4862, ip)) return "link-local IPv6 (RFC 4862)";
  if (contains(RFC4193, ip)) return "unique local IPv6 (RFC 4193)";
  if (contains(RFC4843, ip)) return "ORCHID IPv6 (RFC 4843)";
  if (isLocal(ip)) return "loopback or 0.0.0.0/8";
  return null;
}

function maskedV4(b: Uint8Array): string {
  return `${b[0] ?? 0}.${b[1] ?? 0}.0.0`;
}

/**
 * The network group of an IP, for bucket placement: the /16 of IPv4 (also
 * when tunnelled in IPv6), the /32 of IPv6 (/36 for he.net), a Tor group, or
 * "local"/"unroutable" in strict mode (CometBFT's `groupKeyFor`).
 */
export function groupKey(ip: IpBytes, strict: boolean): string {
  if (strict && isLocal(ip)) return "local";
  if (strict && nonRoutableReason(ip) !== null) return "unroutable";
  if (ip.length === 4) return maskedV4(ip);
  if (contains(RFC6145, ip) || contains(RFC6052, ip)) return maskedV4(ip.subarray(12, 16));
  if (contains(RFC3964, ip)) return maskedV4(ip.subarray(2, 6));
  if (contains(RFC4380, ip)) return maskedV4(ip.subarray(12, 16).map((b) => b ^ 0xff));
  if (contains(ONION_CAT, ip)) return `tor:${(ip[6] as number) & 0x0f}`;
  const bits = contains(HE_NET, ip) ? 36 : 32;
  const masked = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const left = bits - 8 * i;
    const mask = left >= 8 ? 0xff : left <= 0 ? 0 : (0xff << (8 - left)) & 0xff;
    masked[i] = (ip[i] as number) & mask;
  }
  return formatIp(masked);
}
