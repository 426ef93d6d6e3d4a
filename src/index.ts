/**
 * meshbox's public API, exactly what README.md documents: start a sandbox from a scenario (and tell stories on
 * every runtime), mock services, assertions, Istio resource builders, debug reports, errors, and the types they
 * use. Internals (spec resolution, config loading, Envoy provisioning, models) are not part of it.
 */
export * from './scenario/index.ts';
export type { PluginSpec, EnvoySpec, LogLevel } from './config/spec.ts';
export type { ClusterSpec, UpstreamSpec } from './config/spec.ts';
export type { AppProtocol, ChunkSpec } from './config/responses.ts';
export type { AppSpec, RouteSpec, RouteMatchSpec, RoutePluginSpec, HttpFilterSpec, StatsSpec } from './config/routing.ts';
export type { SandboxSpec } from './compose/spec.ts';
export type { PluginLogEntry, EnvoyLogEntry, PluginLogLevel } from './envoy-admin/logs.ts';
export type { EnvoyStats } from './envoy-admin/admin.ts';
export type { RecordedRequest } from './upstream/recording-server.ts';
export type { UpstreamRecordings } from './upstream/recordings.ts';
export type { TcpAppRecordings, TcpConnectionRecord } from './upstream/tcp-app.ts';
export type { TcpExchange, TcpOptions } from './scenario/tcp-client.ts';
export type { ListenersSpec, TcpListenerSpec, TcpAppSpec } from './config/listeners.ts';
export { MeshboxError, isMeshboxError } from './errors.ts';
export type { RuntimeName } from './runtime/types.ts';
export type { MeshModel, MeshProxyModel, MeshService, MeshExternalModel } from './istio/mesh/model.ts';
export { measure, type MeasureOptions } from './measure/measure.ts';
export { assertBudget, type MeasureBudget } from './measure/budget.ts';
export { writeMeasureReport } from './measure/report.ts';
export { formatMeasureTable } from './measure/format.ts';
export type { MeasureResult, ChainRun, LatencyFigures, MemoryFigures } from './measure/result.ts';
export type { EnvoyUsage } from './runtime/envoy-usage.ts';
