export type { LiveSpec } from '../compose/live.ts';
export { startSandbox, Sandbox, requestIdHeader, type SandboxOptions, type RequestOptions, type SandboxResponse, type PluginLogFilter, type EnvoyLogFilter } from './sandbox.ts';
export { mockService, startMockService, MockService, type MockHandler, type MockRequest, type MockResponse, type StandaloneMock } from './mock-service.ts';
export { assertShortCircuit, assertReachedUpstream, assertLogged } from './assertions.ts';
export { scenarioRuntimes, forEachRuntime, forEachEnvoyVersion, scenarioEnvoyVersions, type RuntimeScenario } from './runtimes.ts';
export { sandboxFor, type ClusterTargets, type MockNames, type SandboxWith, type SandboxStarter } from './sandbox-for.ts';
export { stories, type Story, type StoryContext, type StoryImplementation, type TestDeclaration } from './story.ts';
export { reportDirFor, reportFiles } from './report.ts';
export { wasmPlugin, trafficExtension, type IstioMetadata, type IstioResource, type WasmPluginFields } from './istio-resources.ts';
