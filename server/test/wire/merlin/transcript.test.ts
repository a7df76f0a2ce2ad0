import { describe, expect, it } from "vitest";
import { MerlinTranscript } from "../../../src/wire/merlin/transcript.js";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

// Published vectors: gtank/merlin and curve25519-voi primitives/merlin (see testvectors/merlin.md).
describe("MerlinTranscript", () => {
  it('reproduces the published "simple" vector', () => {
    const t = new MerlinTranscript("test protocol");
    t.appendMessage("some label", utf8("some data"));
    expect(toHex(t.extractBytes("challenge", 32))).toBe("d5a21972d0d5fe320c0d263fac7fffb8145aa640af6e9bca177c03c7efcf0615");
  });

  it('reproduces the published "complex" vector', () => {
    const t = new MerlinTranscript("test protocol");
    t.appendMessage("step1", utf8("some data"));
    const data = new Uint8Array(1024).fill(99);
    let chl: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 32; i++) {
      chl = t.extractBytes("challenge", 32);
      t.appendMessage("bigdata", data);
      t.appendMessage("challengedata", chl);
    }
    expect(toHex(chl)).toBe("a8c933f54fae76e3f9bea93648c1308e7dfa2152dd51674ff3ca438351cf003c");
  });

  it("reproduces the derived SecretConnection transcript vector", () => {
    const t = new MerlinTranscript("TENDERMINT_SECRET_CONNECTION_TRANSCRIPT_HASH");
    t.appendMessage("EPHEMERAL_LOWER_PUBLIC_KEY", hex("84509fabedbdc259f839f883bb444c5214f8706ea12f057540012d8cd339e44a"));
    t.appendMessage("EPHEMERAL_UPPER_PUBLIC_KEY", hex("d5e4b51a40266b6d0a909bb88a0dc3ec43d143435557e92d76cc0e0fcd4ecb12"));
    t.appendMessage("DH_SECRET", hex("1389a665d2753abc37460faf8c71f322b3c5a2f8d0580038507065fd87d13f0a"));
    expect(toHex(t.extractBytes("SECRET_CONNECTION_MAC", 32))).toBe(
      "d876f099bbc8bd0114968d7abc9c6c623c7395dccabb38c7a11e9fad9cc100e6",
    );
  });

  it("treats string labels as their UTF-8 bytes", () => {
    const a = new MerlinTranscript("test protocol");
    const b = new MerlinTranscript(utf8("test protocol"));
    a.appendMessage("some label", utf8("some data"));
    b.appendMessage(utf8("some label"), utf8("some data"));
    expect(toHex(a.extractBytes("challenge", 32))).toBe(toHex(b.extractBytes(utf8("challenge"), 32)));
  });

  it("binds every input: label, message and protocol change the output", () => {
    const run = (protocol: string, label: string, message: string): string => {
      const t = new MerlinTranscript(protocol);
      t.appendMessage(label, utf8(message));
      return toHex(t.extractBytes("challenge", 32));
    };
    const base = run("test protocol", "some label", "some data");
    expect(run("test protocol!", "some label", "some data")).not.toBe(base);
    expect(run("test protocol", "some labe1", "some data")).not.toBe(base);
    expect(run("test protocol", "some label", "some datA")).not.toBe(base);
  });

  it("extracts lengths that cross the STROBE rate, deterministically", () => {
    const a = new MerlinTranscript("x");
    const b = new MerlinTranscript("x");
    const out = a.extractBytes("long", 500);
    expect(out).toHaveLength(500);
    expect(toHex(b.extractBytes("long", 500))).toBe(toHex(out));
    // A second extraction differs from the first.
    expect(toHex(a.extractBytes("long", 500))).not.toBe(toHex(out));
    expect(a.extractBytes("none", 0)).toHaveLength(0);
  });
  it("clones: a clone continues exactly like the original, and the two stay independent", () => {
    const original = new MerlinTranscript("test protocol");
    original.appendMessage("prefix", utf8("shared"));
    const clone = original.clone();
    const fresh = new MerlinTranscript("test protocol");
    fresh.appendMessage("prefix", utf8("shared"));
    // Work on the clone first: it must not move the original.
    clone.appendMessage("label", utf8("clone only"));
    const fromClone = toHex(clone.extractBytes("challenge", 32));
    original.appendMessage("label", utf8("original only"));
    fresh.appendMessage("label", utf8("original only"));
    expect(toHex(original.extractBytes("challenge", 32))).toBe(toHex(fresh.extractBytes("challenge", 32)));
    const replay = new MerlinTranscript("test protocol");
    replay.appendMessage("prefix", utf8("shared"));
    replay.appendMessage("label", utf8("clone only"));
    expect(fromClone).toBe(toHex(replay.extractBytes("challenge", 32)));
  });

  it("clones mid-block and across a permutation", () => {
    // 300 bytes absorbed crosses the 166-byte rate: the clone must carry the position too.
    const original = new MerlinTranscript("x");
    original.appendMessage("big", new Uint8Array(300).fill(7));
    const clone = original.clone();
    expect(toHex(clone.extractBytes("out", 200))).toBe(toHex(original.extractBytes("out", 200)));
  });
});
