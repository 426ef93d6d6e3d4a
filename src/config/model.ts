/**
 * The resolved sandbox: every default filled in, every file checked. This is what `src/envoy` renders
 * and what the runtimes start. Nothing downstream reads the user's spec.
 */
import type { JsonObject } from '../util/json.ts';
import type { LogLevel } from './spec.ts';
import type { PatchModel } from './patches.ts';
import type { ChunkModel } from './responses.ts';
import type { RoutingModel } from './routing.ts';
import type { WasmModuleInfo } from './wasm-module.ts';

export type PluginModel = {
	readonly name: string;
	readonly rootId: string;
	readonly vmId: string;
	/** Absolute path of the wasm file on this machine. */
	readonly wasmPath: string;
	readonly module: WasmModuleInfo;
	/** The exact bytes (as text) the plugin reads in on_configure; undefined when none was given. */
	readonly configuration: string | undefined;
	/** The exact bytes (as text) the plugin reads in on_vm_start; undefined when none was given. */
	readonly vmConfiguration: string | undefined;
	readonly failOpen: boolean;
	readonly env: Readonly<Record<string, string>>;
	readonly hostEnv: readonly string[];
	/** How `meshbox up --watch` rebuilds the module; absent: it only watches the .wasm file. */
	readonly build?: BuildModel;
	// --- Istio sidecar emulation (src/istio); absent for a plain sandbox, whose output is unchanged. ---
	/** The HTTP/network filter `name` when it differs from `name` (Istio: the ECDS resource name). */
	readonly filterName?: string;
	/** Envoy `failure_policy`; when set it replaces `fail_open` (Istio ≥1.25 sends only this). */
	readonly failurePolicy?: 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';
};

export type BuildModel = {
	/** argv: run without a shell. */
	readonly command: readonly string[];
	/** Absolute. */
	readonly cwd: string;
	/** Absolute paths whose changes start a build. */
	readonly watch: readonly string[];
};

export type EnvoyModel = {
	readonly logLevel: LogLevel;
	readonly componentLogLevels: Readonly<Record<string, LogLevel>>;
	readonly concurrency: number;
	/**
	 * The Envoy version asked for (`1.38` = newest 1.38.x, or `1.38.3`); absent: the default (whatever Envoy
	 * is found, else the pinned one). The runtimes resolve it to an exact version and install it (src/envoy/provision.ts).
	 */
	readonly version?: string;
	/** Where `version` came from, for messages: `--envoy-version`, `envoy.version (meshbox.yaml:4:12)`, MESHBOX_ENVOY_VERSION, … */
	readonly versionOrigin?: string;
};

/** An extra Envoy cluster (a service plugins call with http_call). */
export type ClusterModel = {
	readonly name: string;
	readonly host: string;
	readonly port: number;
	/** Present when Envoy speaks HTTP/2 (h2c) to it; absent: HTTP/1.1. */
	readonly protocol?: 'http2';
};

export type NodeModel = {
	readonly id: string;
	readonly cluster: string;
	readonly metadata: JsonObject;
};

/** The app's answer to every request. */
export type UpstreamModel = {
	readonly status: number;
	readonly headers: Readonly<Record<string, string>>;
	readonly body: string;
	readonly trailers: Readonly<Record<string, string>>;
	/** Present when given: milliseconds the app waits before answering. */
	readonly delayMs?: number;
	/** Present when given: the body in these parts (and `body` is empty). */
	readonly chunks?: readonly ChunkModel[];
};

export type SandboxModel = {
	readonly upstream: UpstreamModel;
	/** Envoy's node identity (a sidecar's comes from `sidecar.node`). */
	readonly node: NodeModel;
	readonly plugins: readonly PluginModel[];
	readonly clusters: readonly ClusterModel[];
	/** Requested listener port; 0 means "any free port". */
	readonly port: number;
	/** Requested admin port; 0 means "any free port". */
	readonly adminPort: number;
	readonly envoy: EnvoyModel;
	/** Istio sidecar emulation (src/istio). Absent: the plain sandbox, rendered exactly as before. */
	readonly sidecar?: SidecarModel;
	// --- The Envoy around the plugins (issue #10); absent: one listener → plugins → one route → the app. ---
	/** Apps, routes, other HTTP filters, stats_config (./routing.ts). */
	readonly routing?: RoutingModel;
	/** More listeners (TCP) and singleton services (./listeners.ts). */
	readonly listeners?: ListenersModel;
	/** `envoy.patches` (./patches.ts). */
	readonly patches?: readonly PatchModel[];
};

// --- Istio sidecar emulation (src/istio) -------------------------------------------------------------

/** One entry of the sidecar's HTTP or network filter chain, in order. */
export type SidecarFilter =
	/** A Wasm plugin (also listed in `SandboxModel.plugins`, by its `name`). */
	| { readonly kind: 'wasm'; readonly plugin: PluginModel; readonly comment: string }
	/** A filter upstream Envoy has (Istio's RBAC fallback, grpc_stats, fault, cors, Lua). */
	/** `ecds`: delivered as an ECDS resource of that name (istio-agent's RBAC filter in a module's place). */
	| { readonly kind: 'typed'; readonly name: string; readonly typedConfig: JsonObject; readonly comment: string; readonly ecds?: boolean }
	/** An ECDS filter whose config Envoy rejected: it stays without config (Envoy answers 500). */
	| { readonly kind: 'missing-config'; readonly name: string; readonly typeUrls: readonly string[]; readonly comment: string }
	/** An Istio filter that does not exist in upstream Envoy: shown by `meshbox render`, not configured. */
	| { readonly kind: 'placeholder'; readonly name: string; readonly comment: string };

export type SidecarModel = {
	readonly node: NodeModel;
	readonly trafficDirection: 'INBOUND' | 'OUTBOUND';
	readonly listenerName: string;
	readonly filterChainName: string;
	readonly statPrefix: string;
	readonly routeConfigName: string;
	readonly virtualHostName: string;
	readonly virtualHostDomains: readonly string[];
	readonly routeName: string;
	readonly clusterName: string;
	readonly httpFilters: readonly SidecarFilter[];
	readonly networkFilters: readonly SidecarFilter[];
	/** What meshbox did as istiod / istio-agent would (selection, fetches, fallbacks), one plain line each. */
	readonly notes: readonly string[];
	/** Header lines for `meshbox render`. */
	readonly summary: readonly string[];
	/** The files it was made from (absolute): the Istio files and local `file://` modules (`up --watch` watches them). */
	readonly sources: readonly string[];
};

// --- More listeners and singleton services (./listeners.ts) ---

export type TcpAppModel =
	| { readonly mode: 'echo' }
	| { readonly mode: 'reply'; readonly reply: string; readonly close: boolean };

export type TcpListenerModel = {
	readonly name: string;
	readonly kind: 'tcp';
	/** Requested port; 0 means "any free port". */
	readonly port: number;
	readonly plugins: readonly PluginModel[];
	readonly app: TcpAppModel;
};

export type ListenersModel = {
	readonly tcp: readonly TcpListenerModel[];
	readonly services: readonly PluginModel[];
};
