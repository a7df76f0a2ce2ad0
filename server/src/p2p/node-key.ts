/**
 * The node key file, `config/node_key.json`, in CometBFT's format so that a
 * key moves between CometBFT and Switchboard unchanged:
 *
 *     {"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"<base64 of seed || public key>"}}
 */
import { readFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { type Ed25519PrivateKey, ed25519KeyFromSeed, generateEd25519Key, nodeIdFromPublicKey } from "../wire/crypto/ed25519.js";
import { removeStaleTempFiles, writeFileAtomic } from "../util/atomic-file.js";

export const ED25519_PRIV_KEY_TYPE = "tendermint/PrivKeyEd25519";

/** A node's identity: its ed25519 key and the ID derived from it. */
export interface NodeKey {
  readonly privateKey: Ed25519PrivateKey;
  /** Lower-case hex of the first 20 bytes of SHA-256 of the public key. */
  readonly id: string;
}

/** A node key file that cannot be used; the message names the file and the problem. */
export class NodeKeyFileError extends Error {
  readonly code = "node_key_file_invalid";
  constructor(
    readonly path: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`node key file ${path}: ${reason}`, options);
    this.name = "NodeKeyFileError";
  }
}

export function nodeKeyFromPrivateKey(privateKey: Ed25519PrivateKey): NodeKey {
  return { privateKey, id: nodeIdFromPublicKey(privateKey.publicKey) };
}

export function generateNodeKey(): NodeKey {
  return nodeKeyFromPrivateKey(generateEd25519Key());
}

/** The JSON text of a node key file. */
export function encodeNodeKeyFile(key: NodeKey): string {
  const value = Buffer.concat([key.privateKey.seed, key.privateKey.publicKey]).toString("base64");
  return `${JSON.stringify({ priv_key: { type: ED25519_PRIV_KEY_TYPE, value } })}\n`;
}

/** Parses the JSON text of a node key file; `path` is only used in errors. */
export function decodeNodeKeyFile(text: string, path: string): NodeKey {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new NodeKeyFileError(path, "not valid JSON", { cause: err });
  }
  const priv = (doc as { priv_key?: { type?: unknown; value?: unknown } } | null)?.priv_key;
  if (priv === undefined || typeof priv !== "object") throw new NodeKeyFileError(path, 'missing "priv_key"');
  if (priv.type !== ED25519_PRIV_KEY_TYPE) {
    throw new NodeKeyFileError(path, `priv_key.type is ${JSON.stringify(priv.type)}, only "${ED25519_PRIV_KEY_TYPE}" is supported`);
  }
  if (typeof priv.value !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(priv.value)) {
    throw new NodeKeyFileError(path, "priv_key.value is not base64");
  }
  const raw = Buffer.from(priv.value, "base64");
  if (raw.length !== 64) throw new NodeKeyFileError(path, `priv_key.value holds ${raw.length} bytes, expected 64`);
  const key = ed25519KeyFromSeed(new Uint8Array(raw.subarray(0, 32)));
  if (!Buffer.from(key.publicKey).equals(raw.subarray(32))) {
    throw new NodeKeyFileError(path, "the public half does not match the private key");
  }
  return nodeKeyFromPrivateKey(key);
}

export async function loadNodeKey(path: string): Promise<NodeKey> {
  await removeStaleTempFiles(path);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new NodeKeyFileError(path, (err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "cannot be read", {
      cause: err,
    });
  }
  return decodeNodeKeyFile(text, path);
}

/** Writes the key atomically with mode 0600. */
export async function saveNodeKey(path: string, key: NodeKey): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, encodeNodeKeyFile(key), { mode: 0o600 });
}

/** Loads the key at `path`, or creates and saves one if there is no file. Never overwrites. */
export async function loadOrGenerateNodeKey(path: string): Promise<NodeKey> {
  try {
    return await loadNodeKey(path);
  } catch (err) {
    if (!(err instanceof NodeKeyFileError) || (err.cause as NodeJS.ErrnoException | undefined)?.code !== "ENOENT") throw err;
  }
  const key = generateNodeKey();
  await saveNodeKey(path, key);
  return key;
}
