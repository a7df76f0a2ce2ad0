/**
 * MConnection throughput: two MConnections over TCP loopback (plain, no
 * SecretConnection), rate limits off, flush throttle 10 ms, one channel.
 * For each message size, one side sends as fast as the queue admits and the
 * other counts; the clock runs from the first send to the last delivery.
 *
 *   npx tsx bench/wire/mconnection.bench.ts
 */
import { once } from "node:events";
import net from "node:net";
import { MConnection } from "../../server/src/wire/mconnection/index.js";

const CHANNEL = 0x40;
const QUEUE_CAPACITY = 1000;
const TARGET_BYTES = 256 * 1024 * 1024;

async function tcpPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, "connection") as Promise<[net.Socket]>;
  const client = net.connect(port, "127.0.0.1");
  await once(client, "connect");
  const [socket] = await accepted;
  server.close();
  for (const s of [client, socket]) s.setNoDelay(true);
  return [client, socket];
}

interface Result {
  sizeBytes: number;
  messages: number;
  seconds: number;
}

async function run(sizeBytes: number): Promise<Result> {
  const [a, b] = await tcpPair();
  const config = { sendRateBytesPerSecond: 0, recvRateBytesPerSecond: 0, flushThrottleMs: 10 };
  const channels = [{ id: CHANNEL, priority: 1, sendQueueCapacity: QUEUE_CAPACITY, recvMessageCapacity: 2 * 1024 * 1024 }];
  const messages = Math.max(200, Math.min(1_000_000, Math.floor(TARGET_BYTES / sizeBytes)));
  let received = 0;
  let receivedBytes = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const fail = (error: Error): void => {
    throw error;
  };
  const sender = new MConnection(a, channels, { onReceive: () => undefined, onError: fail }, config);
  const receiver = new MConnection(
    b,
    channels,
    {
      onReceive: (_ch, message) => {
        received++;
        receivedBytes += message.length;
        if (received === messages) done();
      },
      onError: fail,
    },
    config,
  );
  sender.start();
  receiver.start();
  const payload = new Uint8Array(sizeBytes).fill(7);
  const start = process.hrtime.bigint();
  for (let i = 0; i < messages; i++) {
    if (!sender.trySend(CHANNEL, payload)) {
      if (!(await sender.send(CHANNEL, payload, { timeoutMs: 60_000 }))) throw new Error("send timed out");
    }
  }
  await finished;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (receivedBytes !== messages * sizeBytes) throw new Error("byte count mismatch");
  sender.stop();
  receiver.stop();
  return { sizeBytes, messages, seconds };
}

function label(size: number): string {
  return size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

const rows: string[] = [];
for (const size of [256, 4 * 1024, 64 * 1024, 1024 * 1024]) {
  await run(size); // warm-up
  const r = await run(size);
  const msgsPerSecond = r.messages / r.seconds;
  const mbPerSecond = (r.messages * r.sizeBytes) / r.seconds / 1e6;
  rows.push(
    `${label(size).padStart(8)} | ${String(r.messages).padStart(8)} msgs | ${r.seconds.toFixed(2).padStart(6)} s | ` +
      `${Math.round(msgsPerSecond).toLocaleString("en-US").padStart(10)} msgs/s | ${mbPerSecond.toFixed(1).padStart(7)} MB/s`,
  );
  console.log(rows[rows.length - 1]);
}
