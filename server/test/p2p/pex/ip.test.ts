import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalIp, groupKey, invalidIpReason, nonRoutableReason, parseIp } from "../../../src/p2p/pex/ip.js";

function ip(s: string): Uint8Array {
  const b = parseIp(s);
  if (b === null) throw new Error(`test input ${s} does not parse`);
  return b;
}

describe("parseIp / formatIp", () => {
  it.each([
    ["1.2.3.4", "1.2.3.4"],
    ["255.255.255.255", "255.255.255.255"],
    ["::ffff:1.2.3.4", "1.2.3.4"],
    ["::FFFF:102:304", "1.2.3.4"],
    ["2001:DB8::1", "2001:db8::1"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["1:0:0:1:0:0:0:1", "1:0:0:1::1"],
    ["1:0:0:0:1:0:0:1", "1::1:0:0:1"],
    ["1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"],
    ["0:0:0:0:0:0:1.2.3.4", "::102:304"],
    ["64:ff9b::1.2.3.4", "64:ff9b::102:304"],
  ])("%s prints as %s", (input, expected) => {
    expect(canonicalIp(input)).toBe(expected);
  });

  it.each(["", "01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1:2:3:4:5:6:7:8:9", "1::2::3", "fe80::1%eth0", "[::1]", "example.com", ":1::", "1:::2", "1.2.3.4::", "12345::"])(
    "refuses %j",
    (input) => {
      expect(parseIp(input)).toBeNull();
    },
  );

  it("prints IPv4 exactly as written (property)", () => {
    fc.assert(
      fc.property(fc.ipV4(), (s) => {
        expect(canonicalIp(s)).toBe(s);
      }),
    );
  });

  it("prints IPv6 in the same canonical form as the WHATWG URL serializer (property)", () => {
    fc.assert(
      fc.property(fc.ipV6(), (s) => {
        const b = parseIp(s);
        expect(b).not.toBeNull();
        if (b === null || b.length === 4) return; // IPv4-mapped: we print dotted IPv4, as Go does
        expect(canonicalIp(s)).toBe(new URL(`http://[${s}]/`).hostname.slice(1, -1));
      }),
    );
  });
});

describe("address classes", () => {
  it.each([
    ["0.0.0.0", "unspecified IP"],
    ["::", "unspecified IP"],
    ["255.255.255.255", "broadcast IP"],
    ["2001:db8::5", "documentation IP (RFC 3849)"],
  ])("%s is never a valid peer IP (%s)", (input, reason) => {
    expect(invalidIpReason(ip(input))).toBe(reason);
  });

  it.each([
    ["10.1.2.3", /RFC 1918/],
    ["172.16.0.1", /RFC 1918/],
    ["172.31.255.255", /RFC 1918/],
    ["192.168.1.1", /RFC 1918/],
    ["::ffff:10.0.0.1", /RFC 1918/],
    ["169.254.1.1", /RFC 3927/],
    ["fe80::1", /RFC 4862/],
    ["fc00::1", /RFC 4193/],
    ["fd12:3456::1", /RFC 4193/],
    ["2001:10::1", /RFC 4843/],
    ["127.0.0.1", /loopback/],
    ["::1", /loopback/],
    ["0.1.2.3", /loopback or 0\.0\.0\.0\/8/],
  ])("%s is not routable", (input, reason) => {
    expect(nonRoutableReason(ip(input))).toMatch(reason);
  });

  it.each(["8.8.8.8", "172.15.0.1", "172.32.0.1", "2a00:1450:4001::1", "100.64.0.1", "11.0.0.1"])("%s is routable", (input) => {
    expect(nonRoutableReason(ip(input))).toBeNull();
  });

  it.each([
    ["1.2.3.4", false, "1.2.0.0"],
    ["10.1.2.3", false, "10.1.0.0"],
    ["10.1.2.3", true, "unroutable"],
    ["127.0.0.1", true, "local"],
    ["2a00:1450:4001::1", true, "2a00:1450::"],
    ["2001:470:1234::1", true, "2001:470:1000::"],
    ["2002:102:304::1", true, "1.2.0.0"],
    ["2001:0:4136:e378:8000:63bf:fefd:fcfb", true, "1.2.0.0"],
    ["64:ff9b::102:304", true, "1.2.0.0"],
    ["fd87:d87e:eb43:1234:5678::1", false, "tor:2"],
  ])("groupKey(%s, strict=%s) = %s", (input, strict, expected) => {
    expect(groupKey(ip(input), strict)).toBe(expected);
  });
});
