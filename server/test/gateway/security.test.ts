/**
 * The control plane: TLS off loopback, mutual TLS, per-reactor credentials and
 * the admin credential, with UNAUTHENTICATED / PERMISSION_DENIED answers that
 * change nothing and are logged without the secret.
 */
import { execFileSync } from "node:child_process";
import { type ClientHttp2Stream, connect as connectHttp2 } from "node:http2";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type ServiceError, credentials, Metadata, status as GrpcStatus } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NodeServiceClient, ReactorGatewayServiceClient } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import { ATTACH_REFUSAL_WAIT_MS } from "../../src/gateway/attach-stream.js";
import { DEFAULT_GATEWAY_CONFIG, Gateway } from "../../src/gateway/gateway.js";
import { loadGatewaySecurity } from "../../src/gateway/node-gateway.js";
import { GatewaySecurityError, type GatewaySecurity, digestToken, isLocalOnly, parseCredentials } from "../../src/gateway/security.js";
import { generateNodeKey } from "../../src/p2p/node-key.js";
import { Switch } from "../../src/p2p/switch.js";
import { silentLogger } from "../support/nodes.js";
import { AttachClient } from "./attach-client.js";

const APP_TOKEN = "app-token-0123456789abcdef";
const ADMIN_TOKEN = "admin-token-0123456789abcdef";
const CHANNELS = [{ id: 0x60, priority: 5 }];

let dir: string;
const pem = (name: string): Buffer => readFileSync(join(dir, name));

/** A CA, a server certificate for localhost/127.0.0.1, and client certificates for "app" and "admin". */
function makeCertificates(): void {
  const ossl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  };
  ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test-ca");
  const leaf = (name: string, cn: string, ext: string): void => {
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ossl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
  };
  leaf("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("app", "app", "extendedKeyUsage=clientAuth\n");
  leaf("admin", "admin", "extendedKeyUsage=clientAuth\n");
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "sb-sec-"));
  makeCertificates();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function gateway(security: GatewaySecurity, laddr = "tcp://127.0.0.1:0", logs?: string[]) {
  const sw = new Switch({
    nodeKey: generateNodeKey(),
    logger: silentLogger,
    config: { network: "sec", moniker: "sec", listen: { host: "127.0.0.1", port: 0 }, allowDuplicateIp: true, dialRandomizerMs: 0 },
  });
  const logger =
    logs === undefined
      ? silentLogger
      : pino(
          { level: "info" },
          new Writable({
            write(chunk: Buffer, _e, cb) {
              logs.push(chunk.toString());
              cb();
            },
          }),
        );
  const gw = new Gateway({ sw, logger, config: { ...DEFAULT_GATEWAY_CONFIG, laddr }, security });
  const address = await gw.listen();
  closers.push(async () => {
    await sw.stop();
    await gw.close();
  });
  return { sw, gw, address };
}

const tokens = parseCredentials(
  `[reactors.app]\ntoken_sha256 = "${digestToken(APP_TOKEN).toString("hex")}"\n[admin]\ntoken = "${ADMIN_TOKEN}"\n`,
  "creds.toml",
);

function nodeCall(address: string, method: "listPeers" | "dialPeers", token: string | null, creds = credentials.createInsecure()): Promise<ServiceError | null> {
  const client = new NodeServiceClient(address, creds);
  const md = new Metadata();
  if (token !== null) md.set("authorization", `Bearer ${token}`);
  return new Promise((resolve) => {
    const done = (err: ServiceError | null): void => {
      client.close();
      resolve(err);
    };
    if (method === "listPeers") client.listPeers({}, md, (err) => done(err));
    else client.dialPeers({ addresses: [`${"ab".repeat(20)}@127.0.0.1:1`] }, md, (err) => done(err));
  });
}

describe("transport security", () => {
  it("refuses to listen beyond loopback without TLS, naming the keys to set", async () => {
    expect(isLocalOnly("127.0.0.1:26670")).toBe(true);
    expect(isLocalOnly("unix:/tmp/x.sock")).toBe(true);
    expect(isLocalOnly("[::1]:1")).toBe(true);
    expect(isLocalOnly("0.0.0.0:26670")).toBe(false);
    await expect(gateway({ tls: null, credentials: null }, "tcp://0.0.0.0:0")).rejects.toThrow(/requires TLS: set grpc.tls_cert_file and grpc.tls_key_file/);
  });

  it("serves TLS off loopback, and with a client CA only to clients with a certificate it signed", async () => {
    const { address } = await gateway({ tls: { certChain: pem("server.pem"), privateKey: pem("server.key"), clientCa: pem("ca.pem") }, credentials: null }, "tcp://0.0.0.0:0");
    const port = address.slice(address.lastIndexOf(":") + 1);
    const target = `localhost:${port}`;
    const withCert = new AttachClient(target, { name: "app", channels: CHANNELS, credentials: credentials.createSsl(pem("ca.pem"), pem("app.key"), pem("app.pem")) });
    await withCert.waitFor(() => withCert.registered !== null || withCert.status !== null);
    expect(withCert.registered).not.toBeNull();
    withCert.close();
    const noCert = new AttachClient(target, { name: "other", channels: CHANNELS, credentials: credentials.createSsl(pem("ca.pem")) });
    await noCert.waitFor(() => noCert.status !== null);
    expect(noCert.status?.code).toBe(GrpcStatus.UNAVAILABLE);
    noCert.close();
  });
});

