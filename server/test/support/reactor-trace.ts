/**
 * The reactor-grammar checker for the server's tests: the conformance kit's
 * (client/conformance/grammar.ts), which the TypeScript SDK's tests use too
 * and which runs over the shared fixtures (client/conformance/
 * grammar-traces.json) like the Python and Go checkers. Traces recorded here
 * are an in-process reactor's view: they start with `GetChannels SetSwitch`
 * (`registration`, on by default).
 */
export * from "../../../client/conformance/grammar.js";
