/**
 * What server reflection describes: the gateway's own API (ReactorGateway,
 * NodeService) and grpc.health.v1, so that generic tools (grpcurl, grpcui,
 * Postman, Kreya) can list, describe and call every service with no `.proto`
 * file in hand.
 *
 * The descriptors come from @grpc/proto-loader, which builds them with
 * protobufjs. protobufjs keeps reserved and extension ranges with an
 * inclusive end and writes that end unchanged into `DescriptorProto`, whose
 * `end` is exclusive: `reserved 3;` comes out as the empty range 3..3, which
 * strict readers refuse (Go's protodesc: `reserved ranges has invalid range:
 * 3 to 2`), so grpcurl could list services but describe and call nothing.
 * It also names a map field's entry message `Statuses` where descriptor.proto
 * requires `StatusesEntry` (`incorrect implicit map entry name` for
 * grpc.health.v1's HealthListResponse). {@link fixDescriptor} corrects both,
 * with @bufbuild/protobuf's own descriptor messages.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type DescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { type PackageDefinition, loadSync } from "@grpc/proto-loader";
import { protoPath as HEALTH_PROTO_PATH } from "grpc-health-check";

/** Finds the repository's (or the image's) `proto/` directory for reflection. */
export function findProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "proto");
    if (existsSync(join(candidate, "switchboard/gateway/v1/gateway.proto"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error("cannot find proto/switchboard/gateway/v1/gateway.proto for server reflection");
}

/** A definition for the ReflectionService: every file of `protoFiles` and their imports, plus grpc.health.v1. */
export function reflectionDefinition(protoFiles: readonly string[], includeDirs: readonly string[]): PackageDefinition {
  const options = { includeDirs: [...includeDirs], keepCase: true };
  const loaded = [loadSync([...protoFiles], options), loadSync(HEALTH_PROTO_PATH, { keepCase: true })];
  const out: PackageDefinition = {};
  for (const definition of loaded) {
    for (const [name, entry] of Object.entries(definition)) {
      const files = (entry as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
      if (!Array.isArray(files)) continue;
      out[name] = { ...entry, fileDescriptorProtos: (files as Buffer[]).map(fixDescriptor) } as PackageDefinition[string];
    }
  }
  return out;
}

/**
 * One serialized FileDescriptorProto as descriptor.proto defines it: message
 * reserved and extension ranges with an exclusive end (enum reserved ranges
 * are inclusive there, and left alone), and map entries named
 * `<FieldInCamelCase>Entry`, referenced by their full name.
 */
export function fixDescriptor(bytes: Uint8Array): Buffer {
  const file = fromBinary(FileDescriptorProtoSchema, bytes);
  const visit = (message: DescriptorProto, scope: string): void => {
    for (const r of message.reservedRange) r.end = r.end + 1;
    for (const r of message.extensionRange) r.end = r.end + 1;
    const fullName = `${scope}.${message.name}`;
    for (const field of message.field) {
      const entry = message.nestedType.find((n) => n.options?.mapEntry === true && field.typeName.split(".").pop() === n.name);
      if (entry === undefined) continue;
      entry.name = `${camelCase(field.name)}Entry`;
      field.typeName = `${fullName}.${entry.name}`;
    }
    for (const nested of message.nestedType) visit(nested, fullName);
  };
  const pkg = file.package === "" ? "" : `.${file.package}`;
  for (const message of file.messageType) visit(message, pkg);
  return Buffer.from(toBinary(FileDescriptorProtoSchema, file));
}

/** protoc's map entry name stem: `peer_data` → `PeerData`. */
function camelCase(fieldName: string): string {
  return fieldName
    .split("_")
    .filter((part) => part.length > 0)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}
