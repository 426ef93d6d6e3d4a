/**
 * meshbox's public API: start a sandbox from a scenario, render Envoy config, find Envoy.
 */
export * from './scenario/index.ts';
export type { SandboxSpec, PluginSpec, EnvoySpec, LogLevel } from './config/spec.ts';
export type { SandboxModel, PluginModel } from './config/model.ts';
export type { PluginLogEntry, EnvoyLogEntry, PluginLogLevel } from './envoy/logs.ts';
export type { EnvoyStats } from './envoy/admin.ts';
export type { RecordedRequest } from './upstream/recording-server.ts';
export type { UpstreamRecordings } from './upstream/recordings.ts';
export { MeshboxError, isMeshboxError } from './errors.ts';
export { resolveSpec } from './config/resolve.ts';
export { loadConfigFile } from './config/load-file.ts';
export { provisionEnvoy, pinnedEnvoyVersion } from './envoy/provision.ts';
export type { RuntimeName } from './runtime/types.ts';
