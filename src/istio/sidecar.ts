/**
 * `workload:` + `istio:` → the sandbox model of an Istio sidecar: the WasmPlugins that apply, in istiod's
 * order and at the positions of Istio's own filters, each translated as istiod does and its module fetched
 * as istio-agent does (with Istio's RBAC fallback when that fails), plus the sidecar's identity and names.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { noLocation, type Locator } from '../config/fields.ts';
import type { EnvoyModel, PluginModel, SidecarFilter, SidecarModel } from '../config/model.ts';
import { inspectWasmBytes, inspectWasmFile, type WasmModuleInfo } from '../config/wasm-module.ts';
import { typeUrls } from '../envoy/type-urls.ts';
import { cacheDir } from '../util/cache-dir.ts';
import { isMeshboxError } from '../errors.ts';
import { WasmCache, type FetchResult } from './fetch/cache.ts';
import { findingsError, type Finding } from './findings.ts';
import { IstioPod } from './pod.ts';
import { sidecarIdentity, sidecarNames } from './identity.ts';
import { checkDocument, dedupe, describeOrderTie, parseIstioText, readIstioFiles, setIstioVersionField, type ParseOptions } from './parse.ts';
import { redactText } from './redact.ts';
import { displayName, isLua, type Extension, type Phase, type WasmExtension } from './resources.ts';
import { equalOrderGroups, selectExtensions, type SelectionOutcome } from './select.ts';
import { readIstio, readWorkload, type ResolvedIstioSpec, type ResolvedWorkload } from './spec.ts';
import { agentKeyValues, localModulePath, rbacFallback, translate, wasmEnv, type Translation } from './translate.ts';
import { versionTraits, type VersionTraits } from './version.ts';

export type IstioResolveInput = {
	readonly workload: unknown;
	readonly istio: unknown;
	readonly baseDir: string;
	readonly locate?: Locator;
	/** istio-agent's state in this sandbox's pod (./pod.ts): kept across live updates. Default: a new pod. */
	readonly pod?: IstioPod;
	/** For HOST env lookups after `istio.env` and the sidecar's own env. Default: process.env. */
	readonly processEnv?: NodeJS.ProcessEnv;
};

export type IstioResolution = {
	readonly plugins: PluginModel[];
	readonly sidecar: SidecarModel;
	/** Envoy log levels when `proxyLogLevel: istio`. */
	readonly envoyLogLevels: Pick<EnvoyModel, 'logLevel' | 'componentLogLevels'> | undefined;
	readonly findings: readonly Finding[];
	readonly outcomes: readonly SelectionOutcome[];
};

