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

/**
 * The newest patch of each release in istio/istio's tags when meshbox's rules were last checked against them
 * (snapshot of 2026-08): `istio.version: '1.29'` means 1.29.6. A minor alone stands for its latest patch because
 * that is what a cluster installed or upgraded today runs (`istioctl install`, the Helm charts of that minor),
 * and patches carry security fixes that change behaviour (registryRealmCheck). An older patch is emulated when
 * written out (`'1.29.0'`); a patch newer than these is taken to behave like the newest one known.
 */
export const latestPatches: Readonly<Record<IstioVersion, number>> = { '1.25': 5, '1.26': 8, '1.27': 9, '1.28': 10, '1.29': 6, '1.30': 3 };

/**
 * First patch of each release whose istio-agent refuses a registry 401 naming an unsafe realm (pkg/wasm/
 * imagefetcher.go ssrfProtectionTransport, "[release-1.29] SSRF protection" istio/istio#59128 and its
 * backports; tags 1.27.8, 1.28.5, 1.29.1, 1.30.0; 1.25 and 1.26 were out of support and never got it).
 */
const realmCheckSince: Readonly<Partial<Record<IstioVersion, number>>> = { '1.27': 8, '1.28': 5, '1.29': 1, '1.30': 0 };

/** `1.29` or `1.29.1` (also a YAML number 1.29) → release and patch; undefined when it is neither. */
export function parseIstioRelease(value: unknown): { readonly version: IstioVersion; readonly patch: number } | undefined {
	const text = typeof value === 'number' ? value.toFixed(2) : value;
	if (typeof text !== 'string') {
		return undefined;
	}

	const match = /^(1\.\d+)(?:\.(0|[1-9]\d{0,3}))?$/.exec(text);
	const version = istioVersions.find(entry => entry === match?.[1]);
	return version ? { version, patch: match?.[2] === undefined ? latestPatches[version] : Number(match[2]) } : undefined;
}

export type VersionTraits = {
	readonly version: IstioVersion;
	readonly patch: number;
	/** `1.29.6`: the proxy's ISTIO_VERSION, what EnvoyFilter `proxyVersion` regexes see. */
	readonly fullVersion: string;
	/**
	 * Whether istio-agent refuses a registry whose 401 `WWW-Authenticate` names a realm that is not an http(s)
	 * URL to a public host (pkg/wasm/imagefetcher.go validateRealmURL, from the patches in realmCheckSince).
	 */
	readonly registryRealmCheck: boolean;
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

export function versionTraits(version: IstioVersion, patch: number = latestPatches[version]): VersionTraits {
	const minor = Number(version.split('.')[1]);
	const since = realmCheckSince[version];
	const release = { version, patch, fullVersion: `${version}.${patch}`, registryRealmCheck: since !== undefined && patch >= since };
	if (minor >= 30) {
		return {
			...release,
			filterName: (namespace, name) => `${trafficExtensionPrefix}${namespace}.${name}${translatedSuffix}`,
			pluginName: (namespace, name) => `${namespace}.${name}${translatedSuffix}`,
			hasFailReload: true,
			hasTrafficExtension: true,
			httpRbacStatPrefix: true,
		};
	}

	return {
		...release,
		// 1.21–1.25 spelled the prefix "extenstions" (pilot/pkg/model/extensions.go at 1.25); fixed in 1.26.
		filterName: (namespace, name) => `${minor <= 25 ? 'extenstions.istio.io/wasmplugin/' : wasmPluginPrefix}${namespace}.${name}`,
		pluginName: (namespace, name) => `${namespace}.${name}`,
		hasFailReload: minor >= 27,
		hasTrafficExtension: false,
		httpRbacStatPrefix: minor >= 28,
	};
}
