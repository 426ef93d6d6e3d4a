export type { LiveSpec } from '../compose/live.ts';
export { startSandbox, Sandbox, requestIdHeader, type SandboxOptions, type RequestOptions, type SandboxResponse, type PluginLogFilter, type EnvoyLogFilter } from './sandbox.ts';
export { mockService, MockService, type MockHandler, type MockRequest, type MockResponse } from './mock-service.ts';
export { assertShortCircuit, assertReachedUpstream, assertLogged } from './assertions.ts';
export { scenarioRuntimes, forEachRuntime, type RuntimeScenario } from './runtimes.ts';
