/**
 * Which extensions apply to the sandbox's sidecar, and in which order, as istiod decides
 * (pilot/pkg/model/push_context.go `WasmPlugins`/`WasmPluginsByListenerInfo`, pilot/pkg/model/policyattachment.go
 * `ShouldAttachPolicy`, pilot/pkg/model/extensions.go `matchListener`, pilot/pkg/model/config.go for the
 * creation-time sort).
 */
import { isLua, type Extension, type Phase } from './resources.ts';
import { translatedSuffix, type VersionTraits } from './version.ts';

/** The label istiod's Gateway API deployment controller puts on a gateway's pods (and ShouldAttachPolicy reads). */
export const gatewayNameLabel = 'gateway.networking.k8s.io/gateway-name';

/** Traffic class of the listener: sidecar inbound = SERVER, sidecar outbound = CLIENT. */
export type ListenerClass = 'SERVER' | 'CLIENT';

export type ProxyView = {
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly rootNamespace: string;
	readonly listenerClass: ListenerClass;
	/** Inbound: the container (target) port; outbound: the Service port (extensions.go matchListener). */
	readonly port: number;
	readonly traits: VersionTraits;
};

export type SelectionOutcome = {
	readonly extension: Extension;
	readonly applied: boolean;
	/** Why it applies or not, in a sentence. */
	readonly reason: string;
	/** HTTP or network filter chain. */
	readonly chain: 'http' | 'network';
};

/** Every extension with the verdict for this proxy, applied ones in filter order per chain and phase. */
export function selectExtensions(extensions: readonly Extension[], proxy: ProxyView): SelectionOutcome[] {
	const outcomes: SelectionOutcome[] = [];
	const candidates: Extension[] = [];
	// push_context.go: own namespace first, then the root namespace; nothing else applies to a sidecar.
	const namespaces = [...new Set([proxy.namespace, proxy.rootNamespace])];
	// `extensions` is in file order; the sort is stable, so resources without creationTimestamp keep it.
	const sorted = [...extensions].sort((a, b) => compareByCreation(a, b, proxy.traits));
	for (const namespace of namespaces) {
		for (const extension of sorted.filter(candidate => candidate.namespace === namespace)) {
			candidates.push(extension);
		}
	}

	for (const extension of sorted) {
		if (!namespaces.includes(extension.namespace)) {
			outcomes.push({ extension, applied: false, chain: chainOf(extension),
				reason: `in namespace ${extension.namespace}: a sidecar in ${proxy.namespace} only gets plugins from its own namespace and the root namespace ${proxy.rootNamespace}` });
		}
	}

	const applied: Extension[] = [];
	for (const extension of candidates) {
		const verdict = attaches(extension, proxy);
		if (verdict) {
			outcomes.push({ extension, applied: false, reason: verdict, chain: chainOf(extension) });
		} else {
			applied.push(extension);
		}
	}

	for (const chain of ['network', 'http'] as const) {
		const inChain = applied.filter(extension => chainOf(extension) === chain);
		for (const extension of orderForChain(inChain)) {
			const scope = extension.namespace === proxy.rootNamespace && proxy.namespace !== proxy.rootNamespace ? ' (root namespace: applies mesh-wide)' : '';
			outcomes.push({ extension, applied: true, chain, reason: `selected${scope}` });
		}
	}

	return outcomes;
}

/** `undefined` when it attaches; otherwise why not. */
function attaches(extension: Extension, proxy: ProxyView): string | undefined {
	// policyattachment.go ShouldAttachPolicy: a proxy without the gateway-name label (a sidecar, an Istio
	// gateway) ignores targetRef'd policies; a Gateway API gateway takes those whose targetRefs name its Gateway
	// (same namespace), and selector-based ones as ENABLE_SELECTOR_BASED_K8S_GATEWAY_POLICY (default on) allows.
	const gatewayName = proxy.labels[gatewayNameLabel];
	if (extension.targetRefs.length > 0) {
		if (gatewayName === undefined) {
			return 'has targetRefs, which select Gateway API gateways and waypoints; a sidecar or an Istio gateway ignores such plugins (use selector.matchLabels)';
		}

		const attached = extension.namespace === proxy.namespace && extension.targetRefs.some(ref => ref.kind === 'Gateway'
			&& (ref.group === 'gateway.networking.k8s.io') && ref.name === gatewayName && (ref.namespace === '' || ref.namespace === proxy.namespace));
		return attached ? undefined : `its targetRefs do not name this proxy's Gateway ${proxy.namespace}/${gatewayName} (a targetRef selects a Gateway API Gateway of the plugin's own namespace)`;
	}

	if (extension.selector) {
		const missing = Object.entries(extension.selector).filter(([key, value]) => proxy.labels[key] !== value);
		if (missing.length > 0) {
			return `selector does not match the workload: needs ${missing.map(([key, value]) => `${key}=${value}`).join(', ')}; the workload has ${Object.entries(proxy.labels).map(([key, value]) => `${key}=${value}`).join(', ') || 'no labels'}`;
		}
	}

	// extensions.go matchListener: any one TrafficSelector matching is enough; inside one, mode AND ports.
	if (extension.match.length > 0) {
		const matching = extension.match.some(selector => {
			const modeMatches = selector.mode === 'UNDEFINED' || selector.mode === 'CLIENT_AND_SERVER' || selector.mode === proxy.listenerClass;
			const portMatches = selector.ports.length === 0 || selector.ports.includes(proxy.port);
			return modeMatches && portMatches;
		});
		if (!matching) {
			const wanted = extension.match.map(selector => `${selector.mode}${selector.ports.length > 0 ? ` on port ${selector.ports.join('/')}` : ''}`).join(' or ');
			return `match leaves this traffic out: it wants ${wanted}; the sandbox is ${proxy.listenerClass === 'SERVER' ? 'inbound (SERVER)' : 'outbound (CLIENT)'} on port ${proxy.port}`;
		}
	}

	return undefined;
}

