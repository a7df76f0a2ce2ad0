/**
 * Hostile handshakes: the remote's AuthSigMessage with adversarial keys and
 * signatures (property in fuzz/targets/handshake.ts), and whole hostile byte
 * streams in place of the remote's side of `performHandshake`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FUZZ_CHALLENGE, checkAuthSig } from "../../../fuzz/targets/handshake.js";
import { concatBytes } from "../../../fuzz/targets/common.js";
import { AuthSigMessage, EphemeralKey } from "../../src/gen/switchboard/p2p/v1/conn.js";
import { ed25519KeyFromSeed, generateEd25519Key } from "../../src/wire/crypto/ed25519.js";
import { DeadlineExceededError, WireError } from "../../src/wire/errors.js";
import { checkAuthSigMessage, performHandshake } from "../../src/wire/secret-connection/handshake.js";
import { encodeDelimited } from "../../src/wire/varint.js";
import { createDuplexPair } from "../support/duplex-pair.js";
import { expectPropertyToFail, hostilePrefix, junk } from "./support.js";

const signer = ed25519KeyFromSeed(new Uint8Array(32).fill(7));

const authSig = fc.record({
  keyCase: fc.constantFrom("ed25519", "secp256k1", "none"),
  keyLength: fc.constantFrom(0, 31, 32, 33, 64),
  sig: fc.oneof(fc.constant("valid" as const), fc.uint8Array({ maxLength: 70 })),
  realKey: fc.boolean(),
});

function encodeAuthSig(a: { keyCase: string; keyLength: number; sig: "valid" | Uint8Array; realKey: boolean }): Uint8Array {
  const value = a.realKey && a.keyLength === 32 ? signer.publicKey : new Uint8Array(a.keyLength).fill(3);
  const pubKey = a.keyCase === "none" ? undefined : { sum: a.keyCase === "ed25519" ? { $case: "ed25519" as const, value } : { $case: "secp256k1" as const, value } };
  return AuthSigMessage.encode({ pubKey, sig: a.sig === "valid" ? signer.sign(FUZZ_CHALLENGE) : a.sig }).finish();
}

const body = fc.oneof({ weight: 4, arbitrary: authSig.map(encodeAuthSig) }, { weight: 1, arbitrary: junk(120) });

/** What the remote sends in place of an honest handshake. */
const hostileStream = fc.oneof(
  junk(200),
  // A plausible ephemeral key message with a wrong size or a hostile prefix, then junk.
  fc.tuple(fc.uint8Array({ maxLength: 40 }), junk(64)).map(([k, j]) => concatBytes([encodeDelimited(EphemeralKey.encode({ value: k }).finish()), j])),
  fc.tuple(hostilePrefix, junk(16)).map(([p, j]) => concatBytes([p, j])),
  // A valid ephemeral key followed by garbage where the sealed AuthSig frame should be.
  fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 2 * 1044 })).map(([k, j]) => concatBytes([encodeDelimited(EphemeralKey.encode({ value: k }).finish()), j])),
);

describe("handshake under hostile input", () => {
  it("AuthSigMessage: typed errors only; accepted only when the key signed the challenge", () => {
    let accepted = 0;
    fc.assert(
      fc.property(body, (b) => {
        checkAuthSig(b);
        try {
          checkAuthSigMessage(b, FUZZ_CHALLENGE);
          accepted++;
        } catch {
          // counted above
        }
      }),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it("a hostile remote makes performHandshake reject with a typed error, by its deadline at the latest", async () => {
    await fc.assert(
      fc.asyncProperty(hostileStream, fc.boolean(), async (bytes, endAfter) => {
        const [local, remote] = createDuplexPair();
        remote.on("data", () => undefined); // the remote reads and ignores our half
        remote.on("error", () => undefined);
        const started = performance.now();
        const attempt = performHandshake(local, generateEd25519Key(), { timeoutMs: 250 });
        remote.write(bytes);
        if (endAfter) remote.end();
        const outcome = await attempt.then(
          () => null,
          (err: unknown) => err,
        );
        local.destroy();
        remote.destroy();
        expect(outcome).toBeInstanceOf(WireError);
        // By the deadline, with slack for a loaded machine; an oversized message is refused as such (its own
        // error type, not the deadline's), so it did not wait for the deadline.
        expect(performance.now() - started).toBeLessThan(250 + 200);
        if (outcome instanceof DeadlineExceededError) expect(endAfter && bytes.length === 0).toBe(false);
      }),
      { numRuns: 60 },
    );
  }, 30_000);

  it("the property catches a verifier that skips the signature check", () => {
    expectPropertyToFail(body, (b) => {
      checkAuthSig(b, (m, challenge) => {
        try {
          return checkAuthSigMessage(m, challenge);
        } catch (err) {
          const key = AuthSigMessage.decode(m).pubKey?.sum;
          if (key?.$case === "ed25519" && key.value.length === 32) return key.value;
          throw err;
        }
      });
    });
  });
});
