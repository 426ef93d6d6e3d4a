/**
 * `envoy.patches` (issue #10): changes to the generated Envoy config with the semantics of Istio's EnvoyFilter
 * configPatches (istio/api networking/v1alpha3/envoy_filter.proto). Spec → model; src/envoy/patches.ts applies
 * them. The same reader serves Istio EnvoyFilter documents (src/istio/envoy-filter.ts), which report problems
 * as findings instead of throwing.
 */
import { MeshboxError } from '../errors.ts';
import type { JsonObject } from '../util/json.ts';
import { configError, describeValue, formatPath, isRecord, type FieldPath, type Locator } from './fields.ts';
import type { TypedConfigCheck } from './routing.ts';

/** envoy_filter.proto `ApplyTo` (LISTENER_FILTER from Istio 1.25; BOOTSTRAP is read but not applied: see patchApplyTo). */
export const patchApplyTos = ['LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER', 'ROUTE_CONFIGURATION', 'VIRTUAL_HOST',
	'HTTP_ROUTE', 'CLUSTER', 'EXTENSION_CONFIG', 'BOOTSTRAP', 'LISTENER_FILTER'] as const;
export type PatchApplyTo = (typeof patchApplyTos)[number];

/** envoy_filter.proto `PatchContext` (WAYPOINT exists in the API; a sidecar never matches it, nor GATEWAY). */
export const patchContexts = ['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY', 'WAYPOINT'] as const;
export type PatchContext = (typeof patchContexts)[number];

/** envoy_filter.proto `Patch.Operation`. */
export const patchOperations = ['MERGE', 'ADD', 'REMOVE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE'] as const;
export type PatchOperation = (typeof patchOperations)[number];

/** envoy_filter.proto `Patch.FilterClass` (read and validated; istiod does not use it). */
export const filterClasses = ['UNSPECIFIED', 'AUTHN', 'AUTHZ', 'STATS'] as const;

/** envoy_filter.proto `RouteConfigurationMatch.RouteMatch.Action`. */
export const routeActions = ['ANY', 'ROUTE', 'REDIRECT', 'DIRECT_RESPONSE'] as const;
export type RouteAction = (typeof routeActions)[number];

export type ListenerMatch = {
	readonly portNumber?: number;
	readonly name?: string;
	readonly listenerFilter?: string;
	readonly filterChain?: {
		readonly name?: string;
		readonly sni?: string;
		readonly transportProtocol?: string;
		readonly applicationProtocols?: string;
		readonly destinationPort?: number;
		readonly filter?: { readonly name: string; readonly subFilter?: { readonly name: string } };
	};
};

export type RouteConfigurationMatch = {
	readonly portNumber?: number;
	readonly portName?: string;
	readonly gateway?: string;
	readonly name?: string;
	readonly vhost?: {
		readonly name?: string;
		readonly domainName?: string;
		readonly route?: { readonly name?: string; readonly action: RouteAction };
	};
};

export type ClusterMatch = { readonly portNumber?: number; readonly service?: string; readonly subset?: string; readonly name?: string };

export type PatchMatch = {
	readonly context: PatchContext;
	readonly proxy?: { readonly proxyVersion?: string; readonly metadata?: Readonly<Record<string, string>> };
	readonly listener?: ListenerMatch;
	readonly routeConfiguration?: RouteConfigurationMatch;
	readonly cluster?: ClusterMatch;
};

/** One configPatches entry, as read (the shape of envoy_filter.proto `EnvoyConfigObjectPatch`). */
export type PatchSpec = {
	applyTo: PatchApplyTo;
	match?: {
		context?: PatchContext;
		proxy?: PatchMatch['proxy'];
		listener?: ListenerMatch;
		routeConfiguration?: Omit<RouteConfigurationMatch, 'vhost'> & {
			vhost?: Omit<NonNullable<RouteConfigurationMatch['vhost']>, 'route'> & { route?: { name?: string; action?: RouteAction } };
		};
		cluster?: ClusterMatch;
	};
	patch: { operation: PatchOperation; value?: Record<string, unknown>; filterClass?: (typeof filterClasses)[number] };
};

