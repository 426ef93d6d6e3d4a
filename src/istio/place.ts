/**
 * One applicable extension → its place in the sidecar's chain, as istiod translates it and istio-agent fetches
 * its module: a Wasm plugin, Istio's RBAC filter in its place when the fetch fails, a filter without config
 * when its module cannot be loaded, or Lua (1.30+ TrafficExtension).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PluginModel, SidecarFilter } from '../config/model.ts';
import { inspectWasmBytes, inspectWasmFile, type WasmModuleInfo } from '../config/wasm-module.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';
import { isMeshboxError, MeshboxError } from '../errors.ts';
import { WasmCache, type FetchResult } from './fetch/cache.ts';
import type { IstioPod } from './pod.ts';
import { cacheDir } from '../util/cache-dir.ts';
import { redactText } from './redact.ts';
import { displayName, isLua, type Extension, type WasmExtension } from './resources.ts';
import type { ResolvedIstioSpec } from './spec.ts';
import { agentKeyValues, localModulePath, rbacFallback, translate, wasmEnv, type Translation } from './translate.ts';
import type { VersionTraits } from './version.ts';

export type PlaceContext = {
	readonly traits: VersionTraits;
	readonly istio: ResolvedIstioSpec;
	readonly baseDir: string;
	readonly cache: WasmCache;
	readonly hostEnv: Readonly<Record<string, string | undefined>>;
	readonly notes: string[];
	/** Local module files read (SidecarModel.sources). */
	readonly sources: Set<string>;
};

/** The pod's istio-agent module cache (`istio.cacheDir`, default `<meshbox cache>/istio-wasm`), its lines in `notes`. */
export function podWasmCache(pod: IstioPod, istio: Pick<ResolvedIstioSpec, 'cacheDir'>, baseDir: string, notes: string[]): WasmCache {
	const wasmDir = istio.cacheDir ? path.resolve(baseDir, istio.cacheDir) : path.join(cacheDir(), 'istio-wasm');
	const cache = pod.wasmCache(wasmDir, () => new WasmCache(wasmDir));
	cache.log = line => notes.push(`istio-agent: ${line}`);
	return cache;
}

function comment(extension: Extension, extra = ''): string {
	const attributes = isLua(extension) ? 'lua' : `${extension.failStrategy}, url ${redactText(extension.url)}`;
	return `${displayName(extension)} (${extension.origin.file}:${extension.origin.line}): phase ${extension.phase}, priority ${extension.priority ?? 'unset'}, ${attributes}${extra}`;
}

export async function placeExtension(extension: Extension, network: boolean, context: PlaceContext): Promise<SidecarFilter | undefined> {
	if (isLua(extension)) {
		// extension/lua.go (1.30+): Lua is inlined as Envoy's Lua filter, HTTP only.
		return {
			kind: 'typed',
			name: `extensions.istio.io/trafficextension/${extension.namespace}.${extension.name}`,
			typedConfig: { '@type': typeUrls.lua, default_source_code: { inline_string: extension.lua } },
			comment: comment(extension),
		};
	}

	const result = translate(extension, context.traits);
	if (!result.ok) {
		context.notes.push(`istiod: ${result.reason}`);
		return undefined;
	}

	const translation = result.translation;
	const missingConfig = (reason: string): SidecarFilter => {
		context.notes.push(`envoy: ${displayName(extension)}: ${reason}; Envoy rejects the ECDS update for ${translation.filterName} and the filter stays without config: every request gets 500`);
		return {
			kind: 'missing-config',
			name: translation.filterName,
			typeUrls: network ? [typeUrls.networkWasm, typeUrls.networkRbac] : [typeUrls.httpWasm, typeUrls.httpRbac],
			comment: comment(extension, ' — rejected by Envoy (config missing → 500)'),
		};
	};

	let wasmPath: string;
	let module: WasmModuleInfo;
	let pullSecret: Uint8Array | undefined;
	if (translation.code.kind === 'local') {
		// A pod resolves a relative file:// path from the proxy's working directory; the sandbox from its own.
		wasmPath = localModulePath(translation.code.filename, process.cwd());
		context.sources.add(wasmPath);
		try {
			module = await inspectWasmFile(wasmPath, displayName(extension));
		} catch (error) {
			if (isMeshboxError(error)) {
				return missingConfig(error.message);
			}

			throw error;
		}
	} else {
		try {
			if (extension.imagePullSecret) {
				const secretFile = context.istio.pullSecrets[extension.imagePullSecret];
				if (!secretFile) {
					// istiod sends an empty secret when it cannot read it; the agent then refuses without a network call.
					throw new Error(`cannot fetch Wasm module ${translation.pluginName}: missing image pulling secret (istio.pullSecrets has no "${extension.imagePullSecret}")`);
				}

				pullSecret = await readPullSecret(path.resolve(context.baseDir, secretFile), extension.imagePullSecret);
			}

			const fetched = await context.cache.get({
				url: translation.code.uri,
				sha256: translation.code.sha256,
				pullPolicy: extension.imagePullPolicy,
				resourceName: translation.filterName,
				resourceVersion: extension.resourceVersion,
				pullSecret,
				timeoutMs: context.istio.fetchTimeoutMs,
				insecureRegistries: context.istio.insecureRegistries,
				registryRealmCheck: context.traits.registryRealmCheck,
			});
			context.notes.push(`istio-agent: ${translation.filterName}: ${describeFetch(fetched, translation.code.uri)}`);
			wasmPath = fetched.path;
		} catch (error) {
			if (isMeshboxError(error)) {
				// A pull secret the API server would not store (readPullSecret): the user's file to fix, not a fetch failure.
				throw error;
			}

			const failOpen = extension.failStrategy === 'FAIL_OPEN';
			context.notes.push(`istio-agent: error in converting the wasm config to local: ${(error as Error).message}. applying ${failOpen ? 'allow' : 'deny'} RBAC filter`);
			return {
				kind: 'typed',
				name: translation.filterName,
				typedConfig: rbacFallback(network, failOpen, context.traits),
				// istio-agent puts it in the ECDS resource the module would have filled (pkg/wasm/convert.go).
				ecds: true,
				comment: comment(extension, ` — fetch failed: ${failOpen ? 'allow-all' : 'deny-all'} RBAC in its place`),
			};
		}

		try {
			module = inspectWasmBytes(await readFile(wasmPath), `${displayName(extension)} (${translation.code.uri})`);
		} catch (error) {
			if (isMeshboxError(error)) {
				return missingConfig(error.message);
			}

			throw error;
		}
	}

	const env = resolveEnv(translation, extension, context);
	const plugin: PluginModel = {
		name: translation.pluginName,
		filterName: translation.filterName,
		rootId: translation.rootId,
		vmId: '',
		wasmPath,
		module,
		configuration: translation.configuration,
		vmConfiguration: undefined,
		failOpen: false,
		failurePolicy: translation.failurePolicy,
		env,
		hostEnv: [],
	};
	return { kind: 'wasm', plugin, comment: comment(extension) };
}

