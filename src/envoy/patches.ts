/**
 * Applies patches (src/config/patches.ts) to generated resources with the semantics of Istio's EnvoyFilter
 * configPatches. One engine serves `envoy.patches` and Istio's EnvoyFilter (src/istio/envoy-filter.ts).
 *
 * The order and the matching rules follow istiod (pilot/pkg/networking/core/envoyfilter/): listener_patch.go
 * (per listener: LISTENER merge/remove, LISTENER_FILTER, then per filter chain: FILTER_CHAIN merge/remove, the
 * NETWORK_FILTER list operations, per network filter its MERGE and, in an http_connection_manager, the
 * HTTP_FILTER list operations and MERGEs; then FILTER_CHAIN ADD; LISTENER ADD last), rc_patch.go (route
 * configurations, virtual hosts, routes), cluster_patch.go (clusters) and extension_configuration_patch.go.
 * Values are Envoy's JSON, so MERGE is a proto merge on JSON (pkg/proto/merge): objects merge field by field,
 * lists append, scalars and `Any` values (objects with '@type') replace.
 *
 * Where meshbox departs from istiod, and why:
 * - A listener or cluster without a side (a plain sandbox's: no `traffic_direction`, no `inbound|`/`outbound|`
 *   name) matches every sidecar context; istiod's names carry the side, a plain sandbox has none.
 * - A port in a match is compared with the port in istiod's names (`0.0.0.0_9080`, `inbound|8080||`), since
 *   meshbox's listener binds wherever the runtime puts it; a plain sandbox's listener with its bound port.
 * - MERGE of a plain sandbox's plugin filter, which meshbox delivers over ECDS (it only names its config),
 *   merges into that extension config, so a patch does the same with a static bootstrap (`meshbox render`) and
 *   over xDS. An Istio sidecar's WasmPlugin filters (`istiodEcds`) are different: istiod delivers them over ECDS
 *   too, and mergeHTTPFilter / patchNetworkFilter skip a filter without an inline typed_config, so a MERGE on
 *   one does nothing in a cluster; meshbox skips it too, whichever way it delivers the filter, and says so.
 *
 * Where meshbox follows istiod's failure: MERGE of a filter whose typed_config has another '@type' makes
 * util.MergeAnyWithAny → pkg/proto/merge.Merge panic ("descriptor mismatch"); ApplyListenerPatches
 * (listener_patch.go) recovers with runtime.HandleCrash and keeps the listeners as the patches had left them
 * in place: the changes made before the failing patch stay, except those on the HTTP filters of the connection
 * manager being patched (patchHTTPFilters works on an unmarshalled copy it never writes back), and that patch
 * and every later listener-level patch (the rest of this listener, later listeners, listener ADDs) are dropped.
 */
import type { PatchContext, PatchModel } from '../config/patches.ts';
import { MeshboxError } from '../errors.ts';
import type { JsonObject, JsonValue } from '../util/json.ts';
import type { SandboxResources } from './placement.ts';

export type PatchResult = {
	readonly resources: SandboxResources;
	/** The patches that changed nothing, in the order given (those of `events` included). */
	readonly unmatched: readonly PatchModel[];
	/** Patches that did nothing for a reason istiod has (worth telling the user), in order. */
	readonly events: readonly PatchEvent[];
};

/**
 * `ecds-skip`: a MERGE on a filter istiod delivers over ECDS (`filter`), which istiod skips. `merge-failed`:
 * a MERGE whose typed_config '@type' (`to`) differs from the filter's (`from`): istiod's merge panics and the
 * listener patches stop there; `dropped` are the later patches that would have applied otherwise.
 */
export type PatchEvent =
	| { readonly kind: 'ecds-skip'; readonly patch: PatchModel; readonly filter: string }
	| { readonly kind: 'merge-failed'; readonly patch: PatchModel; readonly filter: string; readonly from: string; readonly to: string; readonly dropped: readonly PatchModel[] };

export type PatchOptions = {
	/** Names of the filters istiod delivers over ECDS (an Istio sidecar's WasmPlugins and their fallbacks). */
	readonly istiodEcds?: ReadonlySet<string>;
	/** The resources are a mesh gateway's (a router): their patch context is GATEWAY, not a sidecar's. */
	readonly gateway?: boolean;
};