export type PatchModel = {
	readonly applyTo: PatchApplyTo;
	readonly operation: PatchOperation;
	readonly match: PatchMatch;
	/** Envoy's JSON of the object (typed_config with '@type'); undefined for REMOVE. */
	readonly value: JsonObject | undefined;
	/** Where the patch is, for messages: `meshbox.yaml:12:5 (envoy.patches[0])`, `EnvoyFilter default/x (istio/ef.yaml:9:5)`. */
	readonly origin: string;
	/**
	 * What a patch that matches nothing does: `error` (meshbox.yaml / startSandbox: never silence) or `ignore`
	 * (an Istio EnvoyFilter: istiod ignores it; the sidecar's notes say so).
	 */
	readonly ifUnmatched: 'error' | 'ignore';
};

/** A problem found while reading a patch: the field (relative to the patch), what is wrong, what to do. */
export type PatchProblem = { readonly path: FieldPath; readonly message: string; readonly hint?: string; readonly severity: 'error' | 'warning' };

export type ReadPatch = {
	/** undefined when there were errors. */
	readonly patch: Omit<PatchModel, 'origin' | 'ifUnmatched'> | undefined;
	readonly problems: readonly PatchProblem[];
};

const patchFields = ['applyTo', 'match', 'patch'] as const;
const matchFields = ['context', 'proxy', 'listener', 'routeConfiguration', 'cluster'] as const;
const httpConnectionManager = 'envoy.filters.network.http_connection_manager';
/** pkg/config/xds/filter_types.gen.go ReverseDeprecatedFilterNames (the names validation warns about, a few common ones). */
const deprecatedFilterNames: Readonly<Record<string, string>> = {
	'envoy.http_connection_manager': httpConnectionManager,
	'envoy.router': 'envoy.filters.http.router',
	'envoy.lua': 'envoy.filters.http.lua',
	'envoy.cors': 'envoy.filters.http.cors',
	'envoy.fault': 'envoy.filters.http.fault',
	'envoy.tcp_proxy': 'envoy.filters.network.tcp_proxy',
	'envoy.ext_authz': 'envoy.filters.http.ext_authz',
	'envoy.filters.http.wasm': 'envoy.filters.http.wasm',
};

/**
 * Reads one configPatches entry as istiod's validation does (pkg/config/validation/envoyfilter/envoyfilter.go
 * validateEnvoyFilter, and the CRD schema for field names and enums). Never throws.
 */
