/** Metrics: the interface with its no-op default, the Prometheus implementation, the /metrics server. */
export { noopMetrics, type Metrics, type MetricsExtension, type PeerMetricsSource, type SwitchMetricsSource } from "./metrics.js";
export { channelLabel, createPrometheusMetrics, type PrometheusMetrics, type PrometheusMetricsOptions } from "./prometheus.js";
export {
  METRICS_MAX_CONNECTIONS,
  METRICS_REQUEST_TIMEOUT_MS,
  MetricsServerError,
  startMetricsServer,
  type MetricsServer,
  type MetricsServerOptions,
} from "./server.js";
