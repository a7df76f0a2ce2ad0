import { describe, expect, it } from "vitest";
import { parseNetAddress } from "../../src/p2p/net-address.js";

const ID = "9aca905ac4096e7899b70c58c30e87d4b347c243";

describe("parseNetAddress", () => {
  it("parses ID@HOST:PORT, with or without a scheme", () => {
    expect(parseNetAddress(`${ID}@127.0.0.1:26656`)).toEqual({ id: ID, host: "127.0.0.1", port: 26656 });
    expect(parseNetAddress(`tcp://${ID.toUpperCase()}@[::1]:26656`)).toEqual({ id: ID, host: "::1", port: 26656 });
  });

  it("names the missing part: a node ID alone lacks @HOST:PORT, HOST:PORT alone lacks the ID", () => {
    expect(() => parseNetAddress(ID)).toThrow(`invalid peer address "${ID}": missing @HOST:PORT after the node ID (expected ID@HOST:PORT)`);
    expect(() => parseNetAddress("1.2.3.4:26656")).toThrow('invalid peer address "1.2.3.4:26656": missing node ID (expected ID@HOST:PORT)');
    expect(() => parseNetAddress(`${ID}@a@b:1`)).toThrow("more than one @");
    expect(() => parseNetAddress(`${ID}@127.0.0.1`)).toThrow("not HOST:PORT");
  });
});
