/**
 * The Istio extension resources meshbox applies, after validation: one shape for WasmPlugin and for the
 * Wasm form of TrafficExtension (1.30+), since istiod turns every WasmPlugin into a TrafficExtension from
 * 1.30 on and handles both alike (pilot/pkg/config/kube/extensions/translate.go).
 */

/** extensions/v1alpha1/wasm.proto `PluginPhase`; TrafficExtension spells the first one `UNSPECIFIED`. */
export const phases = ['UNSPECIFIED_PHASE', 'AUTHN', 'AUTHZ', 'STATS'] as const;
export type Phase = (typeof phases)[number];
export const trafficExtensionPhases = ['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS'] as const;

/** wasm.proto `PullPolicy`. */
export const pullPolicies = ['UNSPECIFIED_POLICY', 'IfNotPresent', 'Always'] as const;
export type PullPolicy = (typeof pullPolicies)[number];

/** wasm.proto `FailStrategy`; FAIL_RELOAD from 1.27. */
export const failStrategies = ['FAIL_CLOSE', 'FAIL_OPEN', 'FAIL_RELOAD'] as const;
export type FailStrategy = (typeof failStrategies)[number];

/** wasm.proto `PluginType`. */
export const pluginTypes = ['UNSPECIFIED_PLUGIN_TYPE', 'HTTP', 'NETWORK'] as const;
export type PluginType = (typeof pluginTypes)[number];

/** type/v1beta1/selector.proto `WorkloadMode`, used by `match[].mode`. */
export const trafficModes = ['UNDEFINED', 'CLIENT', 'SERVER', 'CLIENT_AND_SERVER'] as const;
export type TrafficMode = (typeof trafficModes)[number];

/** wasm.proto `EnvValueSource`. */
export const envValueSources = ['INLINE', 'HOST'] as const;
export type EnvValueSource = (typeof envValueSources)[number];

export type EnvVar = { readonly name: string; readonly valueFrom: EnvValueSource; readonly value: string };

export type TargetRef = { readonly group: string; readonly kind: string; readonly name: string; readonly namespace: string };

export type TrafficSelector = { readonly mode: TrafficMode; readonly ports: readonly number[] };

/** Where a resource came from, for messages and `meshbox render` comments. */
export type ResourceOrigin = { readonly file: string; readonly line: number; readonly col: number };

export type WasmExtension = {
	readonly kind: 'WasmPlugin' | 'TrafficExtension';
	readonly name: string;
	readonly namespace: string;
	/** metadata.creationTimestamp in ms since the epoch; undefined when absent (then all sort as equal). */
	readonly creationTimestamp: number | undefined;
	/** metadata.resourceVersion; meshbox uses "1" when absent (the value a fresh object gets is opaque anyway). */
	readonly resourceVersion: string;
	readonly origin: ResourceOrigin;
	/** `selector.matchLabels`; undefined when `selector` is absent (an empty selector is `{}`). */
	readonly selector: Readonly<Record<string, string>> | undefined;
	/** `targetRefs`, with a singular `targetRef` folded in as istiod does. */
	readonly targetRefs: readonly TargetRef[];
	readonly url: string;
	readonly sha256: string;
	readonly imagePullPolicy: PullPolicy;
	readonly imagePullSecret: string;
	/** `pluginConfig` as parsed from YAML; undefined when absent. */
	readonly pluginConfig: Readonly<Record<string, unknown>> | undefined;
	readonly pluginName: string;
	readonly phase: Phase;
	/** undefined = unset, which istiod sorts below every set value (MinInt32). */
	readonly priority: number | undefined;
	readonly failStrategy: FailStrategy;
	readonly env: readonly EnvVar[];
	readonly match: readonly TrafficSelector[];
	readonly type: PluginType;
};

/** A TrafficExtension with `lua:` (1.30+): meshbox validates it, and places it as an Envoy Lua filter. */
export type LuaExtension = Omit<WasmExtension, 'kind' | 'url' | 'sha256' | 'imagePullPolicy' | 'imagePullSecret' | 'pluginConfig' | 'pluginName' | 'failStrategy' | 'env' | 'type'> & {
	readonly kind: 'TrafficExtension';
	readonly lua: string;
};

export type Extension = WasmExtension | LuaExtension;

export function isLua(extension: Extension): extension is LuaExtension {
	return 'lua' in extension;
}

export function displayName(extension: Pick<Extension, 'kind' | 'name' | 'namespace'>): string {
	return `${extension.kind} ${extension.namespace}/${extension.name}`;
}
