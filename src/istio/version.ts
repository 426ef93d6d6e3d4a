/**
 * The Istio release a sandbox emulates, and what differs between releases for WasmPlugins.
 *
 * Names, failure handling and the path a WasmPlugin takes through istiod changed several times; each
 * difference below names the release that introduced it (first tag containing the change) and the file.
 */

/** Releases meshbox emulates. Older ones NACK fetch failures instead of substituting RBAC filters. */
export const istioVersions = ['1.25', '1.26', '1.27', '1.28', '1.29', '1.30'] as const;
export type IstioVersion = (typeof istioVersions)[number];

/**
 * 1.29: the last release whose WasmPlugins go straight to ECDS (1.30 translates each into a synthetic
 * TrafficExtension and renames everything), so it is the form most clusters and most docs show.
 */
export const defaultIstioVersion: IstioVersion = '1.29';

export type VersionTraits = {
	readonly version: IstioVersion;
	/** ECDS resource / HTTP filter name of a WasmPlugin `ns/name`. */
	readonly filterName: (namespace: string, name: string) => string;
	/** PluginConfig.name (Envoy's plugin name, the `wasm log` prefix). */
	readonly pluginName: (namespace: string, name: string) => string;
	/** Whether FAIL_RELOAD exists in the API (istio/api extensions/v1alpha1/wasm.proto, 1.27). */
	readonly hasFailReload: boolean;
	/** Whether TrafficExtension is served (istio/api extensions/v1alpha1/traffic_extension.proto, 1.30). */
	readonly hasTrafficExtension: boolean;
	/**
	 * Whether the HTTP RBAC filters that replace a module the agent could not fetch carry `rules_stat_prefix`
	 * (`wasm-default-deny` / `wasm-default-allow`): pkg/wasm/convert.go from 1.28.0; 1.25–1.27 send the deny
	 * filter as `RBAC{rules: {}}` and the allow filter as an empty RBAC. The network RBAC filters always had
	 * `stat_prefix` (a required field).
	 *
	 * (`fail_open` is not a trait: pilot/pkg/model/extensions.go 1.25–1.28 sets it only for proxies older than
	 * 1.25, and the sidecar meshbox emulates runs the same release as istiod, so every emulated release sends
	 * `failure_policy` alone.)
	 */
	readonly httpRbacStatPrefix: boolean;
};

/** pilot/pkg/networking/core/extension/wasmplugin.go (1.26–1.29): the corrected prefix. */
const wasmPluginPrefix = 'extensions.istio.io/wasmplugin/';
/** pilot/pkg/networking/core/extension/extensionfilter.go (1.30+). */
const trafficExtensionPrefix = 'extensions.istio.io/trafficextension/';
/** pilot/pkg/config/kube/extensions/translate.go (1.30+): suffix of a WasmPlugin's synthetic TrafficExtension. */
export const translatedSuffix = '~istio-translated-wasmplugin';

export function versionTraits(version: IstioVersion): VersionTraits {
	const minor = Number(version.split('.')[1]);
	if (minor >= 30) {
		return {
			version,
			filterName: (namespace, name) => `${trafficExtensionPrefix}${namespace}.${name}${translatedSuffix}`,
			pluginName: (namespace, name) => `${namespace}.${name}${translatedSuffix}`,
			hasFailReload: true,
			hasTrafficExtension: true,
			httpRbacStatPrefix: true,
		};
	}

	return {
		version,
		// 1.21–1.25 spelled the prefix "extenstions" (pilot/pkg/model/extensions.go at 1.25); fixed in 1.26.
		filterName: (namespace, name) => `${minor <= 25 ? 'extenstions.istio.io/wasmplugin/' : wasmPluginPrefix}${namespace}.${name}`,
		pluginName: (namespace, name) => `${namespace}.${name}`,
		hasFailReload: minor >= 27,
		hasTrafficExtension: false,
		httpRbacStatPrefix: minor >= 28,
	};
}

/** The proxy's ISTIO_VERSION metadata for a release (the .0 patch; meshbox does not emulate patch differences). */
export function fullVersion(version: IstioVersion): string {
	return `${version}.0`;
}