describe("credentials", () => {
  it("refuses a stream without or with a wrong token (UNAUTHENTICATED), and a name the token does not cover (PERMISSION_DENIED), logging no secret", async () => {
    const logs: string[] = [];
    const { address, gw } = await gateway({ tls: null, credentials: tokens }, "tcp://127.0.0.1:0", logs);
    for (const token of [undefined, "not-the-token-at-all"]) {
      const c = new AttachClient(address, { name: "app", channels: CHANNELS, ...(token === undefined ? {} : { token }) });
      await c.waitFor(() => c.status !== null);
      expect(c.status?.code).toBe(GrpcStatus.UNAUTHENTICATED);
      c.close();
    }
    const wrongName = new AttachClient(address, { name: "intruder", channels: CHANNELS, token: APP_TOKEN });
    await wrongName.waitFor(() => wrongName.status !== null);
    expect(wrongName.status?.code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(wrongName.status?.details).toMatch(/may not register reactor "intruder"/);
    wrongName.close();
    expect(gw.remoteReactors().size).toBe(0);

    const ok = new AttachClient(address, { name: "app", channels: CHANNELS, token: APP_TOKEN });
    await ok.waitFor(() => ok.registered !== null || ok.status !== null);
    expect(ok.registered).not.toBeNull();
    ok.close();

    const text = logs.join("");
    expect(text).toMatch(/missing or invalid credentials/);
    expect(text).toMatch(/credentials do not cover this reactor/);
    expect(text).not.toContain(APP_TOKEN);
    expect(text).not.toContain("not-the-token-at-all");
  });

  it("refuses a call without credentials on its headers, reading none of its messages: Attach after ATTACH_REFUSAL_WAIT_MS, other methods at once", async () => {
    const { address } = await gateway({ tls: null, credentials: tokens });
    const session = connectHttp2(`http://${address}`);
    closers.push(() => {
      session.destroy();
      return Promise.resolve();
    });
    // A gRPC request of 8 MiB, which the node would have read whole (grpc.max_message_bytes is 110 MiB).
    const BODY = 8 * 1024 * 1024;
    const frame = Buffer.alloc(5 + BODY);
    frame.writeUInt32BE(BODY, 1);
    // What the stream ended with: a gRPC status, or (-1) a reset; and how much of the request the client still held.
    type Ending = { code: number; atMs: number; unsent: number };
    const call = (path: string): { stream: ClientHttp2Stream; ended: Promise<Ending> } => {
      const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
      const start = performance.now();
      const ended = new Promise<Ending>((resolve) => {
        const end = (code: number): void => resolve({ code, atMs: performance.now() - start, unsent: stream.bufferSize });
        const onHeaders = (h: Record<string, unknown>): void => {
          if (h["grpc-status"] !== undefined) end(Number(h["grpc-status"]));
        };
        stream.on("response", onHeaders);
        stream.on("trailers", onHeaders);
        stream.on("close", () => end(-1));
      });
      stream.on("error", () => undefined);
      stream.resume(); // read the (trailers-only) answer
      stream.write(frame);
      return { stream, ended };
    };
    const attach = call("/switchboard.gateway.v1.ReactorGatewayService/Attach");
    await new Promise((r) => setTimeout(r, 300));
    // HTTP/2 flow control holds what the node did not read: all but a stream window is still with the client.
    expect(attach.stream.bufferSize).toBeGreaterThan(BODY - 1024 * 1024);
    const refused = await attach.ended;
    expect(refused.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(refused.atMs).toBeGreaterThanOrEqual(ATTACH_REFUSAL_WAIT_MS - 20);
    expect(refused.unsent).toBeGreaterThan(BODY - 1024 * 1024);

    // A unary call is answered at once, on its headers (its half-sent request is then reset).
    const unary = await call("/switchboard.gateway.v1.NodeService/ListPeers").ended;
    expect(unary.atMs).toBeLessThan(ATTACH_REFUSAL_WAIT_MS);
    expect(unary.unsent).toBeGreaterThan(BODY - 1024 * 1024);

    // A client that writes Register at once reads the refusal (not a failed write).
    const client = new ReactorGatewayServiceClient(address, credentials.createInsecure());
    closers.push(() => {
      client.close();
      return Promise.resolve();
    });
    const md = new Metadata();
    md.set("authorization", "Bearer not-the-token-at-all");
    const stream = client.attach(md);
    const ended = new Promise<ServiceError>((resolve) => stream.on("error", resolve));
    stream.write({ msg: { $case: "register", value: { reactorName: "app", channels: [], sessionToken: "", initialCredit: undefined, batchResults: true } } });
    const err = await ended;
    expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(err.details).toMatch(/missing or invalid credentials/);
    expect(err.metadata.get("switchboard-error-reason")).toEqual(["ERROR_REASON_UNSPECIFIED"]);
  });

  it("node-wide changes need the admin credential; read-only queries need any valid one", async () => {
    const { address, sw } = await gateway({ tls: null, credentials: tokens });
    expect((await nodeCall(address, "listPeers", null))?.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(await nodeCall(address, "listPeers", APP_TOKEN)).toBeNull();
    const denied = await nodeCall(address, "dialPeers", APP_TOKEN);
    expect(denied?.code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(denied?.details).toMatch(/DialPeers needs the admin credential/);
    expect(sw.numPeers().dialing).toBe(0);
    // The admin may ask; the switch is not started, so the dial itself reports why it failed.
    expect(await nodeCall(address, "dialPeers", ADMIN_TOKEN)).toBeNull();
  });

  it("accepts client-certificate identities under mutual TLS", async () => {
    const certCreds = parseCredentials(`[reactors.app]\ncert_identity = "app"\n[admin]\ncert_identity = "admin"\n`, "creds.toml");
    const { address } = await gateway({ tls: { certChain: pem("server.pem"), privateKey: pem("server.key"), clientCa: pem("ca.pem") }, credentials: certCreds });
    const target = `localhost:${address.slice(address.lastIndexOf(":") + 1)}`;
    const appCreds = credentials.createSsl(pem("ca.pem"), pem("app.key"), pem("app.pem"));
    const adminCreds = credentials.createSsl(pem("ca.pem"), pem("admin.key"), pem("admin.pem"));
    const c = new AttachClient(target, { name: "app", channels: CHANNELS, credentials: appCreds });
    await c.waitFor(() => c.registered !== null || c.status !== null);
    expect(c.registered).not.toBeNull();
    c.close();
    expect((await nodeCall(target, "dialPeers", null, appCreds))?.code).toBe(GrpcStatus.PERMISSION_DENIED);
    expect(await nodeCall(target, "dialPeers", null, adminCreds)).toBeNull();
  });
});

describe("credentials file and config", () => {
  it("names the file, the key and the problem", () => {
    expect(() => parseCredentials("[reactors.app]\ntoken = \"short\"\n", "c.toml")).toThrow(/c.toml: reactors.app.token: tokens must be at least 16 characters/);
    expect(() => parseCredentials("[reactors.app]\ntoken_sha256 = \"xyz\"\n", "c.toml")).toThrow(/reactors.app.token_sha256: expected 64 hex characters/);
    expect(() => parseCredentials("[reactors.app]\npassword = \"x\"\n", "c.toml")).toThrow(/reactors.app.password: unknown key/);
    expect(() => parseCredentials("[users]\n", "c.toml")).toThrow(/users: unknown section/);
    expect(() => parseCredentials("[reactors.app]\n", "c.toml")).toThrow(/give a token, token_sha256 or cert_identity/);
  });

  it("loads the files relative to the home, and refuses half a TLS setting", async () => {
    writeFileSync(join(dir, "creds.toml"), `[admin]\ntoken = "${ADMIN_TOKEN}"\n`);
    const sec = await loadGatewaySecurity({ tlsCertFile: "server.pem", tlsKeyFile: "server.key", tlsClientCaFile: "", credentialsFile: "creds.toml" }, dir);
    expect(sec.tls?.clientCa).toBeNull();
    expect(sec.credentials?.admin).not.toBeNull();
    await expect(loadGatewaySecurity({ tlsCertFile: "server.pem", tlsKeyFile: "", tlsClientCaFile: "", credentialsFile: "" }, dir)).rejects.toThrow(GatewaySecurityError);
    await expect(loadGatewaySecurity({ tlsCertFile: "", tlsKeyFile: "", tlsClientCaFile: "", credentialsFile: "nope.toml" }, dir)).rejects.toThrow(/grpc.credentials_file: cannot read .*nope.toml \(ENOENT\)/);
  });
});
