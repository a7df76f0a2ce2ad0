/**
 * Who may use the gateway. The control plane decides which peers the node
 * talks to, so whoever reaches it must prove who they are:
 *
 * - Transport: off loopback (and Unix sockets) the gateway only listens with
 *   TLS; with a client CA configured, clients must present a certificate it
 *   signed (mutual TLS).
 * - Identity: a bearer token (`authorization: Bearer <token>` metadata) or,
 *   under mutual TLS, the client certificate's identity (its CN or a DNS/URI
 *   SAN). The credentials file maps reactor names and the admin role to them.
 * - Authorisation: a reactor may register only under a name its credentials
 *   list, and send only on the channels it registered; node-wide changes
 *   (dial, stop a peer) need the admin credential; read-only node queries need
 *   any valid credential.
 *
 * Tokens are compared as SHA-256 digests in constant time, stored as digests
 * if the operator wishes (`token_sha256`), and never logged.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import { isIP } from "node:net";
import { Metadata, type ServerInterceptor, ServerInterceptingCall, status as GrpcStatus } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { parse as parseToml } from "smol-toml";
import { ErrorReason } from "../gen/switchboard/gateway/v1/gateway.js";
import { GatewayError } from "./errors.js";

/** A credential: any of these tokens or certificate identities. */
export interface CredentialSpec {
  /** SHA-256 digests of accepted bearer tokens. */
  readonly tokenDigests: readonly Buffer[];
  /** Accepted client-certificate identities (CN or SAN). */
  readonly certIdentities: readonly string[];
}

export interface GatewayCredentials {
  /** Reactor name → who may register it. */
  readonly reactors: ReadonlyMap<string, CredentialSpec>;
  /** Who may dial and stop peers through the NodeService. */
  readonly admin: CredentialSpec | null;
}

export interface GatewayTls {
  readonly certChain: Buffer;
  readonly privateKey: Buffer;
  /** When set, clients must present a certificate signed by this CA. */
  readonly clientCa: Buffer | null;
}

export interface GatewaySecurity {
  readonly tls: GatewayTls | null;
  /** Null: no authentication (allowed on loopback and Unix sockets only). */
  readonly credentials: GatewayCredentials | null;
}

/** Who a caller proved to be. */
export interface Identity {
  /** Reactor names this caller may register. */
  readonly reactors: ReadonlySet<string>;
  readonly admin: boolean;
  /** For logs: "token" or "cert:<identity>". */
  readonly via: string;
}

/** A security setting that cannot work; the message names the key. */
export class GatewaySecurityError extends Error {
  readonly code = "gateway_security";
  constructor(message: string) {
    super(message);
    this.name = "GatewaySecurityError";
  }
}

export function digestToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

function parseSpec(raw: unknown, where: string, file: string): CredentialSpec {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new GatewaySecurityError(`${file}: ${where}: expected a table`);
  const t = raw as Record<string, unknown>;
  const digests: Buffer[] = [];
  const identities: string[] = [];
  const list = (v: unknown, key: string): string[] => {
    if (v === undefined) return [];
    if (typeof v === "string") return [v];
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
    throw new GatewaySecurityError(`${file}: ${where}.${key}: expected a string or a list of strings`);
  };
  for (const tok of list(t["token"], "token")) {
    if (tok.length < 16) throw new GatewaySecurityError(`${file}: ${where}.token: tokens must be at least 16 characters`);
    digests.push(digestToken(tok));
  }
  for (const hex of list(t["token_sha256"], "token_sha256")) {
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new GatewaySecurityError(`${file}: ${where}.token_sha256: expected 64 hex characters`);
    digests.push(Buffer.from(hex, "hex"));
  }
  identities.push(...list(t["cert_identity"], "cert_identity"));
  for (const k of Object.keys(t)) {
    if (!["token", "token_sha256", "cert_identity"].includes(k)) throw new GatewaySecurityError(`${file}: ${where}.${k}: unknown key (token, token_sha256, cert_identity)`);
  }
  if (digests.length === 0 && identities.length === 0) throw new GatewaySecurityError(`${file}: ${where}: give a token, token_sha256 or cert_identity`);
  return { tokenDigests: digests, certIdentities: identities };
}

