import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHARED_VECTORS_DIR, VECTORS_DIR } from "./vectors.js";

describe("test vectors", () => {
  it("the repository's copy holds every vector file", () => {
    expect(readdirSync(VECTORS_DIR).sort()).toEqual(
      expect.arrayContaining(["TestDeriveSecretsAndChallengeGolden.golden", "proto_vectors.json", "secret_connection_handshake_vector.json", "wire_examples.json", "merlin.md"]),
    );
  });

  // Where the project's shared copy sits beside the clone, the two must agree byte for byte.
  const shared = existsSync(SHARED_VECTORS_DIR) ? readdirSync(SHARED_VECTORS_DIR) : [];
  it.each(shared)("%s equals the shared copy", (name) => {
    expect(readFileSync(join(VECTORS_DIR, name)).equals(readFileSync(join(SHARED_VECTORS_DIR, name)))).toBe(true);
  });
});