export function readPatch(value: unknown): ReadPatch {
	const problems: PatchProblem[] = [];
	const error = (path: FieldPath, message: string, hint?: string) => problems.push({ path, message, hint, severity: 'error' });
	const warning = (path: FieldPath, message: string, hint?: string) => problems.push({ path, message, hint, severity: 'warning' });
	if (!isRecord(value)) {
		error([], `expected a patch (applyTo, match, patch), found ${describeValue(value)}`);
		return { patch: undefined, problems };
	}

	unknownFields(value, [], patchFields, error);
	const applyTo = enumField(value.applyTo, ['applyTo'], patchApplyTos, error);
	if (value.applyTo === undefined) {
		error(['applyTo'], 'Envoy filter: missing applyTo', `one of ${patchApplyTos.join(', ')}`);
	}

	const patch = value.patch;
	if (!isRecord(patch)) {
		error(patch === undefined ? [] : ['patch'], 'Envoy filter: missing patch', 'e.g. patch: { operation: INSERT_BEFORE, value: { name: …, typed_config: { \'@type\': … } } }');
		return { patch: undefined, problems };
	}

	unknownFields(patch, ['patch'], ['operation', 'value', 'filterClass'], error);
	const operation = enumField(patch.operation, ['patch', 'operation'], patchOperations, error);
	if (patch.operation === undefined) {
		error(['patch'], 'Envoy filter: missing patch operation', `one of ${patchOperations.join(', ')}`);
	}

	enumField(patch.filterClass, ['patch', 'filterClass'], filterClasses, error);
	const patchValue = patch.value;
	if (patchValue !== undefined && patchValue !== null && !isRecord(patchValue)) {
		error(['patch', 'value'], `expected an object (the Envoy config, as Envoy's JSON), found ${describeValue(patchValue)}`);
	} else if (operation && operation !== 'REMOVE' && (patchValue === undefined || patchValue === null)) {
		error(['patch'], 'Envoy filter: missing patch value for non-remove operation');
	}

	const match = readMatch(value.match, applyTo, error, warning);
	if (applyTo === 'BOOTSTRAP') {
		warning(['applyTo'], 'BOOTSTRAP patches are not applied by meshbox', 'put Envoy bootstrap settings in meshbox.yaml (envoy:, stats:, services:)');
	}

	if (problems.some(problem => problem.severity === 'error') || !applyTo || !operation || !match) {
		return { patch: undefined, problems };
	}

	// pilot/pkg/model/envoyfilter.go convertToEnvoyFilterWrapper: INSERT_* on anything but filters and routes is ADD.
	const insert = operation === 'INSERT_AFTER' || operation === 'INSERT_BEFORE' || operation === 'INSERT_FIRST';
	const ordered = applyTo === 'HTTP_FILTER' || applyTo === 'NETWORK_FILTER' || applyTo === 'HTTP_ROUTE' || applyTo === 'LISTENER_FILTER';
	return {
		patch: { applyTo, operation: insert && !ordered ? 'ADD' : operation, match, value: isRecord(patchValue) ? patchValue as JsonObject : undefined },
		problems,
	};
}

type Report = (path: FieldPath, message: string, hint?: string) => void;

function readMatch(value: unknown, applyTo: PatchApplyTo | undefined, error: Report, warning: Report): PatchMatch | undefined {
	if (value === undefined || value === null) {
		return { context: 'ANY' };
	}

	if (!isRecord(value)) {
		error(['match'], `expected an object (context, listener, routeConfiguration or cluster), found ${describeValue(value)}`);
		return undefined;
	}

	unknownFields(value, ['match'], matchFields, error);
	const context = enumField(value.context, ['match', 'context'], patchContexts, error) ?? 'ANY';
	const objectTypes = ['listener', 'routeConfiguration', 'cluster'].filter(key => value[key] !== undefined && value[key] !== null);
	if (objectTypes.length > 1) {
		// envoy_filter.proto: listener, routeConfiguration and cluster are a oneof.
		error(['match'], `only one of listener, routeConfiguration or cluster can be set, found ${objectTypes.join(' and ')}`);
	}

	// envoyfilter.go: applyTo, match and patch must line up.
	const listenerClass = applyTo === 'LISTENER' || applyTo === 'FILTER_CHAIN' || applyTo === 'NETWORK_FILTER' || applyTo === 'HTTP_FILTER' || applyTo === 'LISTENER_FILTER';
	const routeClass = applyTo === 'ROUTE_CONFIGURATION' || applyTo === 'VIRTUAL_HOST' || applyTo === 'HTTP_ROUTE';
	const [objectType] = objectTypes;
	if (objectType && listenerClass && objectType !== 'listener') {
		error(['match', objectType], 'Envoy filter: applyTo for listener class objects cannot have non listener match');
	} else if (objectType && routeClass && objectType !== 'routeConfiguration') {
		error(['match', objectType], 'Envoy filter: applyTo for http route class objects cannot have non route configuration match');
	} else if (objectType && applyTo === 'CLUSTER' && objectType !== 'cluster') {
		error(['match', objectType], 'Envoy filter: applyTo for cluster class objects cannot have non cluster match');
	}

	const proxy = readProxy(value.proxy, error);
	const listener = value.listener === undefined || value.listener === null ? undefined : readListenerMatch(value.listener, applyTo, error, warning);
	const routeConfiguration = value.routeConfiguration === undefined || value.routeConfiguration === null ? undefined : readRouteMatch(value.routeConfiguration, error);
	const cluster = value.cluster === undefined || value.cluster === null ? undefined : readClusterMatch(value.cluster, error);
	return {
		context,
		...(proxy ? { proxy } : {}),
		...(listener ? { listener } : {}),
		...(routeConfiguration ? { routeConfiguration } : {}),
		...(cluster ? { cluster } : {}),
	};
}