export async function resolveIstioSidecar(input: IstioResolveInput): Promise<IstioResolution> {
	const locate = input.locate ?? noLocation;
	const workload = readWorkload(input.workload, locate);
	const istio = readIstio(input.istio, locate, workload);
	const traits = versionTraits(istio.version);
	const parseOptions: ParseOptions = {
		traits,
		defaultNamespace: workload.namespace,
		suggestion: { namespace: workload.namespace, labels: workload.labels },
		howToSetVersion: setIstioVersionField,
	};
	const { extensions, findings } = await loadResources(istio, input.baseDir, parseOptions);
	if (findings.some(finding => finding.severity === 'error')) {
		throw findingsError(findings);
	}

	const names = sidecarNames(workload, istio);
	const identity = sidecarIdentity(workload, istio);
	const outcomes = selectExtensions(extensions, {
		namespace: workload.namespace,
		labels: workload.labels,
		rootNamespace: istio.rootNamespace,
		listenerClass: istio.direction === 'inbound' ? 'SERVER' : 'CLIENT',
		port: names.matchPort,
		traits,
	});

	const notes: string[] = [];
	for (const finding of findings.filter(entry => entry.severity === 'warning')) {
		notes.push(`${finding.where}: warning: ${finding.subject}: ${finding.field ? `${finding.field}: ` : ''}${finding.message}`);
	}

	for (const outcome of outcomes.filter(entry => !entry.applied)) {
		notes.push(`istiod: ${displayName(outcome.extension)} does not apply: ${outcome.reason}`);
	}

	// Ties among what applies: same namespace, chain, phase and priority, no creationTimestamp (select.ts).
	for (const group of equalOrderGroups(outcomes.filter(entry => entry.applied).map(entry => entry.extension))) {
		notes.push(`meshbox: warning: ${describeOrderTie(group)}; give them different priorities to fix the order`);
	}

	const hostEnv = { ...(input.processEnv ?? process.env), ...identity.containerEnv, ...istio.env };
	const wasmDir = istio.cacheDir ? path.resolve(input.baseDir, istio.cacheDir) : path.join(cacheDir(), 'istio-wasm');
	const cache = (input.pod ?? new IstioPod()).wasmCache(wasmDir, () => new WasmCache(wasmDir));
	cache.log = line => notes.push(`istio-agent: ${line}`);
	const context: PlaceContext = { traits, istio, baseDir: input.baseDir, cache, hostEnv, notes, sources: new Set(istio.files.map(file => path.resolve(input.baseDir, file))) };
	const placed = new Map<Extension, SidecarFilter>();
	const plugins: PluginModel[] = [];
	for (const outcome of outcomes.filter(entry => entry.applied)) {
		const filter = await placeExtension(outcome.extension, outcome.chain === 'network', context);
		if (filter) {
			placed.set(outcome.extension, filter);
			if (filter.kind === 'wasm') {
				plugins.push(filter.plugin);
			}
		}
	}

	const applied = outcomes.filter(entry => entry.applied && placed.has(entry.extension));
	const inPhase = (chain: 'http' | 'network', phase: Phase) => applied
		.filter(entry => entry.chain === chain && entry.extension.phase === phase)
		.map(entry => placed.get(entry.extension)!);
	const httpFilters = istio.direction === 'inbound' ? inboundHttpChain(inPhase) : outboundHttpChain(inPhase);
	const networkFilters: SidecarFilter[] = [
		placeholder('istio.metadata_exchange', 'Istio TCP metadata exchange (istio/proxy); not in upstream Envoy, so not configured here'),
		...inPhase('network', 'AUTHN'), ...inPhase('network', 'AUTHZ'), ...inPhase('network', 'STATS'), ...inPhase('network', 'UNSPECIFIED_PHASE'),
	];

	const summary = [
		`Istio ${istio.version} sidecar of ${workload.namespace}/${workload.name} (${Object.entries(workload.labels).map(([key, value]) => `${key}=${value}`).join(', ')}),`,
		`${istio.direction} (${istio.direction === 'inbound' ? 'SERVER' : 'CLIENT'}) traffic on port ${names.matchPort}; root namespace ${istio.rootNamespace}.`,
		...outcomes.map(outcome => `${outcome.applied ? '+' : '-'} ${displayName(outcome.extension)} (${outcome.extension.origin.file}:${outcome.extension.origin.line}): ${outcome.applied ? `${outcome.chain} chain, phase ${outcome.extension.phase}, priority ${outcome.extension.priority ?? 'unset'}` : outcome.reason}`),
	];

	return {
		plugins,
		sidecar: {
			node: { id: identity.id, cluster: identity.cluster, metadata: identity.metadata },
			trafficDirection: names.trafficDirection,
			listenerName: names.listenerName,
			filterChainName: names.filterChainName,
			statPrefix: names.statPrefix,
			routeConfigName: names.routeConfigName,
			virtualHostName: names.virtualHostName,
			virtualHostDomains: names.virtualHostDomains,
			routeName: names.routeName,
			clusterName: names.clusterName,
			httpFilters,
			networkFilters,
			// Credentials in a module URL never reach the output (redact.ts).
			notes: notes.map(note => redactText(note)),
			summary,
			sources: [...context.sources],
		},
		// Istio's injector defaults: --proxyLogLevel=warning --proxyComponentLogLevel=misc:error.
		envoyLogLevels: istio.proxyLogLevel === 'istio' ? { logLevel: 'warning', componentLogLevels: { misc: 'error' } } : undefined,
		findings,
		outcomes,
	};
}

async function loadResources(istio: ResolvedIstioSpec, baseDir: string, options: ParseOptions) {
	const fromFiles = await readIstioFiles(istio.files, baseDir, options);
	const extensions = [...fromFiles.extensions];
	const findings = [...fromFiles.findings];
	for (const [index, resource] of istio.resources.entries()) {
		const label = `istio.resources[${index}]`;
		// YAML text (one or more documents, `box.applyIstio(yaml)`): read as an Istio file is, lines and all.
		const result = typeof resource === 'string' ? parseIstioText(resource, label, options) : checkDocument(resource, fieldPath => `${label}${fieldPath.length > 0 ? ` ${fieldPath.join('.')}` : ''}`, label, label,
			{ file: label, line: 1, col: 1 }, options);
		extensions.push(...result.extensions);
		findings.push(...result.findings);
	}

	return { extensions: dedupe(extensions, findings), findings };
}

type PlaceContext = {
	readonly traits: VersionTraits;
	readonly istio: ResolvedIstioSpec;
	readonly baseDir: string;
	readonly cache: WasmCache;
	readonly hostEnv: Readonly<Record<string, string | undefined>>;
	readonly notes: string[];
	/** Local module files read (SidecarModel.sources). */
	readonly sources: Set<string>;
};

function comment(extension: Extension, extra = ''): string {
	const attributes = isLua(extension) ? 'lua' : `${extension.failStrategy}, url ${redactText(extension.url)}`;
	return `${displayName(extension)} (${extension.origin.file}:${extension.origin.line}): phase ${extension.phase}, priority ${extension.priority ?? 'unset'}, ${attributes}${extra}`;
}

