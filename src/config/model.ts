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
	 * is found, else the pinned one). The runtimes resolve it to an exact version and install it (src/envoy-binary/provision.ts).
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
	/** One proxy of a mesh (src/istio/mesh): its listeners, routes, clusters and secrets as istiod gives them. Excludes `sidecar`. */
	readonly proxy?: ProxyModel;
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

// --- One proxy of a mesh (src/istio/mesh → src/envoy/proxy.ts) ------------------------------------------

/**
 * Where a cluster's endpoint is, named by what it is: the runtime knows the address (a port Envoy bound, a
 * container's name on the sandbox network), src/istio knows only the name.
 */
export type MeshEndpointRef =
	/** This proxy's own app (the workload's container: `inbound|<port>||`). */
	| { readonly kind: 'app' }
	/** Another proxy's listener (a sidecar's inbound, a gateway's port), by proxy and listener name. */
	| { readonly kind: 'proxy'; readonly proxy: string; readonly listener: string }
	/** A host outside the mesh (ServiceEntry) served by an app or mock service of the mesh spec, by host. */
	| { readonly kind: 'external'; readonly host: string; readonly port: number };

/** One cluster of a mesh proxy (istiod's `outbound|9080|v1|reviews.default.svc.cluster.local`, `inbound|8080||`). */
export type ProxyClusterModel = {
	readonly name: string;
	readonly endpoints: readonly MeshEndpointRef[];
	/**
	 * Envoy Cluster fields besides name, type and load_assignment, as istiod sets them (connect_timeout,
	 * transport_socket / transport_socket_matches for (auto) mTLS, lb_policy, circuit_breakers, metadata, …).
	 */
	readonly fields: JsonObject;
	/** Present when Envoy speaks HTTP/2 (h2c or h2 over TLS) to it; absent: HTTP/1.1 (protocol options are src/envoy's). */
	readonly protocol?: 'http2';
	/** Why it exists (the Service, subset, ServiceEntry), for `meshbox render`. */
	readonly comment?: string;
};

/** One filter chain of a mesh proxy's listener: an HTTP connection manager behind optional TLS. */
export type ProxyFilterChainModel = {
	readonly name: string;
	/** Envoy `filter_chain_match` (transport_protocol tls / raw_buffer, application_protocols, server_names). */
	readonly match?: JsonObject;
	/** Envoy `transport_socket` (a DownstreamTlsContext whose certificates come over SDS). */
	readonly transportSocket?: JsonObject;
	/** Network filters before the HTTP connection manager (network WasmPlugins, placeholders). */
	readonly networkFilters: readonly SidecarFilter[];
	readonly http: {
		readonly statPrefix: string;
		/** An Envoy RouteConfiguration, inline in the connection manager. */
		readonly routeConfig: JsonObject;
		/** The HTTP filters before the router, in order (Istio's, the security filters, the WasmPlugins). */
		readonly httpFilters: readonly SidecarFilter[];
		/** More HttpConnectionManager fields istiod sets (forward_client_cert_details, use_remote_address, …). */
		readonly fields?: JsonObject;
	};
};

export type ProxyListenerModel = {
	readonly name: string;
	/**
	 * What it is for, so a runtime knows where to bind it and how a client reaches it: a sidecar's `inbound`
	 * (other proxies and outside clients send to it), its `outbound` for one service port (its app sends to it),
	 * a gateway's `gateway` port (clients from outside send to it).
	 */
	readonly role: 'inbound' | 'outbound' | 'gateway';
	/** The port istiod names it after (the workload port, the service port, the gateway's container port). */
	readonly port: number;
	readonly trafficDirection: 'INBOUND' | 'OUTBOUND';
	/** Envoy `listener_filters` (tls_inspector, http_inspector) as istiod adds them. */
	readonly listenerFilters: readonly JsonObject[];
	readonly filterChains: readonly ProxyFilterChainModel[];
};

/** A secret the proxy's agent serves over SDS (`default`, `ROOTCA`, a gateway's `kubernetes://<credentialName>`). PEM text. */
export type ProxySecretModel = {
	readonly name: string;
	readonly certificateChain?: string;
	readonly privateKey?: string;
	readonly trustedCa?: string;
};

export type ProxyModel = {
	/** Istio's proxy type: a workload's `sidecar`, or a gateway's `router`. */
	readonly role: 'sidecar' | 'router';
	/** Unique in the mesh: the workload's or the gateway's name. */
	readonly name: string;
	readonly namespace: string;
	readonly node: NodeModel;
	readonly listeners: readonly ProxyListenerModel[];
	readonly clusters: readonly ProxyClusterModel[];
	readonly secrets: readonly ProxySecretModel[];
	/** What meshbox did as istiod / istio-agent would, one plain line each (as SidecarModel.notes). */
	readonly notes: readonly string[];
	/** Header lines for `meshbox render`. */
	readonly summary: readonly string[];
};
