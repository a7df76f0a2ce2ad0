/**
 * The generic gRPC services a tool like grpcurl relies on: grpc.health.v1
 * (SERVING once the Switch runs, NOT_SERVING while draining, with Watch) and
 * server reflection built from our .proto files.
 */
import { createRequire } from "node:module";
import { credentials, loadPackageDefinition, type ServiceError, type ClientReadableStream, type ClientDuplexStream } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { afterEach, describe, expect, it } from "vitest";
import { GATEWAY_SERVICE_NAME, NODE_SERVICE_NAME } from "../../src/gateway/gateway.js";
import { type GatewayNode, createGatewayNode } from "./support.js";
import { until } from "../support/nodes.js";

const require = createRequire(import.meta.url);
const healthProto = require.resolve("grpc-health-check/proto/health/v1/health.proto");
const reflectionProto = require.resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto");

interface HealthClient {
  check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
  watch(req: { service: string }): ClientReadableStream<{ status: string }>;
  close(): void;
}
type Ctor<T> = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => T;

function healthClient(address: string): HealthClient {
  const pkg = loadPackageDefinition(loadSync(healthProto, { keepCase: true, enums: String })) as unknown as {
    grpc: { health: { v1: { Health: Ctor<HealthClient> } } };
  };
  return new pkg.grpc.health.v1.Health(address, credentials.createInsecure());
}

interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_message: string };
}

interface ReflectionClient {
  ServerReflectionInfo(): ClientDuplexStream<object, ReflectionResponse>;
  close(): void;
}

function reflectionClient(address: string): ReflectionClient {
  const pkg = loadPackageDefinition(loadSync(reflectionProto, { keepCase: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: Ctor<ReflectionClient> } } };
  };
  return new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
}

const nodes: GatewayNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

function check(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.check({ service }, (err, res) => {
      if (err !== null) reject(err);
      else resolve(res.status);
    });
  });
}

describe("grpc.health.v1", () => {
  it("is NOT_SERVING before the Switch runs, SERVING after, NOT_SERVING while draining; Watch reports the changes", async () => {
    const n = await createGatewayNode();
    nodes.push(n);
    const client = healthClient(n.grpc);
    expect(await check(client, "")).toBe("NOT_SERVING");
    const seen: string[] = [];
    const watch = client.watch({ service: GATEWAY_SERVICE_NAME });
    watch.on("data", (r: { status: string }) => seen.push(r.status));
    watch.on("error", () => undefined);
    await until(() => seen.length === 1);
    await n.start();
    expect(await check(client, "")).toBe("SERVING");
    expect(await check(client, NODE_SERVICE_NAME)).toBe("SERVING");
    await until(() => seen.at(-1) === "SERVING", 5000, "Watch to report SERVING");
    n.gw.setServing(false);
    await until(() => seen.at(-1) === "NOT_SERVING", 5000, "Watch to report NOT_SERVING");
    expect(seen).toEqual(["NOT_SERVING", "SERVING", "NOT_SERVING"]);
    watch.cancel();
    client.close();
  });
});

describe("server reflection", () => {
  it("lists our services, so grpcurl and other generic tools work", async () => {
    const n = await createGatewayNode();
    nodes.push(n);
    const client = reflectionClient(n.grpc);
    const call = client.ServerReflectionInfo();
    const names = await new Promise<string[]>((resolve, reject) => {
      call.on("data", (res: { list_services_response?: { service: { name: string }[] } }) => {
        resolve((res.list_services_response?.service ?? []).map((s) => s.name));
        call.end();
      });
      call.on("error", reject);
      call.write({ host: "", list_services: "*" });
    });
    expect(names).toEqual(expect.arrayContaining([GATEWAY_SERVICE_NAME, NODE_SERVICE_NAME, "grpc.health.v1.Health"]));
    client.close();
  });

  it("describes messages as descriptor.proto defines them: reserved ranges end-exclusive, map entries named <Field>Entry", async () => {
    const n = await createGatewayNode();
    nodes.push(n);
    const client = reflectionClient(n.grpc);
    const fileOf = async (symbol: string): Promise<FileDescriptorProto> => {
      const call = client.ServerReflectionInfo();
      const res = await new Promise<ReflectionResponse>((resolve, reject) => {
        call.on("data", (r: ReflectionResponse) => {
          resolve(r);
          call.end();
        });
        call.on("error", reject);
        call.write({ host: "", file_containing_symbol: symbol });
      });
      const files = (res.file_descriptor_response?.file_descriptor_proto ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b));
      const file = files.find((f) => f.messageType.some((m) => symbol.endsWith(`.${m.name}`)) || f.service.some((s) => symbol.endsWith(`.${s.name}`)));
      if (file === undefined) throw new Error(`no file for ${symbol}: ${res.error_response?.error_message ?? "empty answer"}`);
      return file;
    };
    const gateway = await fileOf("switchboard.gateway.v1.CommandResult");
    const result = gateway.messageType.find((m) => m.name === "CommandResult");
    expect(result?.reservedRange.map((r) => [r.start, r.end])).toEqual([[3, 4]]);

    const health = await fileOf("grpc.health.v1.HealthListResponse");
    const list = health.messageType.find((m) => m.name === "HealthListResponse");
    expect(list?.nestedType.map((t) => t.name)).toEqual(["StatusesEntry"]);
    expect(list?.field[0]?.typeName).toBe(".grpc.health.v1.HealthListResponse.StatusesEntry");
    client.close();
  });
});
