/**
 * The floor under the gateway's added latency: the round trip of one small
 * message between two Node processes on this machine, over a bare TCP socket
 * and over a bare grpc-js bidirectional stream (an echo service with
 * pass-through serializers: no protobuf, no Switchboard code).
 *
 *   npx tsx bench/tools/hop-floor.ts [ROUND_TRIPS] [SIZE]
 *
 * One-way ≈ round trip / 2. A message from a remote reactor to another
 * crosses two such gRPC hops (reactor → node A, node B → reactor) on top of
 * the wire, so twice the gRPC one-way time is what the gateway adds before
 * any of its own work.
 */
import { fork } from "node:child_process";
import { type AddressInfo, type Socket, connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { type ServerDuplexStream, type ServiceDefinition, Server, ServerCredentials, credentials, makeGenericClientConstructor } from "@grpc/grpc-js";

const same = (b: Buffer): Buffer => b;
const echoService: ServiceDefinition = {
  echo: {
    path: "/switchboard.bench.Echo/Echo",
    requestStream: true,
    responseStream: true,
    requestSerialize: same,
    requestDeserialize: same,
    responseSerialize: same,
    responseDeserialize: same,
  },
};

function serveChild(kind: string): void {
  const ready = (port: number): void => {
    process.send?.(port);
  };
  if (kind === "grpc") {
    const server = new Server();
    server.addService(echoService, {
      echo: (call: ServerDuplexStream<Buffer, Buffer>) => {
        call.on("data", (m: Buffer) => call.write(m));
        call.on("end", () => call.end());
      },
    });
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
      if (err !== null) throw err;
      ready(port);
    });
  } else {
    const server = createServer({ noDelay: true }, (c) => c.on("data", (d) => c.write(d)));
    server.listen(0, "127.0.0.1", () => {
      ready((server.address() as AddressInfo).port);
    });
  }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

async function measure(kind: "tcp" | "grpc", roundTrips: number, size: number): Promise<number[]> {
  const child = fork(fileURLToPath(import.meta.url), ["--serve", kind], { execArgv: process.execArgv });
  const port = await new Promise<number>((resolve) => child.once("message", (m) => {
    resolve(Number(m));
  }));
  const message = Buffer.alloc(size, 1);
  const samples: number[] = [];
  try {
    if (kind === "tcp") {
      const socket: Socket = connect({ port, host: "127.0.0.1", noDelay: true });
      await new Promise((r) => socket.once("connect", r));
      for (let i = 0; i < roundTrips; i++) {
        const t = process.hrtime.bigint();
        socket.write(message);
        let got = 0;
        await new Promise<void>((resolve) => {
          const onData = (d: Buffer): void => {
            got += d.length;
            if (got < size) return;
            socket.off("data", onData);
            resolve();
          };
          socket.on("data", onData);
        });
        samples.push(Number(process.hrtime.bigint() - t) / 1000);
      }
      socket.destroy();
    } else {
      const Client = makeGenericClientConstructor(echoService, "Echo");
      const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
      const call = (client as unknown as { echo(): import("@grpc/grpc-js").ClientDuplexStream<Buffer, Buffer> }).echo();
      let arrived: (() => void) | null = null;
      call.on("data", () => arrived?.());
      for (let i = 0; i < roundTrips; i++) {
        const t = process.hrtime.bigint();
        const back = new Promise<void>((resolve) => (arrived = resolve));
        call.write(message);
        await back;
        samples.push(Number(process.hrtime.bigint() - t) / 1000);
      }
      call.end();
      client.close();
    }
  } finally {
    child.kill();
  }
  return samples.slice(Math.floor(samples.length / 10)).sort((a, b) => a - b);
}

async function main(): Promise<void> {
  if (process.argv[2] === "--serve") {
    serveChild(process.argv[3] ?? "tcp");
    return;
  }
  const roundTrips = Number(process.argv[2] ?? "3000");
  const size = Number(process.argv[3] ?? "256");
  for (const kind of ["tcp", "grpc"] as const) {
    const s = await measure(kind, roundTrips, size);
    console.log(
      `${kind.padEnd(4)} ${size} B: round trip p50 ${percentile(s, 0.5).toFixed(0)} µs, p99 ${percentile(s, 0.99).toFixed(0)} µs; one-way p50 ≈ ${(percentile(s, 0.5) / 2).toFixed(0)} µs`,
    );
  }
  process.exit(0);
}

await main();
