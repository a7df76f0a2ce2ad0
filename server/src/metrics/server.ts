/**
 * The `/metrics` HTTP endpoint on `instrumentation.prometheus_listen_addr`,
 * on Node's http module. GET (or HEAD) `/metrics` answers the exposition
 * text; anything else is 404.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { PrometheusMetrics } from "./prometheus.js";

/** Simultaneous scrape connections; a Prometheus server needs one or two. */
export const METRICS_MAX_CONNECTIONS = 16;
/** Time a scraper has to send its request headers and body. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

/** The metrics listener could not start; the message names the address and the cause. */
export class MetricsServerError extends Error {
  readonly code = "metrics_listen_failed";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MetricsServerError";
  }
}

export interface MetricsServer {
  /** The bound address; host "::" or "0.0.0.0" when listening on every interface. */
  readonly address: { readonly host: string; readonly port: number };
  /** `http://HOST:PORT/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  readonly metrics: PrometheusMetrics;
  /** "" listens on every interface. */
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const logger = options.logger.child({ module: "metrics" });
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: metrics are served at /metrics\n");
      return;
    }
    options.metrics.scrape().then(
      (body) => {
        res.writeHead(200, { "content-type": options.metrics.contentType });
        res.end(req.method === "HEAD" ? undefined : body);
      },
      (err: unknown) => {
        logger.error({ err }, "metrics collection failed");
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("metrics collection failed\n");
      },
    );
  };
  const server: Server = createServer({ requestTimeout: METRICS_REQUEST_TIMEOUT_MS }, handle);
  server.maxConnections = METRICS_MAX_CONNECTIONS;
  const label = `${formatHost(options.host)}:${options.port}`;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why =
        err.code === "EADDRINUSE"
          ? "address already in use (is another node or exporter running?)"
          : err.code === "EADDRNOTAVAIL"
            ? "no such local address"
            : err.code === "EACCES"
              ? "permission denied"
              : err.message;
      reject(new MetricsServerError(`cannot serve metrics on instrumentation.prometheus_listen_addr ${label}: ${why}`, { cause: err }));
    };
    server.once("error", onError);
    const listenOptions = options.host === "" ? { port: options.port } : { host: options.host, port: options.port };
    server.listen(listenOptions, () => {
      server.off("error", onError);
      resolve();
    });
  });
  server.on("error", (err) => logger.error({ err }, "metrics server error"));
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  const urlHost = options.host === "" ? "localhost" : formatHost(bound.address);
  const url = `http://${urlHost}:${bound.port}/metrics`;
  logger.info({ url }, "serving metrics");
  let closing: Promise<void> | null = null;
  return {
    address,
    url,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