async function placeExtension(extension: Extension, network: boolean, context: PlaceContext): Promise<SidecarFilter | undefined> {
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

				pullSecret = await readFile(path.resolve(context.baseDir, secretFile));
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
			});
			context.notes.push(`istio-agent: ${translation.filterName}: ${describeFetch(fetched, translation.code.uri)}`);
			wasmPath = fetched.path;
		} catch (error) {
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

function placeholder(name: string, text: string): SidecarFilter {
	return { kind: 'placeholder', name, comment: text };
}

const realFilters = {
	grpcStats: { kind: 'typed', name: 'envoy.filters.http.grpc_stats', comment: 'Istio adds it to every HTTP chain',
		typedConfig: { '@type': typeUrls.grpcStats, emit_filter_state: true, stats_for_all_methods: false } },
	fault: { kind: 'typed', name: 'envoy.filters.http.fault', comment: 'Istio adds it to every HTTP chain (configured by VirtualService fault)',
		typedConfig: { '@type': typeUrls.fault } },
	cors: { kind: 'typed', name: 'envoy.filters.http.cors', comment: 'Istio adds it to every HTTP chain (configured by VirtualService corsPolicy)',
		typedConfig: { '@type': typeUrls.cors } },
} as const satisfies Record<string, SidecarFilter>;

/**
 * pilot/pkg/networking/core/listener_builder.go (+ listener_inbound.go): the inbound HTTP chain, with the
 * WasmPlugin phases between Istio's filters. Istio's own filters that upstream Envoy lacks (metadata exchange,
 * istio.stats) and those present only with policies meshbox does not model (CUSTOM ext_authz, jwt_authn for
 * RequestAuthentication, rbac for AuthorizationPolicy) are placeholders: `meshbox render` shows where they
 * are, Envoy does not get them.
 */
function inboundHttpChain(inPhase: (chain: 'http', phase: Phase) => SidecarFilter[]): SidecarFilter[] {
	return [
		placeholder('istio.metadata_exchange', 'Istio peer metadata exchange (istio/proxy peer_metadata); not in upstream Envoy'),
		placeholder('envoy.filters.http.ext_authz', 'only with a CUSTOM AuthorizationPolicy (with a shadow envoy.filters.http.rbac before it)'),
		...inPhase('http', 'AUTHN'),
		placeholder('envoy.filters.http.jwt_authn', 'only with a RequestAuthentication'),
		...inPhase('http', 'AUTHZ'),
		placeholder('envoy.filters.http.rbac', 'only with AuthorizationPolicies (one per action: AUDIT, DENY, ALLOW)'),
		...inPhase('http', 'STATS'),
		...inPhase('http', 'UNSPECIFIED_PHASE'),
		realFilters.grpcStats,
		realFilters.fault,
		realFilters.cors,
		placeholder('istio.stats', 'Istio telemetry (istio/proxy stats filter); not in upstream Envoy'),
	];
}

/** listener_builder.go: outbound HTTP (CUSTOM, jwt and RBAC are inbound/gateway only, so the phases are adjacent). */
function outboundHttpChain(inPhase: (chain: 'http', phase: Phase) => SidecarFilter[]): SidecarFilter[] {
	return [
		placeholder('istio.metadata_exchange', 'Istio peer metadata exchange, outbound variant; not in upstream Envoy'),
		...inPhase('http', 'AUTHN'),
		...inPhase('http', 'AUTHZ'),
		...inPhase('http', 'STATS'),
		...inPhase('http', 'UNSPECIFIED_PHASE'),
		realFilters.grpcStats,
		placeholder('istio.alpn', 'Istio ALPN override (istio/proxy); not in upstream Envoy'),
		realFilters.fault,
		realFilters.cors,
		placeholder('istio.stats', 'Istio telemetry (istio/proxy stats filter); not in upstream Envoy'),
	];
}

/** After Envoy refused to start because these plugins failed to load: what a sidecar's NACKed ECDS leaves. */
export function markRejected(sidecar: SidecarModel, pluginNames: readonly string[], reason: string): SidecarModel {
	const rewrite = (filters: readonly SidecarFilter[], network: boolean): SidecarFilter[] => filters.map(filter => {
		if (filter.kind !== 'wasm' || !pluginNames.includes(filter.plugin.name)) {
			return filter;
		}

		return {
			kind: 'missing-config',
			name: filter.plugin.filterName ?? filter.plugin.name,
			typeUrls: network ? [typeUrls.networkWasm, typeUrls.networkRbac] : [typeUrls.httpWasm, typeUrls.httpRbac],
			comment: `${filter.comment} — rejected by Envoy (config missing → 500)`,
		};
	});
	return {
		...sidecar,
		httpFilters: rewrite(sidecar.httpFilters, false),
		networkFilters: rewrite(sidecar.networkFilters, true),
		notes: [...sidecar.notes, ...pluginNames.map(name => `envoy: plugin ${name} failed to load (${reason}); a sidecar NACKs that ECDS update and the filter stays without config: every request gets 500, whatever failStrategy says (it only covers fetch failures and runtime errors)`)],
	};
}
