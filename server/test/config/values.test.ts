import { describe, expect, it } from "vitest";
import {
  ValueError,
  formatDuration,
  grpcTarget,
  parseBoolean,
  parseDuration,
  parseDurationMs,
  parseGrpcAddress,
  parseIdList,
  parseInteger,
  parseListenHostPort,
  parseNameList,
  parsePeerList,
  parseTcpAddress,
} from "../../src/config/values.js";

const ID = "0b14a087357f7ba164bed9f4d5a15d249341b273";

describe("durations in Go's spelling", () => {
  it.each([
    ["100ms", 100],
    ["3s", 3_000],
    ["1m30s", 90_000],
    ["1.5h", 5_400_000],
    ["2h45m", 9_900_000],
    ["500us", 0.5],
    ["500µs", 0.5],
    ["1000000ns", 1],
    [".5s", 500],
    ["0", 0],
    ["0s", 0],
    [" 3s ", 3_000],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDurationMs(text)).toBeCloseTo(ms, 9);
  });

  it.each(["3", "100", "", "s", "3 s", "3sec", "1d", "ms100", "1.2.3s", "3s!"])("refuses %j", (text) => {
    expect(() => parseDurationMs(text)).toThrow(ValueError);
  });

  it("refuses negative durations, and says a bare number needs a unit", () => {
    expect(() => parseDurationMs("-1s")).toThrow(/must not be negative/);
    expect(() => parseDurationMs("100")).toThrow(/a unit is required/);
  });

  it("applies bounds: positive, and Node's timer limit", () => {
    expect(() => parseDuration("0s", { positive: true })).toThrow(/more than 0/);
    expect(parseDuration("0s")).toBe(0);
    expect(() => parseDuration("600h")).toThrow(/at most/);
    expect(parseDuration("596h")).toBe(596 * 3_600_000);
    expect(() => parseDuration(3000)).toThrow(ValueError);
  });

  it("formats milliseconds back in the same spelling", () => {
    for (const ms of [100, 3_000, 60_000, 3_600_000, 1_500, 0]) expect(parseDurationMs(formatDuration(ms))).toBe(ms);
    expect(formatDuration(100)).toBe("100ms");
    expect(formatDuration(60_000)).toBe("1m");
  });
});

describe("addresses", () => {
  it("p2p.laddr: tcp://HOST:PORT or HOST:PORT, IPv6 bracketed, port 0 allowed", () => {
    expect(parseTcpAddress("tcp://127.0.0.1:26656", 0)).toEqual({ host: "127.0.0.1", port: 26656 });
    expect(parseTcpAddress("0.0.0.0:0", 0)).toEqual({ host: "0.0.0.0", port: 0 });
    expect(parseTcpAddress("tcp://[::1]:26656", 0)).toEqual({ host: "::1", port: 26656 });
    expect(parseTcpAddress("localhost:1", 0)).toEqual({ host: "localhost", port: 1 });
  });

  it.each([
    ["unix:///tmp/x.sock", /only tcp/],
    ["http://1.2.3.4:5", /only tcp/],
    ["1.2.3.4", /not HOST:PORT/],
    ["1.2.3.4:99999", /not a valid port/],
    ["bad host:1", /not a valid host/],
    ["::1:26656", /HOST:PORT|not a valid host/],
  ])("p2p.laddr refuses %j", (text, why) => {
    expect(() => parseTcpAddress(text, 0)).toThrow(why);
  });

  it("grpc.laddr: tcp://HOST:PORT, HOST:PORT and unix:///PATH", () => {
    expect(parseGrpcAddress("tcp://127.0.0.1:26670")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 26670 });
    expect(parseGrpcAddress("127.0.0.1:26670")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 26670 });
    expect(parseGrpcAddress("unix:///var/run/switchboard.sock")).toEqual({ kind: "unix", path: "/var/run/switchboard.sock" });
    expect(parseGrpcAddress("[::1]:9")).toEqual({ kind: "tcp", host: "::1", port: 9 });
    expect(() => parseGrpcAddress("unix://relative.sock")).toThrow(/must be absolute/);
    expect(() => parseGrpcAddress("unix://")).toThrow(/must be absolute/);
    expect(() => parseGrpcAddress("dns:///x:1")).toThrow(ValueError);
  });

  it("gives grpc-js targets", () => {
    expect(grpcTarget(parseGrpcAddress("tcp://127.0.0.1:26670"))).toBe("127.0.0.1:26670");
    expect(grpcTarget(parseGrpcAddress("[::1]:26670"))).toBe("[::1]:26670");
    expect(grpcTarget(parseGrpcAddress("unix:///run/s.sock"))).toBe("unix:///run/s.sock");
  });

  it("prometheus_listen_addr: an empty host means every interface", () => {
    expect(parseListenHostPort(":26660")).toEqual({ host: "", port: 26660 });
    expect(parseListenHostPort("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseListenHostPort("tcp://[::]:9")).toEqual({ host: "::", port: 9 });
    expect(() => parseListenHostPort("26660")).toThrow(ValueError);
    expect(() => parseListenHostPort(":http")).toThrow(/not a valid port/);
  });
});