/** What a PatchEvent means, in one line naming the patch (for errors and an Istio sidecar's notes). */
export function describePatchEvent(event: PatchEvent): string {
	if (event.kind === 'ecds-skip') {
		return `${event.patch.origin}: ${describePatch(event.patch)} matches ${event.filter}, a filter istiod delivers over ECDS (no inline typed_config); `
			+ 'istiod skips MERGE on such a filter (pilot/pkg/networking/core/envoyfilter/listener_patch.go mergeHTTPFilter, patchNetworkFilter), so in a cluster this patch changes nothing; change the WasmPlugin instead';
	}

	const dropped = event.dropped.length === 0 ? 'no later patch was affected'
		: `dropped with it: ${event.dropped.map(patch => `${patch.origin} (${describePatch(patch)})`).join('; ')}`;
	return `${event.patch.origin}: ${describePatch(event.patch)} on ${event.filter} has typed_config @type ${event.to}, the filter's is ${event.from}: `
		+ 'istiod\'s merge fails (pilot/pkg/networking/util/util.go MergeAnyWithAny → pkg/proto/merge: descriptor mismatch), ApplyListenerPatches recovers '
		+ `and the listener patches stop there (listener_patch.go): this patch, the HTTP filter changes on that connection manager and every later listener patch do not take effect; ${dropped}. `
		+ 'To replace a filter\'s config, use operation REPLACE';
}

/**
 * Applies the patches; a patch from meshbox.yaml / startSandbox that matches nothing, or fails as istiod would
 * fail it (PatchEvent), is a CONFIG_INVALID error naming it.
 */
export function applyPatches(resources: SandboxResources, patches: readonly PatchModel[], options: PatchOptions = {}): SandboxResources {
	if (patches.length === 0) {
		return resources;
	}

	const result = patchResources(resources, patches, options);
	const event = result.events.find(entry => entry.patch.ifUnmatched === 'error');
	if (event) {
		throw new MeshboxError('CONFIG_INVALID', describePatchEvent(event), '`meshbox render` shows the generated config');
	}

	const failing = result.unmatched.filter(patch => patch.ifUnmatched === 'error');
	const [first, ...rest] = failing;
	if (first) {
		throw new MeshboxError('CONFIG_INVALID', `${first.origin}: ${describePatch(first)} matches nothing in the generated Envoy config`,
			`the config has ${inventory(resources)}; \`meshbox render\` shows it all`,
			rest.map(patch => `${patch.origin}: ${describePatch(patch)} matches nothing either`));
	}

	return result.resources;
}

export function describePatch(patch: PatchModel): string {
	return `patch ${patch.operation} on ${patch.applyTo}${patch.match.context === 'ANY' ? '' : ` (${patch.match.context})`}`;
}

/** Applies the patches without judging: what came out, and which patches changed nothing. */
export function patchResources(resources: SandboxResources, patches: readonly PatchModel[], options: PatchOptions = {}): PatchResult {
	const state: PatchState = {
		listeners: resources.listeners.map(listener => clone(listener)),
		clusters: resources.clusters.map(cluster => clone(cluster)),
		extensionConfigs: resources.extensionConfigs.map(config => clone(config)),
		applied: new Set(),
		patches,
		istiodEcds: options.istiodEcds ?? new Set(),
		events: [],
		gateway: options.gateway === true,
	};
	patchListeners(state);
	patchRouteConfigurations(state);
	patchClusters(state);
	patchExtensionConfigs(state);
	const events = state.events.map(event => {
		if (event.kind !== 'merge-failed') {
			return event;
		}

		// What the failure cost: the patches a run without the failing one applies that this run did not.
		const without = patchResources(resources, patches.filter(patch => patch !== event.patch), options);
		const appliedWithout = new Set(patches.filter(patch => patch !== event.patch && !without.unmatched.includes(patch)));
		return { ...event, dropped: patches.filter(patch => appliedWithout.has(patch) && !state.applied.has(patch)) };
	});
	return {
		// Secrets pass through: EnvoyFilter patches no secret (there is no applyTo for one).
		resources: { listeners: state.listeners, clusters: state.clusters, extensionConfigs: state.extensionConfigs, ...(resources.secrets ? { secrets: resources.secrets } : {}) },
		unmatched: patches.filter(patch => !state.applied.has(patch)),
		events,
	};
}

type PatchState = {
	listeners: JsonObject[];
	clusters: JsonObject[];
	extensionConfigs: JsonObject[];
	readonly applied: Set<PatchModel>;
	readonly patches: readonly PatchModel[];
	readonly istiodEcds: ReadonlySet<string>;
	readonly events: PatchEvent[];
	/** A router's resources: every listener, route and cluster is in the GATEWAY context. */
	readonly gateway: boolean;
};

/** istiod's panic in a MERGE of two different '@type's (see the file comment); caught by patchListeners. */
class MergeFailure extends Error {
	constructor(readonly event: Extract<PatchEvent, { kind: 'merge-failed' }>) {
		super(`merge of ${event.to} into ${event.from} failed`);
	}
}

const hcmName = 'envoy.filters.network.http_connection_manager';
/** model.VirtualInboundListenerName / VirtualOutboundListenerName. */
const virtualListeners = new Set(['virtualInbound', 'virtualOutbound']);