function readProxy(value: unknown, error: Report): PatchMatch['proxy'] {
	if (value === undefined || value === null) {
		return undefined;
	}

	const path = ['match', 'proxy'];
	if (!isRecord(value)) {
		error(path, `expected an object (proxyVersion, metadata), found ${describeValue(value)}`);
		return undefined;
	}

	unknownFields(value, path, ['proxyVersion', 'metadata'], error);
	const proxyVersion = stringField(value.proxyVersion, [...path, 'proxyVersion'], error);
	if (proxyVersion !== undefined) {
		try {
			// Go's RE2 and JavaScript agree on the version patterns people write (`^1\.2[0-9].*`).
			new RegExp(proxyVersion);
		} catch (problem) {
			error([...path, 'proxyVersion'], `Envoy filter: invalid regex for proxy version, [${(problem as Error).message}]`);
		}
	}

	const metadata: Record<string, string> = {};
	if (value.metadata !== undefined && value.metadata !== null) {
		if (!isRecord(value.metadata)) {
			error([...path, 'metadata'], `expected a map of names to strings, found ${describeValue(value.metadata)}`);
		} else {
			for (const [key, entry] of Object.entries(value.metadata)) {
				const text = stringField(entry, [...path, 'metadata', key], error);
				if (text !== undefined) {
					metadata[key] = text;
				}
			}
		}
	}

	return { ...(proxyVersion === undefined ? {} : { proxyVersion }), ...(Object.keys(metadata).length > 0 ? { metadata } : {}) };
}

function readListenerMatch(value: unknown, applyTo: PatchApplyTo | undefined, error: Report, warning: Report): ListenerMatch | undefined {
	const path = ['match', 'listener'];
	if (!isRecord(value)) {
		error(path, `expected an object (portNumber, name, filterChain, listenerFilter), found ${describeValue(value)}`);
		return undefined;
	}

	unknownFields(value, path, ['portNumber', 'portName', 'name', 'filterChain', 'listenerFilter'], error);
	const portNumber = portField(value.portNumber, [...path, 'portNumber'], error);
	const name = stringField(value.name, [...path, 'name'], error);
	const listenerFilter = stringField(value.listenerFilter, [...path, 'listenerFilter'], error);
	let filterChain: ListenerMatch['filterChain'];
	if (value.filterChain !== undefined && value.filterChain !== null) {
		const chainPath = [...path, 'filterChain'];
		const chain = value.filterChain;
		if (!isRecord(chain)) {
			error(chainPath, `expected an object (name, sni, transportProtocol, applicationProtocols, destinationPort, filter), found ${describeValue(chain)}`);
		} else {
			unknownFields(chain, chainPath, ['name', 'sni', 'transportProtocol', 'applicationProtocols', 'filter', 'destinationPort'], error);
			let filter: { name: string; subFilter?: { name: string } } | undefined;
			if (chain.filter !== undefined && chain.filter !== null) {
				filter = readFilterMatch(chain.filter, [...chainPath, 'filter'], applyTo, error, warning);
			}

			filterChain = {
				...optionalEntry('name', stringField(chain.name, [...chainPath, 'name'], error)),
				...optionalEntry('sni', stringField(chain.sni, [...chainPath, 'sni'], error)),
				...optionalEntry('transportProtocol', stringField(chain.transportProtocol, [...chainPath, 'transportProtocol'], error)),
				...optionalEntry('applicationProtocols', stringField(chain.applicationProtocols, [...chainPath, 'applicationProtocols'], error)),
				...optionalEntry('destinationPort', portField(chain.destinationPort, [...chainPath, 'destinationPort'], error)),
				...optionalEntry('filter', filter),
			};
		}
	}

	return {
		...optionalEntry('portNumber', portNumber),
		...optionalEntry('name', name),
		...optionalEntry('listenerFilter', listenerFilter),
		...optionalEntry('filterChain', filterChain),
	};
}