describe("lists", () => {
  it("peer lists are comma-separated ID@HOST:PORT, blanks skipped, IDs lower-cased", () => {
    expect(parsePeerList("")).toEqual([]);
    expect(parsePeerList(` ${ID.toUpperCase()}@1.2.3.4:26656 , ,${"ab".repeat(20)}@[::1]:1`)).toEqual([
      { id: ID, host: "1.2.3.4", port: 26656 },
      { id: "ab".repeat(20), host: "::1", port: 1 },
    ]);
  });

  it("peer lists name the bad entry", () => {
    expect(() => parsePeerList("1.2.3.4:26656")).toThrow(/missing node ID/);
    expect(() => parsePeerList(`${ID}@1.2.3.4`)).toThrow(/not HOST:PORT/);
    expect(() => parsePeerList(`${ID}@1.2.3.4:1,${ID}@1.2.3.5:1`)).toThrow(/listed twice/);
    expect(() => parsePeerList(["a"])).toThrow(ValueError);
  });

  it("ID lists want 40 hex characters", () => {
    expect(parseIdList(`${ID},${ID.toUpperCase()}`)).toEqual([ID]);
    expect(() => parseIdList("abc")).toThrow(/not 40 hex/);
  });

  it("reactor names: a TOML array or a comma-separated string, unique", () => {
    expect(parseNameList(["mempool", "blocksync"])).toEqual(["mempool", "blocksync"]);
    expect(parseNameList("mempool, blocksync")).toEqual(["mempool", "blocksync"]);
    expect(parseNameList([])).toEqual([]);
    expect(() => parseNameList(["a", "a"])).toThrow(/listed twice/);
    expect(() => parseNameList(["a b"])).toThrow(/not a name/);
    expect(() => parseNameList([1])).toThrow(ValueError);
  });
});

describe("scalars keep TOML types from files and convert text", () => {
  it("integers", () => {
    expect(parseInteger(40, "file", 0, 100)).toBe(40);
    expect(parseInteger("40", "text", 0, 100)).toBe(40);
    expect(() => parseInteger("40", "file", 0, 100)).toThrow(ValueError);
    expect(() => parseInteger(1.5, "file", 0, 100)).toThrow(ValueError);
    expect(() => parseInteger("1e3", "text", 0, 10_000)).toThrow(ValueError);
    expect(() => parseInteger(-1, "file", 0, 100)).toThrow(/at least 0/);
    expect(() => parseInteger(101, "file", 0, 100)).toThrow(/at most 100/);
  });

  it("booleans", () => {
    expect(parseBoolean(true, "file")).toBe(true);
    expect(parseBoolean("FALSE", "text")).toBe(false);
    expect(() => parseBoolean("true", "file")).toThrow(ValueError);
    expect(() => parseBoolean("yes", "text")).toThrow(ValueError);
  });
});