// --- listeners (listener_patch.go) -------------------------------------------------------------------

function patchListeners(state: PatchState): void {
	const kept: JsonObject[] = [];
	let failed = false;
	for (const listener of state.listeners) {
		if (failed) {
			// After istiod's recovered panic: the listeners as they were.
			kept.push(listener);
			continue;
		}

		try {
			if (patchListener(state, listener)) {
				kept.push(listener);
			}
		} catch (error) {
			if (!(error instanceof MergeFailure)) {
				throw error;
			}

			failed = true;
			state.events.push(error.event);
			kept.push(listener);
		}
	}

	// patchListeners: listener ADDs come last (GATEWAY patches reach only a mesh gateway, WAYPOINT ones nothing); not after a failure.
	if (!failed) {
		kept.push(...added(state, ofKind(state.patches, 'LISTENER'), patch => contextMatches(patch, addContext(state))));
	}

	state.listeners = kept;
}

/** One listener's patches (listener_patch.go patchListener); false when it was removed. */
function patchListener(state: PatchState, listener: JsonObject): boolean {
	const context = listenerContext(listener, state.gateway);
	const inListener = (patch: PatchModel) => contextMatches(patch, context) && listenerMatch(listener, patch);
	if (!patchInPlace(state, listener, inPlaceOf(state.patches, 'LISTENER'), inListener)) {
		return false;
	}

	patchListenerFilters(state, listener, context);
	const keptChains = objects(listener.filter_chains).filter(chain => patchFilterChain(state, listener, chain, context));
	const defaultChain = asObject(listener.default_filter_chain);
	if (defaultChain && !patchFilterChain(state, listener, defaultChain, context)) {
		delete listener.default_filter_chain;
	}

	keptChains.push(...added(state, ofKind(state.patches, 'FILTER_CHAIN'), inListener));
	if (listener.filter_chains !== undefined || keptChains.length > 0) {
		listener.filter_chains = keptChains;
	}

	return true;
}

function patchListenerFilters(state: PatchState, listener: JsonObject, context: PatchContext | undefined): void {
	const patches = state.patches.filter(patch => patch.applyTo === 'LISTENER_FILTER' && contextMatches(patch, context) && listenerMatch(listener, patch));
	if (patches.length === 0) {
		return;
	}

	let filters = objects(listener.listener_filters);
	for (const patch of patches) {
		filters = listOperation(state, patch, filters, named(patch.match.listener?.listenerFilter), (filter, value) => mergeFilter(state, filter, value, patch));
	}

	listener.listener_filters = filters;
}

/** One filter chain's patches (listener_patch.go patchFilterChain); false when the chain was removed. */
function patchFilterChain(state: PatchState, listener: JsonObject, chain: JsonObject, context: PatchContext | undefined): boolean {
	const inChain = (patch: PatchModel) => contextMatches(patch, context) && listenerMatch(listener, patch) && filterChainMatch(listener, chain, patch);
	if (!patchInPlace(state, chain, inPlaceOf(state.patches, 'FILTER_CHAIN'), inChain)) {
		return false;
	}

	patchNetworkFilters(state, listener, chain, context);
	return true;
}

/** The chain's network filters (listener_patch.go patchNetworkFilters), and each connection manager's HTTP filters. */
function patchNetworkFilters(state: PatchState, listener: JsonObject, chain: JsonObject, context: PatchContext | undefined): void {
	const patches = state.patches.filter(patch => patch.applyTo === 'NETWORK_FILTER' && contextMatches(patch, context)
		&& listenerMatch(listener, patch) && filterChainMatch(listener, chain, patch));
	const filters = listOperations(state, patches, objects(chain.filters), networkFilterName);
	// istiod changes fc.Filters in place before the merges: a failed merge below leaves these changes.
	if (chain.filters !== undefined || filters.length > 0) {
		chain.filters = filters;
	}

	mergeFilters(state, patches, filters, networkFilterName, filter => {
		if (filter.name === hcmName) {
			patchHttpFilters(state, listener, chain, filter, context);
		}
	});
}

function patchHttpFilters(state: PatchState, listener: JsonObject, chain: JsonObject, hcm: JsonObject, context: PatchContext | undefined): void {
	const config = asObject(hcm.typed_config);
	if (!config) {
		return;
	}

	const inHcm = (patch: PatchModel) => patch.applyTo === 'HTTP_FILTER' && contextMatches(patch, context) && listenerMatch(listener, patch)
		&& filterChainMatch(listener, chain, patch) && networkFilterMatch(hcm, patch);
	// patchHTTPFilters works on a copy of the connection manager and writes it back at the end: a failed merge
	// loses every HTTP filter change made here, so they are not counted as applied either.
	const appliedBefore = new Set(state.applied);
	try {
		config.http_filters = patchedHttpFilters(state, objects(config.http_filters).map(filter => clone(filter)), inHcm);
	} catch (error) {
		for (const patch of state.applied) {
			if (!appliedBefore.has(patch)) {
				state.applied.delete(patch);
			}
		}

		throw error;
	}
}

