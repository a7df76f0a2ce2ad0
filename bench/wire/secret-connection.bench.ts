/**
 * Throughput of the SecretConnection hot path: sealing + opening 1 MiB writes.
 *
 *   npx tsx bench/wire/secret-connection.bench.ts [totalMiB]
 *
 * Prints two figures: the codec alone (FrameSealer → FrameOpener, no streams)
 * and two SecretConnections over an in-memory duplex pair (the codec plus
 * stream plumbing and backpressure). MB/s counts plaintext bytes, 1 MB = 10^6 B.
 */
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { generateEd25519Key } from "../../server/src/wire/crypto/ed25519.js";
import { FrameOpener, FrameSealer, performHandshake } from "../../server/src/wire/secret-connection/index.js";
import { createDuplexPair } from "../../server/test/support/duplex-pair.js";

const WRITE_BYTES = 1024 * 1024;
const totalMiB = Number(process.argv[2] ?? "128");
const writes = Math.max(1, Math.floor(totalMiB));
const payload = new Uint8Array(WRITE_BYTES);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;

function mbPerSecond(bytes: number, ms: number): string {
  return (bytes / 1e6 / (ms / 1000)).toFixed(1);
}

function benchCodec(): void {
  const key = new Uint8Array(32).fill(1);
  const sealer = new FrameSealer(key);
  const opener = new FrameOpener(key);
  let opened = 0;
  const started = performance.now();
  for (let i = 0; i < writes; i++) {
    for (const chunk of opener.push(sealer.seal(payload))) opened += chunk.length;
  }
  const ms = performance.now() - started;
  if (opened !== writes * WRITE_BYTES) throw new Error("codec bench lost bytes");
  console.log(`codec only      : ${writes} x 1 MiB sealed+opened in ${ms.toFixed(0)} ms = ${mbPerSecond(opened, ms)} MB/s`);
}

async function benchConnection(): Promise<void> {
  const [rawA, rawB] = createDuplexPair();
  const [a, b] = await Promise.all([performHandshake(rawA, generateEd25519Key()), performHandshake(rawB, generateEd25519Key())]);
  const total = writes * WRITE_BYTES;
  let received = 0;
  const done = new Promise<void>((resolve) => {
    b.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received === total) resolve();
    });
  });
  const started = performance.now();
  for (let i = 0; i < writes; i++) {
    if (!a.write(payload)) await once(a, "drain");
  }
  await done;
  const ms = performance.now() - started;
  console.log(`SecretConnection: ${writes} x 1 MiB over a duplex pair in ${ms.toFixed(0)} ms = ${mbPerSecond(total, ms)} MB/s`);
  a.destroy();
  b.destroy();
}

benchCodec();
await benchConnection();
