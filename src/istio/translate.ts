/**
 * One selected extension → what istiod sends for it (pilot/pkg/model/extensions.go `convertToWasmPluginWrapper`,
 * `buildDataSource`, `buildVMConfig`; failure policy per version) and what istio-agent turns it into before
 * Envoy sees it (pkg/wasm/convert.go, pkg/wasm/cache.go): the PluginConfig, the module on disk, or the RBAC
 * filter that replaces a module that could not be fetched.
 */
import path from 'node:path';
import { typeUrls } from '../envoy-api/type-urls.ts';
import type { JsonObject } from '../util/json.ts';
import { goJson, GoJsonError } from './go-json.ts';
import { parseGoUrl } from './go-url.ts';
import type { WasmExtension } from './resources.ts';
import type { VersionTraits } from './version.ts';

/** pilot/pkg/model/extensions.go: variables that carry data from istiod to the agent inside the VM config. */
export const wasmEnv = {
	resourceVersion: 'ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION',
	pullPolicy: 'ISTIO_META_WASM_IMAGE_PULL_POLICY',
	pullSecret: 'ISTIO_META_WASM_IMAGE_PULL_SECRET',
} as const;

export type Translation = {
	/** ECDS resource name = the listener filter's name. */
	readonly filterName: string;
	/** PluginConfig.name. */
	readonly pluginName: string;
	readonly rootId: string;
	/** The JSON text the plugin reads in on_configure; undefined = zero-length configuration. */
	readonly configuration: string | undefined;
	readonly code: { readonly kind: 'local'; readonly filename: string } | { readonly kind: 'remote'; readonly uri: string; readonly sha256: string };
	/** environment_variables.key_values as istiod sends them (before the agent strips ISTIO_META_*). */
	readonly keyValues: Readonly<Record<string, string>>;
	readonly hostEnvKeys: readonly string[];
	readonly failurePolicy: 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';
};

export type TranslationResult = { readonly ok: true; readonly translation: Translation } | { readonly ok: false; readonly reason: string };

export function translate(extension: WasmExtension, traits: VersionTraits): TranslationResult {
	const name = extension.kind === 'WasmPlugin' ? traits.pluginName(extension.namespace, extension.name) : `${extension.namespace}.${extension.name}`;
	const filterName = extension.kind === 'WasmPlugin'
		? traits.filterName(extension.namespace, extension.name)
		: `extensions.istio.io/trafficextension/${extension.namespace}.${extension.name}`;
	let configuration: string | undefined;
	if (extension.pluginConfig && Object.keys(extension.pluginConfig).length > 0) {
		try {
			configuration = goJson(extension.pluginConfig);
		} catch (error) {
			if (error instanceof GoJsonError) {
				return { ok: false, reason: `wasmplugin ${extension.namespace}/${extension.name} discarded due to json marshaling error: ${error.message}` };
			}

			throw error;
		}
	}

	const parsed = parseGoUrl(extension.url);
	if (parsed.error) {
		return { ok: false, reason: `wasmplugin ${extension.namespace}/${extension.name} discarded due to failure to parse URL: ${parsed.error}` };
	}

	// extensions.go: no scheme means oci; file:// becomes a local filename (the literal prefix cut off, sha256 dropped).
	const scheme = parsed.scheme || 'oci';
	const code: Translation['code'] = scheme === 'file'
		? { kind: 'local', filename: extension.url.startsWith('file://') ? extension.url.slice('file://'.length) : extension.url }
		: { kind: 'remote', uri: parsed.scheme ? extension.url : `oci://${extension.url}`, sha256: extension.sha256 };

	const keyValues: Record<string, string> = {};
	if (extension.imagePullSecret) {
		keyValues[wasmEnv.pullSecret] = '';
	}

	if (extension.imagePullPolicy !== 'UNSPECIFIED_POLICY') {
		keyValues[wasmEnv.pullPolicy] = extension.imagePullPolicy;
	}

	keyValues[wasmEnv.resourceVersion] = extension.resourceVersion;
	const hostEnvKeys: string[] = [];
	for (const variable of extension.env) {
		if (variable.valueFrom === 'INLINE') {
			keyValues[variable.name] = variable.value;
		} else {
			hostEnvKeys.push(variable.name);
		}
	}

	return {
		ok: true,
		translation: {
			filterName,
			pluginName: name,
			rootId: extension.pluginName,
			configuration,
			code,
			keyValues,
			hostEnvKeys,
			failurePolicy: extension.failStrategy === 'FAIL_OPEN' ? 'FAIL_OPEN' : (extension.failStrategy === 'FAIL_RELOAD' ? 'FAIL_RELOAD' : 'FAIL_CLOSED'),
		},
	};
}

/** The ECDS resource istiod sends (for `meshbox render --ecds` style inspection and tests). */
export function ecdsResource(translation: Translation, network: boolean): JsonObject {
	const code: JsonObject = translation.code.kind === 'local'
		? { local: { filename: translation.code.filename } }
		: { remote: { http_uri: { uri: translation.code.uri, cluster: '_', timeout: '30s' }, sha256: translation.code.sha256 } };
	return {
		name: translation.filterName,
		typed_config: {
			'@type': network ? typeUrls.networkWasm : typeUrls.httpWasm,
			config: {
				name: translation.pluginName,
				...(translation.rootId ? { root_id: translation.rootId } : {}),
				...(translation.configuration === undefined ? {} : { configuration: { '@type': typeUrls.stringValue, value: translation.configuration } }),
				failure_policy: translation.failurePolicy,
				vm_config: {
					runtime: 'envoy.wasm.runtime.v8',
					code,
					environment_variables: {
						key_values: { ...translation.keyValues },
						...(translation.hostEnvKeys.length > 0 ? { host_env_keys: [...translation.hostEnvKeys] } : {}),
					},
				},
			},
		},
	};
}

/** pkg/wasm/convert.go: the agent removes every ISTIO_META_* key_values entry from remote-code configs. */
export function agentKeyValues(translation: Translation): Record<string, string> {
	if (translation.code.kind === 'local') {
		// Local code passes the agent untouched, so the plugin sees ISTIO_META_WASM_* too.
		return { ...translation.keyValues };
	}

	return Object.fromEntries(Object.entries(translation.keyValues).filter(([key]) => !key.startsWith('ISTIO_META_')));
}

/** file:// paths: absolute as given; relative ones (in a pod: from the proxy's working directory) from `baseDir`. */
export function localModulePath(filename: string, baseDir: string): string {
	return path.isAbsolute(filename) ? filename : path.resolve(baseDir, filename);
}

/**
 * pkg/wasm/convert.go: the filters that replace a module the agent could not load. Empty rules deny
 * everything; no rules allow everything. The HTTP filters carry `rules_stat_prefix` only from 1.28
 * (VersionTraits.httpRbacStatPrefix).
 */
export function rbacFallback(network: boolean, failOpen: boolean, traits: Pick<VersionTraits, 'httpRbacStatPrefix'>): JsonObject {
	const prefix = failOpen ? 'wasm-default-allow' : 'wasm-default-deny';
	if (network) {
		return {
			'@type': typeUrls.networkRbac,
			...(failOpen ? {} : { rules: {} }),
			stat_prefix: prefix,
		};
	}

	return {
		'@type': typeUrls.httpRbac,
		...(failOpen ? {} : { rules: {} }),
		...(traits.httpRbacStatPrefix ? { rules_stat_prefix: prefix } : {}),
	};
}