function chainOf(extension: Extension): 'http' | 'network' {
	// push_context.go: an HTTP filter list takes HTTP and UNSPECIFIED types; NETWORK plugins go before the HCM.
	return !isLua(extension) && extension.type === 'NETWORK' ? 'network' : 'http';
}

const phaseOrder: readonly Phase[] = ['AUTHN', 'AUTHZ', 'STATS', 'UNSPECIFIED_PHASE'];

/**
 * Within a chain: grouped by phase (placement decides where each group goes), each group stable-sorted by
 * priority, higher first, unset priority as the lowest int32 (push_context.go sorts with
 * `GetPriority().GetValue()` defaulting to math.MinInt32).
 */
function orderForChain(extensions: readonly Extension[]): Extension[] {
	const ordered: Extension[] = [];
	for (const phase of phaseOrder) {
		const inPhase = extensions.filter(extension => extension.phase === phase);
		ordered.push(...stableSortByPriority(inPhase));
	}

	return ordered;
}

function stableSortByPriority(extensions: readonly Extension[]): Extension[] {
	return extensions
		.map((extension, index) => ({ extension, index }))
		.sort((a, b) => (effectivePriority(b.extension) - effectivePriority(a.extension)) || (a.index - b.index))
		.map(({ extension }) => extension);
}

export function effectivePriority(extension: Extension): number {
	return extension.priority ?? -2_147_483_648;
}

/**
 * pilot/pkg/model/config.go sortConfigByCreationTime: creationTimestamp (seconds), then name, then namespace.
 * From 1.30 a WasmPlugin's synthetic TrafficExtension is named `<name>~istio-translated-wasmplugin`, which is
 * what the name comparison then sees.
 *
 * Files usually carry no creationTimestamp (the API server sets it on create). meshbox lets the file order stand
 * in for the creation order: resources without one count as created after every resource that has one, in the
 * order they were read (files in the order given, documents top to bottom) — this comparator calls them equal,
 * and the stable sort in selectExtensions keeps that order. `equalOrderGroups` names the ties so `meshbox check`
 * and the sandbox's notes can say that a cluster may order them differently.
 */
function compareByCreation(a: Extension, b: Extension, traits: VersionTraits): number {
	if (a.creationTimestamp === undefined || b.creationTimestamp === undefined) {
		return a.creationTimestamp === b.creationTimestamp ? 0 : (a.creationTimestamp === undefined ? 1 : -1);
	}

	if (a.creationTimestamp !== b.creationTimestamp) {
		return a.creationTimestamp - b.creationTimestamp;
	}

	const nameA = sortName(a, traits);
	const nameB = sortName(b, traits);
	if (nameA !== nameB) {
		return nameA < nameB ? -1 : 1;
	}

	return a.namespace < b.namespace ? -1 : (a.namespace > b.namespace ? 1 : 0);
}

/**
 * Extensions whose relative order only their creation time decides and that have none: two or more in one
 * namespace, filter chain and phase, with equal priority and no metadata.creationTimestamp. Each group is in
 * the order meshbox runs them (file order).
 */
export function equalOrderGroups(extensions: readonly Extension[]): Extension[][] {
	const groups = new Map<string, Extension[]>();
	for (const extension of extensions) {
		if (extension.creationTimestamp !== undefined) {
			continue;
		}

		const key = JSON.stringify([extension.namespace, chainOf(extension), extension.phase, effectivePriority(extension)]);
		groups.set(key, [...(groups.get(key) ?? []), extension]);
	}

	return [...groups.values()].filter(group => group.length > 1);
}

function sortName(extension: Extension, traits: VersionTraits): string {
	return traits.hasTrafficExtension && extension.kind === 'WasmPlugin' ? `${extension.name}${translatedSuffix}` : extension.name;
}