function readFilterMatch(value: unknown, path: FieldPath, applyTo: PatchApplyTo | undefined, error: Report, warning: Report): { name: string; subFilter?: { name: string } } | undefined {
	if (!isRecord(value)) {
		error(path, `expected an object (name, subFilter), found ${describeValue(value)}`);
		return undefined;
	}

	unknownFields(value, path, ['name', 'subFilter'], error);
	if (applyTo === 'LISTENER' || applyTo === 'FILTER_CHAIN') {
		warning(path, `Envoy filter: filter match has no effect when used with ${applyTo}`);
	}

	const name = stringField(value.name, [...path, 'name'], error) ?? '';
	if (!name) {
		error([...path, 'name'], 'Envoy filter: filter match has no name to match on', `e.g. name: ${httpConnectionManager}`);
		return undefined;
	}

	deprecatedName(name, [...path, 'name'], warning);
	if (value.subFilter === undefined || value.subFilter === null) {
		return { name };
	}

	const subPath = [...path, 'subFilter'];
	if (applyTo !== 'HTTP_FILTER') {
		error(subPath, 'Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only');
		return undefined;
	}

	if (name !== httpConnectionManager && name !== 'envoy.http_connection_manager') {
		error([...path, 'name'], `Envoy filter: subfilter match requires filter match with ${httpConnectionManager}`);
		return undefined;
	}

	if (!isRecord(value.subFilter)) {
		error(subPath, `expected an object (name), found ${describeValue(value.subFilter)}`);
		return undefined;
	}

	unknownFields(value.subFilter, subPath, ['name'], error);
	const subName = stringField(value.subFilter.name, [...subPath, 'name'], error) ?? '';
	if (!subName) {
		error([...subPath, 'name'], 'Envoy filter: subfilter match has no name to match on', 'e.g. name: envoy.filters.http.router');
		return undefined;
	}

	deprecatedName(subName, [...subPath, 'name'], warning);
	return { name, subFilter: { name: subName } };
}

function readRouteMatch(value: unknown, error: Report): RouteConfigurationMatch | undefined {
	const path = ['match', 'routeConfiguration'];
	if (!isRecord(value)) {
		error(path, `expected an object (portNumber, portName, gateway, name, vhost), found ${describeValue(value)}`);
		return undefined;
	}

	unknownFields(value, path, ['portNumber', 'portName', 'gateway', 'vhost', 'name'], error);
	let vhost: RouteConfigurationMatch['vhost'];
	if (value.vhost !== undefined && value.vhost !== null) {
		const vhostPath = [...path, 'vhost'];
		if (!isRecord(value.vhost)) {
			error(vhostPath, `expected an object (name, domainName, route), found ${describeValue(value.vhost)}`);
		} else {
			unknownFields(value.vhost, vhostPath, ['name', 'domainName', 'route'], error);
			let route: { name?: string; action: RouteAction } | undefined;
			const routeValue = value.vhost.route;
			if (routeValue !== undefined && routeValue !== null) {
				if (!isRecord(routeValue)) {
					error([...vhostPath, 'route'], `expected an object (name, action), found ${describeValue(routeValue)}`);
				} else {
					unknownFields(routeValue, [...vhostPath, 'route'], ['name', 'action'], error);
					route = {
						...optionalEntry('name', stringField(routeValue.name, [...vhostPath, 'route', 'name'], error)),
						action: enumField(routeValue.action, [...vhostPath, 'route', 'action'], routeActions, error) ?? 'ANY',
					};
				}
			}

			vhost = {
				...optionalEntry('name', stringField(value.vhost.name, [...vhostPath, 'name'], error)),
				...optionalEntry('domainName', stringField(value.vhost.domainName, [...vhostPath, 'domainName'], error)),
				...optionalEntry('route', route),
			};
		}
	}

	return {
		...optionalEntry('portNumber', portField(value.portNumber, [...path, 'portNumber'], error)),
		...optionalEntry('portName', stringField(value.portName, [...path, 'portName'], error)),
		...optionalEntry('gateway', stringField(value.gateway, [...path, 'gateway'], error)),
		...optionalEntry('name', stringField(value.name, [...path, 'name'], error)),
		...optionalEntry('vhost', vhost),
	};
}

