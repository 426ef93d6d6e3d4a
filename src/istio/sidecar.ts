/**
 * `workload:` + `istio:` → the sandbox model of an Istio sidecar: the WasmPlugins that apply, in istiod's
 * order and at the positions of Istio's own filters, each translated as istiod does and its module fetched
 * as istio-agent does (with Istio's RBAC fallback when that fails), plus the sidecar's identity and names.
 */
import path from 'node:path';
import { noLocation, type Locator } from '../config/fields.ts';
import type { ClusterModel, EnvoyModel, PluginModel, SidecarFilter, SidecarModel } from '../config/model.ts';
import type { PatchModel } from '../config/patches.ts';
import { selectEnvoyFilters } from './envoy-filter.ts';
import { inboundHttpChain, noSecurity, outboundHttpChain, placeholder } from './chain.ts';
import type { IstioConfigResource } from './config-resources.ts';
import { findingsError, type Finding } from './findings.ts';
import { sidecarIdentity, sidecarNames } from './identity.ts';
import { describeOrderTie, loadIstioResources, setIstioVersionField, type ParseOptions } from './parse.ts';
import { placeExtension, podWasmCache, type PlaceContext } from './place.ts';
import { IstioPod } from './pod.ts';
import { redactText } from './redact.ts';
import { displayName, type Extension, type Phase } from './resources.ts';
import { equalOrderGroups, selectExtensions, type SelectionOutcome } from './select.ts';
import { sidecarClusters, sidecarSecurity } from './security/sidecar-security.ts';
import { readIstio, readWorkload } from './spec.ts';
import { versionTraits } from './version.ts';

export type IstioResolveInput = {
	readonly workload: unknown;
	readonly istio: unknown;
	readonly baseDir: string;
	readonly locate?: Locator;
	/** istio-agent's state in this sandbox's pod (./pod.ts): kept across live updates. Default: a new pod. */
	readonly pod?: IstioPod;
	/** For HOST env lookups after `istio.env` and the sidecar's own env. Default: process.env. */
	readonly processEnv?: NodeJS.ProcessEnv;
	/**
	 * The sandbox's `clusters:` (mock services): on a single sidecar they stand in for the mesh's services an
	 * ext_authz provider or a `jwksUri` names, by host (`ext-authz.default.svc.cluster.local`) or short name (`ext-authz`).
	 */
	readonly clusters?: readonly ClusterModel[];
};

export type IstioResolution = {
	readonly plugins: PluginModel[];
	readonly sidecar: SidecarModel;
	/** Envoy log levels when `proxyLogLevel: istio`. */
	readonly envoyLogLevels: Pick<EnvoyModel, 'logLevel' | 'componentLogLevels'> | undefined;
	readonly findings: readonly Finding[];
	readonly outcomes: readonly SelectionOutcome[];
	/** The selected EnvoyFilters' configPatches, in istiod's order (./envoy-filter.ts); the model's `patches` start with them. */
	readonly patches: readonly PatchModel[];
	/** Clusters istiod's security filters need (ext_authz providers), added to the sandbox's. */
	readonly clusters: readonly ClusterModel[];
	/** The networking and security resources of the `istio:` files. */
	readonly config: readonly IstioConfigResource[];
};

export async function resolveIstioSidecar(input: IstioResolveInput): Promise<IstioResolution> {
	const locate = input.locate ?? noLocation;
	const workload = readWorkload(input.workload, locate);
	const istio = readIstio(input.istio, locate, workload);
	const traits = versionTraits(istio.version, istio.patch);
	const parseOptions: ParseOptions = {
		traits,
		defaultNamespace: workload.namespace,
		suggestion: { namespace: workload.namespace, labels: workload.labels },
		howToSetVersion: setIstioVersionField,
	};
	const loaded = await loadIstioResources(istio, input.baseDir, parseOptions);
	const { envoyFilters, findings } = loaded;
	if (findings.some(finding => finding.severity === 'error')) {
		throw findingsError(findings);
	}

	const pod = input.pod ?? new IstioPod();
	// Each change since the pod's last resolution bumps an object's resourceVersion, as the API server does (pod.ts).
	const extensions = pod.withResourceVersions(loaded.extensions);

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

	const envoyFilterSelection = selectEnvoyFilters(envoyFilters, {
		namespace: workload.namespace, labels: workload.labels, rootNamespace: istio.rootNamespace, traits, nodeMetadata: identity.metadata,
	});
	notes.push(...envoyFilterSelection.notes);

	const hostEnv = { ...(input.processEnv ?? process.env), ...identity.containerEnv, ...istio.env };
	const cache = podWasmCache(pod, istio, input.baseDir, notes);
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
	// RequestAuthentication and AuthorizationPolicy: inbound only (authn/authz BuildHTTP skip SidecarOutbound).
	const security = istio.direction === 'inbound'
		? await sidecarSecurity({ workload, istio, traits, config: loaded.config, clusters: input.clusters ?? [] })
		: undefined;
	notes.push(...(security?.notes ?? []));
	if (istio.direction === 'outbound' && loaded.config.some(resource => resource.group === 'security.istio.io' && resource.kind !== 'PeerAuthentication')) {
		notes.push('istiod: RequestAuthentication and AuthorizationPolicy apply to inbound and gateway listeners; this outbound sidecar gets none of their filters');
	}

	const httpFilters = istio.direction === 'inbound' ? inboundHttpChain(inPhase, security ?? noSecurity) : outboundHttpChain(inPhase);
	const networkFilters: SidecarFilter[] = [
		placeholder('istio.metadata_exchange', 'Istio TCP metadata exchange (istio/proxy); not in upstream Envoy, so not configured here'),
		...inPhase('network', 'AUTHN'), ...inPhase('network', 'AUTHZ'), ...inPhase('network', 'STATS'), ...inPhase('network', 'UNSPECIFIED_PHASE'),
	];

	const summary = [
		`Istio ${traits.fullVersion} sidecar of ${workload.namespace}/${workload.name} (${Object.entries(workload.labels).map(([key, value]) => `${key}=${value}`).join(', ')}),`,
		`${istio.direction} (${istio.direction === 'inbound' ? 'SERVER' : 'CLIENT'}) traffic on port ${names.matchPort}; root namespace ${istio.rootNamespace}.`,
		...outcomes.map(outcome => `${outcome.applied ? '+' : '-'} ${displayName(outcome.extension)} (${outcome.extension.origin.file}:${outcome.extension.origin.line}): ${outcome.applied ? `${outcome.chain} chain, phase ${outcome.extension.phase}, priority ${outcome.extension.priority ?? 'unset'}` : outcome.reason}`),
		...envoyFilterSelection.summary,
		...(security?.summary ?? []),
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
		patches: envoyFilterSelection.patches,
		clusters: security ? sidecarClusters(security.clusters) : [],
		config: loaded.config,
	};
}