function patchedHttpFilters(state: PatchState, original: JsonObject[], inHcm: (patch: PatchModel) => boolean): JsonObject[] {
	const patches = state.patches.filter(inHcm);
	const filters = listOperations(state, patches, original, httpFilterName);
	mergeFilters(state, patches, filters, httpFilterName);
	return filters;
}

// --- the steps every level shares ------------------------------------------------------------------

/** The patches that apply to `applyTo` objects (not filter lists). */
function ofKind(patches: readonly PatchModel[], applyTo: PatchModel['applyTo']): PatchModel[] {
	return patches.filter(patch => patch.applyTo === applyTo);
}

/** The patches that change an `applyTo` object where it is (every operation but ADD). */
function inPlaceOf(patches: readonly PatchModel[], applyTo: PatchModel['applyTo']): PatchModel[] {
	return patches.filter(patch => patch.applyTo === applyTo && patch.operation !== 'ADD');
}

/**
 * The step istiod writes at each level (listener_patch.go patchListener / patchFilterChain, rc_patch.go
 * patchRouteConfiguration / patchVirtualHost / patchHTTPRoute, cluster_patch.go ApplyClusterMerge): each of
 * `patches` that `matches` the object counts as applied, in order; REMOVE drops the object (later patches do not
 * see it), MERGE merges the value into it, REPLACE (only where `replace`: virtual hosts) puts a copy of the value
 * in its place. Returns the object as patched (merged in place), or undefined when it was removed.
 */
function patchInPlace(state: PatchState, object: JsonObject, patches: readonly PatchModel[],
	matches: (patch: PatchModel, current: JsonObject) => boolean, { replace = false } = {}): JsonObject | undefined {
	let current = object;
	for (const patch of patches) {
		if (!matches(patch, current)) {
			continue;
		}

		state.applied.add(patch);
		if (patch.operation === 'REMOVE') {
			return undefined;
		}

		if (patch.operation === 'MERGE' && patch.value) {
			protoMerge(current, patch.value);
		} else if (replace && patch.operation === 'REPLACE' && patch.value) {
			current = clone(patch.value);
		}
	}

	return current;
}

/** ADD at an object level (listeners, filter chains, virtual hosts, clusters): a copy of each matching ADD's value, in order. */
function added(state: PatchState, patches: readonly PatchModel[], matches: (patch: PatchModel) => boolean): JsonObject[] {
	return patches.filter(patch => patch.operation === 'ADD' && patch.value && matches(patch)).map(patch => {
		state.applied.add(patch);
		return clone(patch.value!);
	});
}

/** A filter list's list operations (every operation but MERGE), in order; `nameOf` is the filter name a patch matches. */
function listOperations(state: PatchState, patches: readonly PatchModel[], list: JsonObject[], nameOf: (patch: PatchModel) => string | undefined): JsonObject[] {
	return patches.filter(patch => patch.operation !== 'MERGE')
		.reduce((filters, patch) => listOperation(state, patch, filters, named(nameOf(patch))), list);
}

/** Then each filter's MERGEs (mergeFilter), and `after` on the filter once they are done. */
function mergeFilters(state: PatchState, patches: readonly PatchModel[], filters: readonly JsonObject[], nameOf: (patch: PatchModel) => string | undefined,
	after?: (filter: JsonObject) => void): void {
	const merges = patches.filter(patch => patch.operation === 'MERGE' && patch.value);
	for (const filter of filters) {
		for (const patch of merges) {
			if (named(nameOf(patch))?.(filter) ?? true) {
				mergeFilter(state, filter, patch.value!, patch);
			}
		}

		after?.(filter);
	}
}

/** A filter matcher by name; undefined (no filter match) when the patch names none. */
function named(name: string | undefined): ((filter: JsonObject) => boolean) | undefined {
	return name === undefined ? undefined : filter => filter.name === name;
}

function networkFilterName(patch: PatchModel): string | undefined {
	return patch.match.listener?.filterChain?.filter?.name;
}

function httpFilterName(patch: PatchModel): string | undefined {
	return patch.match.listener?.filterChain?.filter?.subFilter?.name;
}

/**
 * ADD / INSERT_FIRST / INSERT_BEFORE / INSERT_AFTER / REPLACE / REMOVE on a list of filters (listener_patch.go
 * and util.go insertBeforeFunc/insertAfterFunc/replaceFunc: the first match only). Without a filter match,
 * INSERT_BEFORE inserts first and INSERT_AFTER appends; REPLACE and REMOVE need one. MERGE is done by the caller,
 * except for listener filters (`merge`).
 */
