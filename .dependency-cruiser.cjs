/**
 * Layers depend one way: wire -> p2p -> gateway (-> config/cli/main at the top).
 * The client SDK never imports the server. No cycles anywhere.
 */
module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", comment: "Circular imports hide layering mistakes.", from: {}, to: { circular: true } },
    {
      name: "wire-is-the-bottom",
      severity: "error",
      comment: "wire/ holds pure codecs and crypto; it must not know about peers, the switch or gRPC.",
      from: { path: "^server/src/wire/" },
      to: { path: "^server/src/(p2p|gateway|config|cli|metrics|main)" },
    },
    {
      name: "p2p-below-gateway",
      severity: "error",
      comment: "p2p/ must not depend on the gRPC gateway, the config layer or the CLI.",
      from: { path: "^server/src/p2p/" },
      to: { path: "^server/src/(gateway|config|cli|main)" },
    },
    {
      name: "gateway-below-config",
      severity: "error",
      comment: "config/ imports the defaults the gateway owns (gateway/defaults.ts), never the reverse: the gateway gets its config as arguments.",
      from: { path: "^server/src/(gateway|util)/" },
      to: { path: "^server/src/(config|cli|main)" },
    },
    {
      name: "gateway-uses-the-reactor-contract",
      severity: "error",
      comment:
        "The gateway reaches the Switch only through the contracts (p2p/switch-api.ts for what reactors get, p2p/switch-control.ts for registering them) and the Switch's errors (p2p/errors.ts), never the Switch class: remote reactors get exactly what in-process reactors get, and commands are tested against a fake SwitchApi.",
      from: { path: "^server/src/gateway/" },
      to: { path: "^server/src/p2p/switch\\.ts$" },
    },
    {
      name: "client-never-imports-server",
      severity: "error",
      comment: "The SDK is published on its own; it talks to the server only over gRPC.",
      from: { path: "^client/" },
      to: { path: "^server/" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"], extensions: [".ts", ".js"] },
  },
};
