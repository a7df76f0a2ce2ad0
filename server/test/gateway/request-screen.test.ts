/**
 * The pre-decoding screen of AttachRequests, on encoded messages: what a
 * request over 64 KiB may be (payload commands, alone or in one batch with a
 * small ack and credit, not too many of them), and that every verdict it
 * gives agrees with the decoder on what the message holds.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttachRequest, type Command } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import { MAX_BATCH_COMMANDS, MAX_BATCH_PART_BYTES, MAX_CONTROL_MESSAGE_BYTES, MAX_LARGE_REQUEST_COMMANDS, screenAttachRequest } from "../../src/gateway/request-screen.js";

const send = (requestId: bigint, size: number): Command => ({ requestId, kind: { $case: "send", value: { connectionId: "c1", peerId: "p".repeat(40), channelId: 0x40, message: new Uint8Array(size), timeoutMs: 0 } } });
const batch = (commands: Command[], ack?: bigint, credit?: { messages: number; bytes: bigint }): Uint8Array =>
  AttachRequest.encode({ msg: { $case: "batch", value: { ack: ack === undefined ? undefined : { eventSeq: ack }, credit, commands } } }).finish();
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
const field = (tag: number, body: Uint8Array | number[]): Uint8Array => Uint8Array.from([tag, ...varint(body.length), ...body]);
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

describe("screenAttachRequest", () => {
  it("lets anything up to 64 KiB through to the decoder", () => {
    const setPeerData: Command = { requestId: 1n, kind: { $case: "setPeerData", value: { connectionId: "", peerId: "p", key: "k", value: new Uint8Array(MAX_CONTROL_MESSAGE_BYTES - 100) } } };
    expect(screenAttachRequest(batch([setPeerData]))).toBeNull();
  });

  it("admits a large batch of sends with an ack and a credit, and a large lone send", () => {
    const cmds = Array.from({ length: MAX_BATCH_COMMANDS }, (_, i) => send(BigInt(i) + 2n ** 63n, 300));
    const raw = batch(cmds, 2n ** 64n - 1n, { messages: 0xffff_ffff, bytes: 2n ** 64n - 1n });
    expect(raw.length).toBeGreaterThan(MAX_CONTROL_MESSAGE_BYTES);
    expect(screenAttachRequest(raw)).toBeNull();
    expect(screenAttachRequest(AttachRequest.encode({ msg: { $case: "command", value: send(1n, 200_000) } }).finish())).toBeNull();
    // Try_send and broadcast carry payloads too.
    const others: Command[] = [
      { requestId: 1n, kind: { $case: "trySend", value: { connectionId: "", peerId: "p", channelId: 1, message: new Uint8Array(40_000) } } },
      { requestId: 2n, kind: { $case: "broadcast", value: { channelId: 1, message: new Uint8Array(40_000) } } },
    ];
    expect(screenAttachRequest(batch(others))).toBeNull();
  });

  it("admits a large batch just over the batch limit (its commands are answered one by one), refuses one over the decoding bound", () => {
    expect(screenAttachRequest(batch(Array.from({ length: MAX_LARGE_REQUEST_COMMANDS }, (_, i) => send(BigInt(i), 20))))).toBeNull();
    expect(screenAttachRequest(batch(Array.from({ length: MAX_LARGE_REQUEST_COMMANDS + 1 }, (_, i) => send(BigInt(i), 20))))).toMatch(/more than 4096 commands/);
    // Commands outside a batch count too.
    const loose = concat(...Array.from({ length: MAX_LARGE_REQUEST_COMMANDS + 1 }, (_, i) => AttachRequest.encode({ msg: { $case: "command", value: send(BigInt(i), 20) } }).finish()));
    expect(loose.length).toBeGreaterThan(MAX_CONTROL_MESSAGE_BYTES);
    expect(screenAttachRequest(loose)).toMatch(/more than 4096 commands/);
  });

  it("refuses a large batch with a command that carries no payload, anywhere in it", () => {
    const big = Array.from({ length: 300 }, (_, i) => send(BigInt(i), 300));
    const numPeers: Command = { requestId: 9n, kind: { $case: "numPeers", value: {} } };
    for (const at of [0, 150, 300]) {
      const cmds = [...big];
      cmds.splice(at, 0, numPeers);
      expect(screenAttachRequest(batch(cmds))).toMatch(/only send, try_send and broadcast commands may exceed 65536 bytes/);
    }
    const empty: Command = { requestId: 9n, kind: undefined };
    expect(screenAttachRequest(batch([...big, empty]))).toBeNull(); // a request ID alone is small: answered "command.kind: not set"
  });

  it("refuses a large batch whose ack or credit is not small, or repeated, or two batches in one request", () => {
    const cmds = Array.from({ length: 300 }, (_, i) => send(BigInt(i), 300));
    // Build RequestBatch bodies by hand: [parts...] inside field 5.
    const encodedCommands = concat(...cmds.map((c) => {
      const req = AttachRequest.encode({ msg: { $case: "command", value: c } }).finish();
      // req = 0x22 <len> <Command>: re-tag the Command as RequestBatch.commands (0x1a).
      return Uint8Array.from([0x1a, ...req.subarray(1)]);
    }));
    const wrap = (...parts: Uint8Array[]): Uint8Array => field(0x2a, [...concat(...parts)]);
    const ack = field(0x0a, [0x08, 0x05]);
    const credit = field(0x12, [0x08, 0x01, 0x10, 0x01]);
    expect(screenAttachRequest(wrap(ack, credit, encodedCommands))).toBeNull();
    expect(AttachRequest.decode(wrap(ack, credit, encodedCommands)).msg?.$case).toBe("batch");
    const fatAck = field(0x0a, Array.from({ length: MAX_BATCH_PART_BYTES + 2 }, (_, i) => (i % 2 === 0 ? 0x08 : 0x01)));
    expect(screenAttachRequest(wrap(fatAck, encodedCommands))).toMatch(/only send, try_send and broadcast/);
    expect(screenAttachRequest(wrap(ack, ack, encodedCommands))).toMatch(/only send, try_send and broadcast/);
    expect(screenAttachRequest(wrap(credit, credit, encodedCommands))).toMatch(/only send, try_send and broadcast/);
    expect(screenAttachRequest(concat(wrap(encodedCommands), wrap(ack)))).toMatch(/only send, try_send and broadcast/);
    // An unknown field in a large batch is not small either.
    expect(screenAttachRequest(wrap(field(0x22, [1, 2, 3]), encodedCommands))).toMatch(/only send, try_send and broadcast/);
  });

  it("refuses a large send whose body has more fields than a Send, and a command with two kinds", () => {
    // Send { message (field 4) repeated 9 times }: each occurrence would be decoded.
    const manyFields = concat(...Array.from({ length: 9 }, () => field(0x22, new Uint8Array(8000))));
    const cmd = concat(Uint8Array.from([0x08, 0x01]), field(0x12, manyFields));
    expect(screenAttachRequest(field(0x22, cmd))).toMatch(/only send, try_send and broadcast/);
    const eight = concat(...Array.from({ length: 8 }, () => field(0x22, new Uint8Array(9000))));
    expect(screenAttachRequest(field(0x22, concat(Uint8Array.from([0x08, 0x01]), field(0x12, eight))))).toBeNull();
    const twoKinds = concat(Uint8Array.from([0x08, 0x01]), field(0x12, field(0x22, new Uint8Array(40_000))), field(0x1a, field(0x22, new Uint8Array(40_000))));
    expect(screenAttachRequest(field(0x22, twoKinds))).toMatch(/only send, try_send and broadcast/);
  });

  it("calls a large message whose lengths run past its end malformed", () => {
    const raw = batch(Array.from({ length: 300 }, (_, i) => send(BigInt(i), 300)));
    expect(screenAttachRequest(raw.subarray(0, raw.length - 1))).toMatch(/malformed/);
    const lying = Uint8Array.from([...raw]);
    lying[1] = 0xff; // the batch's length prefix now claims more than there is
    expect(screenAttachRequest(lying)).not.toBeNull();
  });

  it("property: whatever it admits over 64 KiB holds, once decoded, only payload-carrying commands", () => {
    const intruder = fc.oneof(
      fc.constant<Command>({ requestId: 3n, kind: { $case: "numPeers", value: {} } }),
      fc.integer({ min: 0, max: 3000 }).map<Command>((n) => ({ requestId: 4n, kind: { $case: "setPeerData", value: { connectionId: "", peerId: "p", key: "k", value: new Uint8Array(n) } } })),
    );
    const commands = fc
      .tuple(fc.array(fc.integer({ min: 1500, max: 5000 }), { minLength: 30, maxLength: 80, size: "max" }), fc.option(fc.tuple(fc.nat(), intruder), { nil: undefined }))
      .map(([sizes, odd]) => {
        const cmds = sizes.map((n, i) => send(BigInt(i), n));
        if (odd !== undefined) cmds.splice(odd[0] % (cmds.length + 1), 0, odd[1]);
        return cmds;
      });
    const req = fc.record({ cmds: commands, ack: fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { nil: undefined }), cut: fc.nat(), flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { nil: undefined }) });
    let admittedLarge = 0;
    fc.assert(
      fc.property(req, ({ cmds, ack, cut, flip }) => {
        let raw = batch(cmds, ack, { messages: 1, bytes: 1n });
        if (flip !== undefined) {
          raw = Uint8Array.from(raw);
          raw[flip[0] % raw.length] = flip[1];
        }
        if (cut % 5 === 0) raw = raw.subarray(0, cut % raw.length);
        const verdict = screenAttachRequest(raw);
        if (raw.length <= MAX_CONTROL_MESSAGE_BYTES) {
          expect(verdict).toBeNull();
          return;
        }
        if (verdict !== null) return;
        // Admitted: the decoder may still find it malformed (a corrupted ack, say: the gateway then ends the
        // stream with "malformed message"), but what it does decode holds only payload-carrying commands.
        let m: AttachRequest["msg"];
        try {
          m = AttachRequest.decode(raw).msg;
        } catch {
          return;
        }
        admittedLarge++;
        const commands = m?.$case === "batch" ? m.value.commands : m?.$case === "command" ? [m.value] : [];
        for (const c of commands) expect(c.kind === undefined || ["send", "trySend", "broadcast"].includes(c.kind.$case)).toBe(true);
        if (flip === undefined && cut % 5 !== 0) expect(commands.every((c) => c.kind?.$case === "send")).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(admittedLarge).toBeGreaterThan(5);
  });
});