function readClusterMatch(value: unknown, error: Report): ClusterMatch | undefined {
	const path = ['match', 'cluster'];
	if (!isRecord(value)) {
		error(path, `expected an object (portNumber, service, subset, name), found ${describeValue(value)}`);
		return undefined;
	}

	unknownFields(value, path, ['portNumber', 'service', 'subset', 'name'], error);
	return {
		...optionalEntry('portNumber', portField(value.portNumber, [...path, 'portNumber'], error)),
		...optionalEntry('service', stringField(value.service, [...path, 'service'], error)),
		...optionalEntry('subset', stringField(value.subset, [...path, 'subset'], error)),
		...optionalEntry('name', stringField(value.name, [...path, 'name'], error)),
	};
}

function deprecatedName(name: string, path: FieldPath, warning: Report): void {
	const current = deprecatedFilterNames[name];
	if (current && current !== name) {
		warning(path, `using deprecated filter name ${JSON.stringify(name)}; use ${JSON.stringify(current)} instead`);
	}
}

function optionalEntry<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
	return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function unknownFields(value: Record<string, unknown>, path: FieldPath, allowed: readonly string[], error: Report): void {
	for (const key of Object.keys(value)) {
		if (!allowed.includes(key)) {
			error([...path, key], 'unknown field', `valid fields here: ${allowed.join(', ')}`);
		}
	}
}

function enumField<T extends string>(value: unknown, path: FieldPath, choices: readonly T[], error: Report): T | undefined {
	if (value === undefined || value === null) {
		return undefined;
	}

	if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
		error(path, `Unsupported value: ${typeof value === 'string' ? JSON.stringify(value) : describeValue(value)}: supported values: ${choices.map(choice => `"${choice}"`).join(', ')}`);
		return undefined;
	}

	return value as T;
}

function stringField(value: unknown, path: FieldPath, error: Report): string | undefined {
	if (value === undefined || value === null || value === '') {
		return undefined;
	}

	if (typeof value !== 'string') {
		error(path, `expected a string, found ${describeValue(value)}`);
		return undefined;
	}

	return value;
}

function portField(value: unknown, path: FieldPath, error: Report): number | undefined {
	if (value === undefined || value === null || value === 0) {
		return undefined;
	}

	if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 4_294_967_295) {
		error(path, `expected a port number, found ${describeValue(value)}`);
		return undefined;
	}

	return value;
}

