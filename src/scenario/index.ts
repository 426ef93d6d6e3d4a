export { startSandbox, Sandbox, type SandboxOptions, type RequestOptions, type SandboxResponse, type PluginLogFilter, type EnvoyLogFilter } from './sandbox.ts';
export { assertShortCircuit, assertReachedUpstream, assertLogged } from './assertions.ts';