function listOperation(state: PatchState, patch: PatchModel, list: JsonObject[], matches: ((entry: JsonObject) => boolean) | undefined,
	merge?: (entry: JsonObject, value: JsonObject) => void): JsonObject[] {
	const value = patch.value ? clone(patch.value) : undefined;
	const index = matches ? list.findIndex(matches) : -1;
	switch (patch.operation) {
		case 'ADD': {
			state.applied.add(patch);
			return value ? [...list, value] : list;
		}

		case 'INSERT_FIRST': {
			state.applied.add(patch);
			return value ? [value, ...list] : list;
		}

		case 'INSERT_BEFORE':
		case 'INSERT_AFTER': {
			if (!value) {
				return list;
			}

			if (!matches) {
				state.applied.add(patch);
				return patch.operation === 'INSERT_BEFORE' ? [value, ...list] : [...list, value];
			}

			if (index < 0) {
				return list;
			}

			state.applied.add(patch);
			const at = patch.operation === 'INSERT_BEFORE' ? index : index + 1;
			return [...list.slice(0, at), value, ...list.slice(at)];
		}

		case 'REPLACE': {
			if (!value || index < 0) {
				return list;
			}

			state.applied.add(patch);
			return list.map((entry, position) => (position === index ? value : entry));
		}

		case 'REMOVE': {
			if (!matches) {
				return list;
			}

			const kept = list.filter(entry => !matches(entry));
			if (kept.length !== list.length) {
				state.applied.add(patch);
			}

			return kept;
		}

		case 'MERGE': {
			if (!matches || !merge || !patch.value) {
				return list;
			}

			for (const entry of list.filter(matches)) {
				merge(entry, patch.value);
			}

			return list;
		}
	}
}

/**
 * MERGE of one filter (mergeHTTPFilter / patchNetworkFilter / mergeListenerFilter): a filter without
 * typed_config is skipped by istiod, and so is one istiod delivers over ECDS; a plain sandbox's plugin filter
 * merges into its ECDS config (see the file comment). Another '@type' is istiod's failed merge (MergeFailure).
 */
function mergeFilter(state: PatchState, filter: JsonObject, value: JsonObject, patch: PatchModel): void {
	const userConfig = asObject(value.typed_config);
	if (state.istiodEcds.has(String(filter.name))) {
		if (!state.events.some(event => event.kind === 'ecds-skip' && event.patch === patch && event.filter === filter.name)) {
			state.events.push({ kind: 'ecds-skip', patch, filter: String(filter.name) });
		}

		return;
	}

	let target = filter;
	if (!asObject(filter.typed_config)) {
		const ecds = filter.config_discovery === undefined ? undefined : state.extensionConfigs.find(config => config.name === filter.name);
		if (!ecds || !asObject(ecds.typed_config)) {
			return;
		}

		target = ecds;
	}

	if (userConfig) {
		const current = asObject(target.typed_config)!;
		if (current['@type'] !== userConfig['@type']) {
			throw new MergeFailure({ kind: 'merge-failed', patch, filter: String(filter.name), from: String(current['@type']), to: String(userConfig['@type']), dropped: [] });
		}

		target.typed_config = protoMerge(current, userConfig);
	}

	state.applied.add(patch);
	if (typeof value.name === 'string' && value.name !== '') {
		filter.name = value.name;
		if (target !== filter) {
			target.name = value.name;
		}
	}
}

function networkFilterMatch(filter: JsonObject, patch: PatchModel): boolean {
	return named(networkFilterName(patch))?.(filter) ?? true;
}

function listenerMatch(listener: JsonObject, patch: PatchModel): boolean {
	const match = patch.match.listener;
	if (!match) {
		return true;
	}

	if (match.name !== undefined && match.name !== listener.name) {
		return false;
	}

	// Virtual listeners carry the port in their filter chains (filterChainMatch checks it there).
	if (patch.applyTo !== 'LISTENER' && virtualListeners.has(String(listener.name))) {
		return true;
	}

	return match.portNumber === undefined || listenerPort(listener) === match.portNumber;
}