/** The Envoy message a patch value is, per applyTo (pkg/config/xds BuildXDSObjectFromStruct). */
export const patchValueMessages: Readonly<Record<PatchApplyTo, string | undefined>> = {
	LISTENER: 'envoy.config.listener.v3.Listener',
	LISTENER_FILTER: 'envoy.config.listener.v3.ListenerFilter',
	FILTER_CHAIN: 'envoy.config.listener.v3.FilterChain',
	NETWORK_FILTER: 'envoy.config.listener.v3.Filter',
	HTTP_FILTER: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
	ROUTE_CONFIGURATION: 'envoy.config.route.v3.RouteConfiguration',
	VIRTUAL_HOST: 'envoy.config.route.v3.VirtualHost',
	HTTP_ROUTE: 'envoy.config.route.v3.Route',
	CLUSTER: 'envoy.config.cluster.v3.Cluster',
	EXTENSION_CONFIG: 'envoy.config.core.v3.TypedExtensionConfig',
	BOOTSTRAP: 'envoy.config.bootstrap.v3.Bootstrap',
};

/**
 * Checks a patch value against Envoy's API as the message its applyTo takes (istiod builds that message from the
 * value and refuses what does not fit). Throws the checker's MeshboxError (its message starts with `where`).
 */
export function checkPatchValue(patch: Pick<PatchModel, 'applyTo' | 'value'>, where: string, check: TypedConfigCheck): void {
	const message = patchValueMessages[patch.applyTo];
	if (message && patch.value) {
		check({ '@type': `type.googleapis.com/${message}`, ...patch.value }, where);
	}
}

/** `envoy.patches` of meshbox.yaml / startSandbox: every patch read, the first error thrown with its file:line:col. */
export function resolvePatches(value: unknown, locate: Locator, check?: TypedConfigCheck): readonly PatchModel[] | undefined {
	if (value === undefined || value === null) {
		return undefined;
	}

	const base: FieldPath = ['envoy', 'patches'];
	if (!Array.isArray(value)) {
		throw configError(locate, base, `expected a list of patches (each: applyTo, match, patch), found ${describeValue(value)}`,
			'the entries are Istio EnvoyFilter configPatches: https://istio.io/latest/docs/reference/config/networking/envoy-filter/');
	}

	return value.map((entry, index) => {
		const path = [...base, index];
		const { patch, problems } = readPatch(entry);
		const first = problems.find(problem => problem.severity === 'error') ?? problems.find(problem => problem.severity === 'warning' && problem.path[0] === 'applyTo');
		if (first || !patch) {
			throw configError(locate, [...path, ...(first?.path ?? [])], first?.message ?? 'invalid patch', first?.hint);
		}

		if (patch.match.context === 'GATEWAY' || patch.match.context === 'WAYPOINT') {
			throw configError(locate, [...path, 'match', 'context'], `${patch.match.context} never matches a meshbox sandbox`,
				'use ANY (default), SIDECAR_INBOUND or SIDECAR_OUTBOUND');
		}

		if (check) {
			try {
				checkPatchValue(patch, formatPath([...path, 'patch', 'value']), check);
			} catch (error) {
				if (error instanceof MeshboxError) {
					const at = locateDeepest(locate, [...path, 'patch', 'value'], error.message);
					throw new MeshboxError('CONFIG_INVALID', `${at ? `${at}: ` : ''}${error.message}`, error.hint ?? 'names as in Envoy\'s API reference');
				}

				throw error;
			}
		}

		const where = locate(path);
		return { ...patch, origin: `${where ? `${where} ` : ''}(envoy.patches[${index}])`, ifUnmatched: 'error' } satisfies PatchModel;
	});
}

/** The field an encoder error names (`<at>.typed_config.inline_cod: …`), located as deep as the locator knows. */
function locateDeepest(locate: Locator, at: FieldPath, message: string): string | undefined {
	const prefix = formatPath(at);
	const named = message.startsWith(`${prefix}.`) || message.startsWith(`${prefix}[`) ? message.slice(prefix.length).split(':')[0] ?? '' : '';
	const rest: Array<string | number> = [...named.matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)].map(match => (match[2] === undefined ? match[1]! : Number(match[2])));
	for (let length = rest.length; length > 0; length--) {
		const where = locate([...at, ...rest.slice(0, length)]);
		if (where && where !== locate([])) {
			return where;
		}
	}

	return locate(at);
}
