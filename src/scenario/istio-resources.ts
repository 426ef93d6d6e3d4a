/**
 * Builders for the Istio resources a sandbox's `istio: { resources: [...] }` takes, so a scenario writes what
 * it means (`wasmPlugin({ name: 'auth', url, phase: 'AUTHN' })`) instead of the Kubernetes envelope each time.
 * They return plain objects, as `kubectl apply` would read them from YAML; meshbox validates them as Istio does
 * when the sandbox starts, so a builder never hides a mistake. The fields are Istio's
 * (extensions/v1alpha1/wasm.proto); nothing here is meshbox's own.
 *
 * `envoyFilter({ name, configPatches })` builds a networking.istio.io/v1alpha3 EnvoyFilter, whose patches are
 * Envoy's JSON as istiod takes them (networking/v1alpha3/envoy_filter.proto).
 */

export type IstioMetadata = {
	/** metadata.name */
	name: string;
	/** metadata.namespace. Default `default`. */
	namespace?: string;
	/** metadata.creationTimestamp (RFC 3339): istiod's tie-break between equal phase and priority. */
	creationTimestamp?: string;
	labels?: Record<string, string>;
};

export type IstioResource = {
	readonly apiVersion: string;
	readonly kind: string;
	readonly metadata: Readonly<Record<string, unknown>>;
	readonly spec: Readonly<Record<string, unknown>>;
};

/** WasmPlugin `spec` fields (Istio's names). Unknown fields are passed on, for meshbox to report as Istio would. */
export type WasmPluginFields = {
	url: string;
	sha256?: string;
	imagePullPolicy?: 'UNSPECIFIED_POLICY' | 'IfNotPresent' | 'Always';
	imagePullSecret?: string;
	pluginConfig?: Record<string, unknown>;
	pluginName?: string;
	phase?: 'UNSPECIFIED_PHASE' | 'AUTHN' | 'AUTHZ' | 'STATS';
	priority?: number;
	failStrategy?: 'FAIL_CLOSE' | 'FAIL_OPEN';
	vmConfig?: { env: Array<{ name: string; value?: string; valueFrom?: 'INLINE' | 'HOST' }> };
	selector?: { matchLabels: Record<string, string> };
	targetRefs?: Array<{ group?: string; kind: string; name: string; namespace?: string }>;
	match?: Array<{ mode?: 'UNDEFINED' | 'CLIENT' | 'SERVER' | 'CLIENT_AND_SERVER'; ports?: Array<{ number: number }> }>;
	type?: 'UNSPECIFIED_PLUGIN_TYPE' | 'HTTP' | 'NETWORK';
	[field: string]: unknown;
};

/** `wasmPlugin({ name: 'auth', namespace: 'shop', url: 'file://auth.wasm', phase: 'AUTHN' })` → an extensions.istio.io/v1alpha1 WasmPlugin. */
export function wasmPlugin(fields: IstioMetadata & WasmPluginFields): IstioResource {
	const { name, namespace, creationTimestamp, labels, ...spec } = fields;
	return {
		apiVersion: 'extensions.istio.io/v1alpha1',
		kind: 'WasmPlugin',
		metadata: metadataOf({ name, namespace, creationTimestamp, labels }),
		spec,
	};
}

/** `trafficExtension({ name, wasm: { url } })` (Istio 1.30+, `istio.version: '1.30'`): its spec fields as Istio spells them. */
export function trafficExtension(fields: IstioMetadata & { [field: string]: unknown }): IstioResource {
	const { name, namespace, creationTimestamp, labels, ...spec } = fields;
	return {
		apiVersion: 'extensions.istio.io/v1alpha1',
		kind: 'TrafficExtension',
		metadata: metadataOf({ name, namespace, creationTimestamp, labels }),
		spec,
	};
}

/** EnvoyFilter `spec` fields (Istio's names); the patches' values are Envoy's JSON. */
export type EnvoyFilterFields = {
	configPatches: Array<{ applyTo: string; match?: Record<string, unknown>; patch: { operation: string; value?: Record<string, unknown>; filterClass?: string } }>;
	workloadSelector?: { labels: Record<string, string> };
	targetRefs?: Array<{ group?: string; kind: string; name: string }>;
	priority?: number;
	[field: string]: unknown;
};

/**
 * `envoyFilter({ name: 'lua-first', configPatches: [{ applyTo: 'HTTP_FILTER', match: {…}, patch: { operation:
 * 'INSERT_BEFORE', value: {…} } }] })` → a networking.istio.io/v1alpha3 EnvoyFilter.
 */
export function envoyFilter(fields: IstioMetadata & EnvoyFilterFields): IstioResource {
	const { name, namespace, creationTimestamp, labels, ...spec } = fields;
	return {
		apiVersion: 'networking.istio.io/v1alpha3',
		kind: 'EnvoyFilter',
		metadata: metadataOf({ name, namespace, creationTimestamp, labels }),
		spec,
	};
}

function metadataOf(metadata: IstioMetadata): Record<string, unknown> {
	return Object.fromEntries(Object.entries({ ...metadata, namespace: metadata.namespace ?? 'default' }).filter(([, value]) => value !== undefined));
}