function filterChainMatch(listener: JsonObject, chain: JsonObject, patch: PatchModel): boolean {
	const match = patch.match.listener;
	if (!match) {
		return true;
	}

	const chainMatch = asObject(chain.filter_chain_match);
	const destinationPort = chainMatch?.destination_port === undefined ? portFromName(chain.name) : Number(chainMatch.destination_port);
	if (virtualListeners.has(String(listener.name)) && match.portNumber !== undefined && destinationPort !== match.portNumber) {
		return false;
	}

	const wanted = match.filterChain;
	if (!wanted) {
		return true;
	}

	if (wanted.name !== undefined && wanted.name !== chain.name) {
		return false;
	}

	const strings = (value: JsonValue | undefined) => (Array.isArray(value) ? value.map(String) : []);
	if (wanted.sni !== undefined && !strings(chainMatch?.server_names).includes(wanted.sni)) {
		return false;
	}

	if (wanted.transportProtocol !== undefined && chainMatch?.transport_protocol !== wanted.transportProtocol) {
		return false;
	}

	if (wanted.applicationProtocols !== undefined
		&& (!chainMatch || !wanted.applicationProtocols.split(',').every(protocol => strings(chainMatch.application_protocols).includes(protocol)))) {
		return false;
	}

	return wanted.destinationPort === undefined || (chainMatch?.destination_port !== undefined && Number(chainMatch.destination_port) === wanted.destinationPort);
}

function listenerContext(listener: JsonObject, gateway: boolean): PatchContext | undefined {
	if (gateway) {
		return 'GATEWAY';
	}

	return listener.traffic_direction === 'INBOUND' ? 'SIDECAR_INBOUND' : (listener.traffic_direction === 'OUTBOUND' ? 'SIDECAR_OUTBOUND' : undefined);
}

/** The port istiod's listener name carries (`0.0.0.0_9080`), else the bound one. */
function listenerPort(listener: JsonObject): number | undefined {
	const fromName = portFromName(listener.name);
	if (fromName !== undefined) {
		return fromName;
	}

	const port = asObject(asObject(listener.address)?.socket_address)?.port_value;
	return typeof port === 'number' ? port : undefined;
}

function portFromName(name: JsonValue | undefined): number | undefined {
	const found = typeof name === 'string' ? /^[\d.:[\]a-f]+_(\d+)$/i.exec(name) : null;
	return found ? Number(found[1]) : undefined;
}

/** patchContextMatch: the patch's context or ANY; a resource without a side (plain sandbox) takes any sidecar context. */
function contextMatches(patch: PatchModel, context: PatchContext | undefined): boolean {
	const wanted = patch.match.context;
	if (wanted === 'WAYPOINT') {
		return false;
	}

	// A GATEWAY patch reaches a mesh gateway's resources only (a sandbox or sidecar has no gateway side).
	if (wanted === 'GATEWAY' || context === 'GATEWAY') {
		return wanted === 'ANY' || wanted === context;
	}

	return wanted === 'ANY' || context === undefined || wanted === context;
}

/** The context an ADD is made in: a gateway's, else any sidecar context (istiod's ADDs name the side they add to). */
function addContext(state: PatchState): PatchContext | undefined {
	return state.gateway ? 'GATEWAY' : undefined;
}

// --- route configurations (rc_patch.go) --------------------------------------------------------------

function patchRouteConfigurations(state: PatchState): void {
	const routePatches = state.patches.filter(patch => patch.applyTo === 'ROUTE_CONFIGURATION' || patch.applyTo === 'VIRTUAL_HOST' || patch.applyTo === 'HTTP_ROUTE');
	if (routePatches.length === 0) {
		return;
	}

	for (const listener of state.listeners) {
		const context = listenerContext(listener, state.gateway);
		const chains = [...objects(listener.filter_chains), ...(asObject(listener.default_filter_chain) ? [asObject(listener.default_filter_chain)!] : [])];
		for (const chain of chains) {
			for (const filter of objects(chain.filters)) {
				const routeConfig = filter.name === hcmName ? asObject(asObject(filter.typed_config)?.route_config) : undefined;
				if (routeConfig) {
					patchRouteConfiguration(state, routeConfig, context, routePatches);
				}
			}
		}
	}
}

/** One route configuration's patches (rc_patch.go patchRouteConfiguration, patchVirtualHosts, patchHTTPRoutes). */
function patchRouteConfiguration(state: PatchState, routeConfig: JsonObject, context: PatchContext | undefined, patches: readonly PatchModel[]): void {
	const applies = (patch: PatchModel) => contextMatches(patch, context) && routeConfigurationMatch(routeConfig, patch);
	// Only MERGE acts on a whole route configuration.
	patchInPlace(state, routeConfig, ofKind(patches, 'ROUTE_CONFIGURATION').filter(patch => patch.operation === 'MERGE' && patch.value), applies);
	const hosts: JsonObject[] = [];
	for (const original of objects(routeConfig.virtual_hosts)) {
		const host = patchInPlace(state, original, inPlaceOf(patches, 'VIRTUAL_HOST'), (patch, current) => applies(patch) && virtualHostMatch(current, patch), { replace: true });
		if (host) {
			patchRoutes(state, routeConfig, host, context, patches);
			hosts.push(host);
		}
	}

	hosts.push(...added(state, ofKind(patches, 'VIRTUAL_HOST'), applies));
	routeConfig.virtual_hosts = hosts;
}