/**
 * Parses a credentials file:
 *
 * ```toml
 * [reactors.mempool]
 * token_sha256 = "…"            # sha256 of the token, hex (or token = "…")
 * [reactors.blocksync]
 * cert_identity = "blocksync.reactors.example"   # mutual TLS
 * [admin]
 * token_sha256 = "…"
 * ```
 */
export function parseCredentials(text: string, file: string): GatewayCredentials {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err) {
    throw new GatewaySecurityError(`${file}: not valid TOML: ${(err as Error).message}`);
  }
  for (const k of Object.keys(doc)) {
    if (k !== "reactors" && k !== "admin") throw new GatewaySecurityError(`${file}: ${k}: unknown section (reactors, admin)`);
  }
  const reactors = new Map<string, CredentialSpec>();
  const rawReactors = doc["reactors"];
  if (rawReactors !== undefined) {
    if (typeof rawReactors !== "object" || rawReactors === null) throw new GatewaySecurityError(`${file}: reactors: expected a table`);
    for (const [name, spec] of Object.entries(rawReactors)) reactors.set(name, parseSpec(spec, `reactors.${name}`, file));
  }
  const admin = doc["admin"] === undefined ? null : parseSpec(doc["admin"], "admin", file);
  return { reactors, admin };
}

/** True for listen addresses only local processes can reach. */
export function isLocalOnly(laddr: string): boolean {
  if (laddr.startsWith("unix:")) return true;
  const hostPort = laddr.replace(/^tcp:\/\//, "");
  const host = hostPort.slice(0, hostPort.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1";
  return false;
}

function matches(spec: CredentialSpec, tokenDigest: Buffer | null, certIds: readonly string[]): boolean {
  if (tokenDigest !== null && spec.tokenDigests.some((d) => d.length === tokenDigest.length && timingSafeEqual(d, tokenDigest))) return true;
  return certIds.some((id) => spec.certIdentities.includes(id));
}

/** The identities a client certificate carries: its CN and its DNS and URI SANs. */
export function certificateIdentities(cert: PeerCertificate | undefined): string[] {
  if (cert === undefined || Object.keys(cert).length === 0) return [];
  const ids: string[] = [];
  const cn: string | string[] | undefined = cert.subject.CN;
  if (typeof cn === "string") ids.push(cn);
  else if (Array.isArray(cn)) ids.push(...cn);
  for (const part of (cert.subjectaltname ?? "").split(",")) {
    const m = /^\s*(DNS|URI):(.+)$/.exec(part);
    if (m?.[2] !== undefined) ids.push(m[2].trim());
  }
  return ids;
}

/**
 * Resolves a caller's identity from its bearer token and certificate.
 * Returns null when credentials are configured and none match.
 */
export function authenticate(creds: GatewayCredentials, bearer: string | null, cert: PeerCertificate | undefined): Identity | null {
  const digest = bearer === null ? null : digestToken(bearer);
  const certIds = certificateIdentities(cert);
  const reactors = new Set<string>();
  for (const [name, spec] of creds.reactors) if (matches(spec, digest, certIds)) reactors.add(name);
  const admin = creds.admin !== null && matches(creds.admin, digest, certIds);
  if (reactors.size === 0 && !admin) return null;
  const certMatched = certIds.find((id) => [...creds.reactors.values(), ...(creds.admin === null ? [] : [creds.admin])].some((s) => s.certIdentities.includes(id)));
  return { reactors, admin, via: certMatched !== undefined ? `cert:${certMatched}` : "token" };
}

/** `authorization: Bearer <token>` → the token. */
export function bearerToken(values: readonly (string | Buffer)[]): string | null {
  for (const v of values) {
    const s = typeof v === "string" ? v : v.toString("utf8");
    const m = /^Bearer\s+(.+)$/i.exec(s.trim());
    if (m?.[1] !== undefined) return m[1];
  }
  return null;
}

/** The parts of a grpc-js call that tell who is calling. */
export interface CallerCall {
  readonly metadata: Metadata;
  getAuthContext(): { readonly sslPeerCertificate?: PeerCertificate } | null;
  getPeer(): string;
}

/**
 * The gateway's checks on every call: who is calling (authentication), and
 * whether they may do what they ask (authorisation). Refusals are logged
 * without secrets and thrown as GatewayErrors.
 */
export class GatewayAuth {
  constructor(
    private readonly credentials: GatewayCredentials | null,
    private readonly logger: Logger,
  ) {}

  /**
   * The caller's identity: null when no credentials are configured (anyone
   * local may call); throws UNAUTHENTICATED when they are and none match.
   */
  identify(call: CallerCall): Identity | null {
    const creds = this.credentials;
    if (creds === null) return null;
    const identity = authenticate(creds, bearerToken(call.metadata.get("authorization")), call.getAuthContext()?.sslPeerCertificate);
    if (identity === null) {
      this.logger.warn({ peer: call.getPeer() }, "gRPC call refused: missing or invalid credentials");
      throw new GatewayError(GrpcStatus.UNAUTHENTICATED, ErrorReason.ERROR_REASON_UNSPECIFIED, "missing or invalid credentials (authorization: Bearer <token>, or a client certificate)");
    }
    return identity;
  }

  /**
   * A server interceptor that refuses a call without valid credentials on
   * its headers, before grpc-js reads any of its messages: a client without
   * credentials cannot make the node buffer a request (up to
   * `grpc.max_message_bytes`); what it may have sent waits in HTTP/2 flow
   * control (one stream window, 64 KiB) until the refusal. `delayMs(path)`
   * holds the refusal back for some methods (Attach: ATTACH_REFUSAL_WAIT_MS,
   * so that a client that writes Register at once has written it before the
   * stream ends). `open(path)` names methods anyone may call (health,
   * reflection).
   */
  interceptor(open: (path: string) => boolean, delayMs: (path: string) => number): ServerInterceptor {
    return (method, call) =>
      new ServerInterceptingCall(call, {
        start: (next) => {
          next({
            onReceiveMetadata: (metadata, forward) => {
              if (this.credentials === null || open(method.path)) {
                forward(metadata);
                return;
              }
              try {
                this.identify({ metadata, getAuthContext: () => call.getAuthContext(), getPeer: () => call.getPeer() });
              } catch (err) {
                const e = err as GatewayError;
                const trailers = new Metadata();
                trailers.set("switchboard-error-reason", ErrorReason[e.reason]);
                const refuse = (): void => {
                  call.sendStatus({ code: e.grpcCode, details: e.message, metadata: trailers });
                };
                const wait = delayMs(method.path);
                if (wait > 0) setTimeout(refuse, wait).unref();
                else refuse();
                return;
              }
              forward(metadata);
            },
          });
        },
      });
  }

  /** Throws PERMISSION_DENIED unless `identity` holds the admin credential (or no credentials are configured). */
  requireAdmin(identity: Identity | null, what: string, peer: string): void {
    if (identity === null || identity.admin) return;
    this.logger.warn({ peer, via: identity.via, what }, "gRPC call refused: admin credential required");
    throw new GatewayError(GrpcStatus.PERMISSION_DENIED, ErrorReason.ERROR_REASON_UNSPECIFIED, `${what} needs the admin credential`);
  }

  /** Throws PERMISSION_DENIED unless `identity` may register reactor `name` (always, without credentials). */
  requireReactor(identity: Identity | null, name: string, log: Logger): void {
    if (identity === null || identity.reactors.has(name)) return;
    log.warn({ reactor: name, via: identity.via }, "registration refused: credentials do not cover this reactor");
    throw new GatewayError(GrpcStatus.PERMISSION_DENIED, ErrorReason.ERROR_REASON_UNSPECIFIED, `these credentials may not register reactor "${name}"`);
  }
}
