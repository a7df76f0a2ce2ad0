/**
 * Fuzz target: the remote's AuthSigMessage, the one handshake message that
 * carries structure (`checkAuthSigMessage`).
 *
 * Properties: it throws only `DecodeError`, `InvalidPublicKeyError`,
 * `UnsupportedKeyTypeError` or `AuthSignatureError`; when it accepts, the key
 * it returns is 32 bytes and really signed the challenge.
 */
import { verifyEd25519 } from "../../server/src/wire/crypto/ed25519.js";
import { DecodeError } from "../../server/src/wire/errors.js";
import { AuthSignatureError, InvalidPublicKeyError, UnsupportedKeyTypeError } from "../../server/src/wire/secret-connection/errors.js";
import { checkAuthSigMessage } from "../../server/src/wire/secret-connection/handshake.js";
import { check, expectTyped } from "./common.js";

/** The challenge every fuzzed AuthSigMessage is checked against (seeds sign it with a fixed key). */
export const FUZZ_CHALLENGE = Uint8Array.from({ length: 32 }, (_, i) => i);

export function checkAuthSig(body: Uint8Array, verify: typeof checkAuthSigMessage = checkAuthSigMessage): void {
  let key: Uint8Array;
  try {
    key = verify(body, FUZZ_CHALLENGE);
  } catch (err) {
    expectTyped(err, [DecodeError, InvalidPublicKeyError, UnsupportedKeyTypeError, AuthSignatureError], "checkAuthSigMessage");
    return;
  }
  check(key.length === 32, () => `accepted a ${key.length}-byte key`);
  // Whatever else the message holds, the accepted key must have signed the challenge with some signature in it.
  check(findsSignature(body, key), "accepted a key that did not sign the challenge");
}

/** True when some 64-byte window of `body` is a valid signature of the challenge by `key`. */
function findsSignature(body: Uint8Array, key: Uint8Array): boolean {
  for (let i = 0; i + 64 <= body.length; i++) {
    if (verifyEd25519(key, FUZZ_CHALLENGE, body.subarray(i, i + 64))) return true;
  }
  return false;
}

export function fuzz(data: Uint8Array): void {
  checkAuthSig(data);
}