function patchRoutes(state: PatchState, routeConfig: JsonObject, host: JsonObject, context: PatchContext | undefined, patches: readonly PatchModel[]): void {
	const applies = (patch: PatchModel) => patch.applyTo === 'HTTP_ROUTE' && contextMatches(patch, context)
		&& routeConfigurationMatch(routeConfig, patch) && virtualHostMatch(host, patch);
	// patchHTTPRoute: MERGE / REMOVE on every matching route first.
	const mergeOrRemove = patches.filter(patch => patch.operation === 'MERGE' || patch.operation === 'REMOVE');
	let routes = objects(host.routes).filter(route => patchInPlace(state, route, mergeOrRemove, patch => applies(patch) && routeMatch(route, patch)));

	// patchHTTPRoutes: then ADD / INSERT_*.
	for (const patch of patches) {
		if (!applies(patch) || patch.operation === 'MERGE' || patch.operation === 'REMOVE' || patch.operation === 'REPLACE') {
			continue;
		}

		const hasRouteMatch = patch.match.routeConfiguration?.vhost?.route !== undefined;
		routes = patch.operation === 'INSERT_FIRST' && hasRouteMatch
			? (routes.some(route => routeMatch(route, patch)) ? listOperation(state, patch, routes, undefined) : routes)
			: listOperation(state, patch, routes, hasRouteMatch ? route => routeMatch(route, patch) : undefined);
	}

	host.routes = routes;
}

function routeConfigurationMatch(routeConfig: JsonObject, patch: PatchModel): boolean {
	const match = patch.match.routeConfiguration;
	if (!match) {
		return true;
	}

	if (match.name !== undefined && match.name !== routeConfig.name) {
		return false;
	}

	return match.portNumber === undefined || match.portNumber === routePortFromName(String(routeConfig.name ?? ''));
}

/** rc_patch.go getListenerPortFromName: `inbound|8080||` → 8080, `9080` → 9080, anything else 0. */
function routePortFromName(name: string): number {
	if (name.startsWith('inbound')) {
		return parseSubsetKey(name).port;
	}

	return /^\d+$/.test(name) ? Number(name) : 0;
}

function virtualHostMatch(host: JsonObject, patch: PatchModel): boolean {
	const match = patch.match.routeConfiguration?.vhost;
	if (!match) {
		return true;
	}

	const domains = Array.isArray(host.domains) ? host.domains.map(String) : [];
	return (match.name === undefined || match.name === host.name) && (match.domainName === undefined || domains.includes(match.domainName));
}

function routeMatch(route: JsonObject, patch: PatchModel): boolean {
	const match = patch.match.routeConfiguration?.vhost?.route;
	if (!match) {
		return true;
	}

	if (match.name !== undefined && match.name !== route.name) {
		return false;
	}

	switch (match.action) {
		case 'ANY': {
			return true;
		}

		case 'ROUTE': {
			return route.route !== undefined;
		}

		case 'REDIRECT': {
			return route.redirect !== undefined;
		}

		case 'DIRECT_RESPONSE': {
			return route.direct_response !== undefined;
		}
	}
}

// --- clusters (cluster_patch.go) ---------------------------------------------------------------------

function patchClusters(state: PatchState): void {
	const patches = state.patches.filter(patch => patch.applyTo === 'CLUSTER');
	if (patches.length === 0) {
		return;
	}

	// Only REMOVE and MERGE act on a cluster where it is (cluster_patch.go ApplyClusterMerge, ShouldKeepCluster).
	const inPlace = patches.filter(patch => patch.operation === 'REMOVE' || (patch.operation === 'MERGE' && patch.value));
	const kept = state.clusters.filter(cluster => patchInPlace(state, cluster, inPlace, patch => contextMatches(patch, clusterContext(cluster, state.gateway)) && clusterMatch(cluster, patch)));
	kept.push(...added(state, patches, patch => contextMatches(patch, addContext(state))));
	state.clusters = kept;
}

/** The side istiod's cluster name carries (`inbound|…`, `outbound|…`); none for a plain sandbox's. */
function clusterContext(cluster: JsonObject, gateway: boolean): PatchContext | undefined {
	if (gateway) {
		return 'GATEWAY';
	}

	const name = String(cluster.name ?? '');
	return name.startsWith('inbound|') ? 'SIDECAR_INBOUND' : (name.startsWith('outbound|') ? 'SIDECAR_OUTBOUND' : undefined);
}

