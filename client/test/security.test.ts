/**
 * Bearer tokens against a real node started with `--grpc.credentials_file`:
 * the SDK sends `authorization: Bearer <token>` on Attach and NodeService
 * calls, and a refusal is a typed, non-retried error.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { firstValueFrom } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttachError, Status, StatusError } from "../src/errors.js";
import { NodeClient } from "../src/node-client.js";
import { ReactorClient } from "../src/reactor-client.js";
import { type AttachTransport, createGrpcAttachTransport } from "../src/transport.js";
import { Recorder } from "./support/recorder.js";
import { SwitchboardNode, destroyAllNodes } from "./support/switchboard-node.js";

const APP_TOKEN = "app-token-0123456789abcdef";
const ADMIN_TOKEN = "admin-token-0123456789abcdef";

describe("gateway credentials", () => {
  let dir: string;
  let node: SwitchboardNode;
  let grpc: string;
  let app: Recorder | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sb-client-creds-"));
    const file = join(dir, "credentials.toml");
    await writeFile(file, `[reactors.app]\ntoken = "${APP_TOKEN}"\n\n[admin]\ntoken = "${ADMIN_TOKEN}"\n`);
    node = await SwitchboardNode.start({ moniker: "secure", network: "secure-net", reactors: ["app"], flags: ["--grpc.credentials_file", file] });
    grpc = await node.grpc;
  });

  afterAll(async () => {
    app?.stop();
    await destroyAllNodes();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a wrong token with UNAUTHENTICATED, without retrying", async () => {
    let attempts = 0;
    const grpcT = createGrpcAttachTransport(grpc, { token: "not-the-token-at-all" });
    const counting: AttachTransport = (requests) => {
      attempts++;
      return grpcT.transport(requests);
    };
    const client = new ReactorClient({ target: grpc, name: "app", channels: [{ id: 0x70, priority: 5 }], transport: counting });
    const err: unknown = await firstValueFrom(client.events$).then(
      () => undefined,
      (e: unknown) => e,
    );
    grpcT.close();
    expect(err).toBeInstanceOf(AttachError);
    expect(err).toMatchObject({ code: Status.UNAUTHENTICATED });
    expect(attempts).toBe(1);
  });

  it("attaches with the reactor's token", async () => {
    app = new Recorder(new ReactorClient({ target: grpc, name: "app", channels: [{ id: 0x70, priority: 5 }], token: APP_TOKEN }));
    await app.waitFor(() => app?.of("start").length === 1, "OnStart");
    expect(app.events[0]).toMatchObject({ type: "session", nodeInfo: { nodeId: node.nodeId } });
    expect(await app.client.numPeers()).toEqual({ outbound: 0, inbound: 0, dialing: 0 });
  });

  it("NodeClient: no token is UNAUTHENTICATED; a reactor token reads but may not stop peers; the admin token may", async () => {
    const anonymous = new NodeClient(grpc);
    const reader = new NodeClient(grpc, { token: APP_TOKEN });
    const admin = new NodeClient(grpc, { token: ADMIN_TOKEN });
    try {
      await expect(anonymous.getNodeInfo()).rejects.toMatchObject({ code: Status.UNAUTHENTICATED });
      expect((await reader.getNodeInfo()).nodeId).toBe(node.nodeId);
      const denied = await reader.stopPeer("ab".repeat(20)).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(StatusError);
      expect(denied).toMatchObject({ code: Status.PERMISSION_DENIED });
      // Allowed, and then NOT_FOUND: no such peer.
      await expect(admin.stopPeer("ab".repeat(20))).rejects.toMatchObject({ code: Status.NOT_FOUND, reason: "UNKNOWN_PEER" });
    } finally {
      anonymous.close();
      reader.close();
      admin.close();
    }
  });
});
