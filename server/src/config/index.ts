/** Configuration: defaults, the typed schema, loading (file < env < flags), the init template, logging. */
export * from "./defaults.js";
export {
  ALL_KEYS,
  KEYS_BY_PATH,
  LOG_FORMATS,
  LOG_LEVELS,
  OVERFLOW_POLICIES,
  SECTIONS,
  envVarName,
  flagName,
  type GatewayConfig,
  type GatewayFiles,
  type GrpcSectionConfig,
  type GrpcListenAddress,
  type HostPort,
  type InstrumentationConfig,
  type KeySpec,
  type LogFormat,
  type LogLevel,
  type NodeSectionConfig,
  type OverflowPolicy,
  type P2PSectionConfig,
  type SectionName,
  type SwitchboardConfig,
  type TomlValue,
} from "./schema.js";
export {
  ConfigError,
  MissingConfigError,
  RESERVED_ENV_VARS,
  configFilePath,
  defaultConfig,
  formatConfigIssue,
  loadConfig,
  parseConfigToml,
  resolveConfig,
  resolveHome,
  type ConfigIssue,
  type ConfigLayers,
  type LoadConfigOptions,
  type LoadedConfig,
  type ResolvedConfig,
  type ValueOrigin,
} from "./load.js";
export { renderConfigToml, tomlLiteral, tomlValueFromText } from "./template.js";
export { formatDuration, grpcTarget, parseDurationMs } from "./values.js";
export { createLogger, REDACTED_FIELDS, type LoggerOptions } from "./logger.js";