function clusterMatch(cluster: JsonObject, patch: PatchModel): boolean {
	const match = patch.match.cluster;
	if (!match) {
		return true;
	}

	if (match.name !== undefined) {
		return match.name === cluster.name;
	}

	const key = parseSubsetKey(String(cluster.name ?? ''));
	if (match.subset !== undefined && match.subset !== key.subset) {
		return false;
	}

	if (match.service !== undefined && match.service !== key.host) {
		return false;
	}

	return match.portNumber === undefined || match.portNumber === key.port;
}

/** pilot/pkg/model/service.go ParseSubsetKey: `direction|port|subset|host`; anything else is empty. */
function parseSubsetKey(name: string): { direction: string; port: number; subset: string; host: string } {
	const parts = name.split('|');
	if (parts.length < 4) {
		return { direction: '', port: 0, subset: '', host: '' };
	}

	const port = Number.parseInt(parts[1] ?? '', 10);
	return { direction: parts[0] ?? '', port: Number.isNaN(port) ? 0 : port, subset: parts[2] ?? '', host: parts[3] ?? '' };
}

// --- extension configs (extension_configuration_patch.go) --------------------------------------------

/** EXTENSION_CONFIG ADD: the config is served when a filter subscribes to its name (replacing meshbox's own of that name). */
function patchExtensionConfigs(state: PatchState): void {
	const patches = state.patches.filter(patch => patch.applyTo === 'EXTENSION_CONFIG' && patch.operation === 'ADD' && patch.value);
	if (patches.length === 0) {
		return;
	}

	const subscribed = new Set<string>();
	const collect = (value: JsonValue | undefined): void => {
		if (Array.isArray(value)) {
			value.forEach(collect);
		} else if (value && typeof value === 'object') {
			if (value.config_discovery !== undefined && typeof value.name === 'string') {
				subscribed.add(value.name);
			}

			Object.values(value).forEach(collect);
		}
	};

	state.listeners.forEach(collect);
	for (const patch of patches) {
		const name = String(patch.value!.name ?? '');
		if (!subscribed.has(name)) {
			continue;
		}

		state.applied.add(patch);
		state.extensionConfigs = [...state.extensionConfigs.filter(config => config.name !== name), clone(patch.value!)];
	}
}

// --- JSON helpers ------------------------------------------------------------------------------------

/**
 * pkg/proto/merge Merge on Envoy's JSON: fields of `src` into `dst` (changed in place and returned); lists
 * append, objects merge, scalars replace; an `Any` (an object with '@type') replaces, as proto merge of an
 * Any sets its type_url and value bytes.
 */
export function protoMerge(dst: JsonObject, src: JsonObject): JsonObject {
	for (const [key, value] of Object.entries(src)) {
		const current = dst[key];
		if (Array.isArray(value)) {
			dst[key] = Array.isArray(current) ? [...current, ...clone(value)] : clone(value);
		} else if (isObject(value) && isObject(current) && value['@type'] === undefined && current['@type'] === undefined) {
			protoMerge(current, value);
		} else {
			dst[key] = clone(value);
		}
	}

	return dst;
}

function clone<T extends JsonValue>(value: T): T {
	return structuredClone(value);
}

function isObject(value: JsonValue | undefined): value is JsonObject {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: JsonValue | undefined): JsonObject | undefined {
	return isObject(value) ? value : undefined;
}

function objects(value: JsonValue | undefined): JsonObject[] {
	return Array.isArray(value) ? value.filter(isObject) : [];
}

/** What is there to match, for the error's hint. */
function inventory(resources: SandboxResources): string {
	const listeners: string[] = [];
	const httpFilters = new Set<string>();
	const networkFilters = new Set<string>();
	const routes = new Set<string>();
	for (const listener of resources.listeners) {
		listeners.push(`${String(listener.name)}${listenerPort(listener) === undefined ? '' : ` (port ${listenerPort(listener)})`}`);
		for (const chain of objects(listener.filter_chains)) {
			for (const filter of objects(chain.filters)) {
				networkFilters.add(String(filter.name));
				const config = asObject(filter.typed_config);
				objects(config?.http_filters).forEach(entry => httpFilters.add(String(entry.name)));
				const routeConfig = asObject(config?.route_config);
				if (routeConfig) {
					routes.add(`${String(routeConfig.name)} (virtual hosts ${objects(routeConfig.virtual_hosts).map(host => String(host.name)).join(', ')})`);
				}
			}
		}
	}

	return [
		`listeners ${listeners.join(', ') || 'none'}`,
		`network filters ${[...networkFilters].join(', ') || 'none'}`,
		`HTTP filters ${[...httpFilters].join(', ') || 'none'}`,
		`route configurations ${[...routes].join(', ') || 'none'}`,
		`clusters ${resources.clusters.map(cluster => String(cluster.name)).join(', ') || 'none'}`,
	].join('; ');
}
