/**
 * What src/envoy renders into, and where things are as Envoy sees them (which depends on the runtime).
 */
import type { ClusterModel, MeshEndpointRef, PluginModel, ProxyListenerModel } from '../config/model.ts';
import type { AppModel } from '../config/routing.ts';
import type { JsonObject } from '../util/json.ts';

export type SocketAddress = { readonly address: string; readonly port: number };

export type Placement = {
	/** Where the listener binds (as Envoy sees it). */
	readonly listener: SocketAddress;
	/** Where the admin interface binds (as Envoy sees it). */
	readonly admin: SocketAddress;
	/** The hello-world upstream, as Envoy reaches it: an IP address, or a host name resolved by DNS. */
	readonly upstream: SocketAddress;
	/** The wasm file's path as Envoy opens it. */
	readonly wasmPath: (plugin: PluginModel) => string;
	/** How Envoy reaches an extra cluster's service (default: the address in the model). */
	readonly clusterAddress?: (cluster: ClusterModel) => SocketAddress;
	/** How Envoy reaches a named recording app (`apps:`, src/config/routing.ts); absent (`meshbox render`): next to `upstream`, see src/envoy/routing.ts. */
	readonly appAddress?: (app: AppModel) => SocketAddress;
	/** Where an extra listener (src/config/listeners.ts) binds, as Envoy sees it (default: the listener's address, the model's port). */
	readonly extraListener?: (name: string, requestedPort: number) => SocketAddress;
	/** How Envoy reaches a TCP listener's recording app (src/upstream/tcp-app.ts), by listener name; absent (`meshbox render`): a stand-in. */
	readonly tcpApp?: (listenerName: string) => SocketAddress;
	/** Where a mesh proxy's listener (`model.proxy`, ./proxy.ts) binds, as Envoy sees it; absent (`meshbox render`): `listener`'s address, the istiod port. */
	readonly proxyListener?: (listener: ProxyListenerModel) => SocketAddress;
	/**
	 * Where another proxy's listener or an external host is, as a mesh proxy's Envoy reaches it (its own app is
	 * `upstream`); undefined → not known yet: no endpoint (the mesh pushes again once every proxy is up,
	 * src/compose/mesh.ts). Absent (`meshbox render`): none known.
	 */
	readonly meshEndpoint?: (ref: Exclude<MeshEndpointRef, { kind: 'app' }>) => SocketAddress | undefined;
};

/**
 * Every resource of a plain sandbox, as Envoy's API spells them: served over xDS by the control plane
 * (src/xds), or inlined into a static bootstrap by `buildBootstrap`. Plugins are separate extension configs
 * (ECDS) when `ecds` is set, so that one plugin can change without touching the listener.
 */
export type SandboxResources = {
	readonly listeners: readonly JsonObject[];
	readonly clusters: readonly JsonObject[];
	/** TypedExtensionConfig resources (ECDS), by the filter name that subscribes to them. */
	readonly extensionConfigs: readonly JsonObject[];
	/**
	 * Secret resources (a mesh proxy's `default`, `ROOTCA`, a gateway's `kubernetes://<credentialName>`), as
	 * istio-agent serves them (./proxy.ts proxySecret, as src/istio/mesh/tls.ts envoySecret): over SDS and ADS by the control plane; absent
	 * for a plain sandbox.
	 */
	readonly secrets?: readonly JsonObject[];
};