/**
 * The docker config JSON of a pull secret. A kubernetes.io/dockerconfigjson Secret whose `.dockerconfigjson`
 * is not JSON cannot exist in a cluster (the API server refuses it: kubernetes pkg/apis/core/validation/
 * validation.go ValidateSecret), so a broken file is the user's error, named with the JSON error's line,
 * rather than the fetch failure it would become deep in the registry client.
 */
async function readPullSecret(file: string, secretName: string): Promise<Uint8Array> {
	const bytes = await readFile(file);
	const text = bytes.toString('utf8');
	try {
		JSON.parse(text);
	} catch (error) {
		const message = (error as Error).message;
		const position = Number(/at position (\d+)/.exec(message)?.[1] ?? Number.NaN);
		const before = Number.isNaN(position) ? undefined : text.slice(0, position).split('\n');
		const where = before ? `${file}:${before.length}:${(before.at(-1)?.length ?? 0) + 1}` : file;
		throw new MeshboxError('CONFIG_INVALID', `${where}: the pull secret "${secretName}" (istio.pullSecrets.${secretName}) is not valid JSON: ${message}`,
			'give a docker config file, e.g. {"auths": {"registry.example.com": {"auth": "<base64 of user:password>"}}} (what `docker login` writes to ~/.docker/config.json)');
	}

	return bytes;
}

/**
 * Environment variables the plugin sees: istiod's key_values (less ISTIO_META_* for remote code, as the agent
 * strips them), and HOST entries copied from the istio-proxy container's environment. meshbox resolves HOST
 * values itself (istio.env, then the synthesized sidecar env, then its own env) and passes them as key_values,
 * so every runtime shows the plugin the same values; a HOST name found nowhere is skipped, as Envoy skips it.
 */
function resolveEnv(translation: Translation, extension: WasmExtension, context: PlaceContext): Record<string, string> {
	const env = agentKeyValues(translation);
	if (translation.code.kind === 'local' && extension.imagePullSecret) {
		env[wasmEnv.pullSecret] = '';
	}

	for (const name of translation.hostEnvKeys) {
		const value = context.hostEnv[name];
		if (value === undefined) {
			context.notes.push(`envoy: ${translation.pluginName}: HOST env ${name} is not set in the istio-proxy environment; skipped (set it in istio.env)`);
		} else {
			env[name] = value;
		}
	}

	return env;
}

/** How a module got to this sandbox (fetch/cache.ts FetchSource), in a note. */
function describeFetch(fetched: FetchResult, uri: string): string {
	switch (fetched.source) {
		case 'cache': {
			return `cache hit for ${uri} (sha256 ${fetched.checksum})`;
		}

		case 'manifest': {
			return `fetched the manifest of ${uri} (sha256 ${fetched.checksum}); the module it names was already here (meshbox's content cache, verified), not downloaded again`;
		}

		case 'download': {
			return `fetched ${uri} (sha256 ${fetched.checksum})`;
		}
	}
}
