/**
 * VirtualServices → Envoy RouteConfigurations, as istiod builds them for a sidecar's outbound port and for a
 * gateway's server port.
 *
 * Sources (istio/istio): pilot/pkg/networking/core/httproute.go (buildSidecarOutboundHTTPRouteConfig,
 * BuildSidecarOutboundVirtualHosts, buildCatchAllVirtualHost), pilot/pkg/networking/core/route/route.go
 * (BuildSidecarVirtualHostWrapper, BuildHTTPRoutesForVirtualService, TranslateRoute, TranslateRouteMatch,
 * applyHTTPRouteDestination, ApplyRedirect, ApplyDirectResponse, TranslateFault, GetDestinationCluster,
 * BuildDefaultHTTPOutboundRoute), pilot/pkg/networking/core/route/retry/retry.go (ConvertPolicy, the default
 * policy), pilot/pkg/networking/core/gateway.go buildGatewayHTTPRouteConfig. The JSON is Envoy's
 * (envoy.config.route.v3), snake_case as Envoy reads it.
 */
import type { DestinationRuleResource, VirtualServiceResource } from '../config-resources.ts';
import type { MeshService } from '../mesh/model.ts';
import type { VersionTraits } from '../version.ts';
import type { JsonObject, JsonValue } from '../../util/json.ts';
import { destinationRuleFor, gatewayReference, resolveShortname, serviceDomains, virtualServicesFor } from './hosts.ts';
import { durationNanos } from './schema.ts';
import type { Destination, GatewayServer, HeaderOperations, Headers, HttpMatchRequest, HttpRoute, HttpRouteDestination, StringMatch } from './types.ts';
import { grpcStatuses, hostMatches } from './validate.ts';

/** Where a route came from, for `meshbox render` (Envoy's JSON has no room for comments). */
export type RouteOrigin = {
	readonly virtualHost: string;
	/** The route's index in its virtual host. */
	readonly route: number;
	/** `VirtualService default/reviews at istio/reviews.yaml:3:1`, or `default route (no VirtualService)`. */
	readonly comment: string;
};

export type RouteConfigResult = {
	/** An Envoy RouteConfiguration (inline in the connection manager: `ProxyFilterChainModel.http.routeConfig`). */
	readonly routeConfig: JsonObject;
	readonly origins: readonly RouteOrigin[];
	/** `istiod: …` / `meshbox: …` lines for ProxyModel.notes. */
	readonly notes: readonly string[];
};

export type OutboundRouteOptions = {
	/** The Service port the outbound listener is for (route config name `<port>`). */
	readonly port: number;
	readonly services: readonly MeshService[];
	readonly virtualServices: readonly VirtualServiceResource[];
	readonly destinationRules: readonly DestinationRuleResource[];
	readonly proxyNamespace: string;
	/** The proxy's labels, for `match[].sourceLabels` (route.go sourceMatchHTTP). */
	readonly proxyLabels?: Readonly<Record<string, string>>;
	readonly traits: VersionTraits;
};

export type GatewayRouteOptions = {
	/** `http.8080`, `https.443.<server name>.<gateway>.<namespace>`. */
	readonly routeConfigName: string;
	/** The server port number (what VirtualService `port` matches and redirects use: 80, 443). */
	readonly port: number;
	/** The Gateway servers on this route config, each with the Gateway (`<namespace>/<name>`) it belongs to. */
	readonly servers: ReadonlyArray<{ readonly gateway: string; readonly server: GatewayServer }>;
	readonly virtualServices: readonly VirtualServiceResource[];
	readonly services: readonly MeshService[];
	readonly destinationRules: readonly DestinationRuleResource[];
	readonly gatewayNamespace: string;
	readonly proxyLabels?: Readonly<Record<string, string>>;
	readonly traits: VersionTraits;
};

/** retry.go defaultRetryOn. */
export const defaultRetryOn = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
const previousHosts: JsonObject = {
	name: 'envoy.retry_host_predicates.previous_hosts',
	typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' },
};

/** route.go DefaultMaxDirectResponseBodySizeBytes. */
const maxDirectResponseBody = 1024 * 1024;
const faultFilter = 'envoy.filters.http.fault';
const corsFilter = 'envoy.filters.http.cors';

type RouteContext = {
	readonly resource: VirtualServiceResource;
	readonly listenerPort: number;
	/** The gateways the routes are built for: `mesh`, or the gateway's `<namespace>/<name>`. */
	readonly gateways: readonly string[];
	readonly proxyLabels: Readonly<Record<string, string>>;
	readonly proxyNamespace: string;
	/** The Service a destination host names, as the proxy sees it (its ports decide the default destination port). */
	readonly lookupService: (host: string) => MeshService | undefined;
	readonly hashFor: (destination: Destination) => JsonObject | undefined;
	readonly isTls: boolean;
	readonly notes: string[];
};

// --- Sidecar outbound ----------------------------------------------------------------------------------------

/** httproute.go buildSidecarOutboundHTTPRouteConfig for route `<port>`. */
export function outboundRouteConfig(options: OutboundRouteOptions): RouteConfigResult {
	const { port, proxyNamespace, traits } = options;
	const notes: string[] = [];
	const onPort = options.services.filter(service => service.ports.some(servicePort => servicePort.port === port && isHttp(servicePort.protocol)));
	const byHost = new Map(onPort.map(service => [service.hostname.toLowerCase(), service]));
	const claimed = new Set<string>();
	const virtualHosts: Array<{ host: JsonObject; origins: Array<Omit<RouteOrigin, 'virtualHost'>> }> = [];
	const vhostNames = new Set<string>();
	const addVirtualHost = (name: string, domains: string[], routes: JsonObject[], comment: string): void => {
		if (vhostNames.has(name)) {
			notes.push(`istiod: virtual host ${name} of ${comment} is a duplicate (an earlier VirtualService has the host); it is dropped`);
			return;
		}

		vhostNames.add(name);
		virtualHosts.push({
			host: { name, domains, routes, include_request_attempt_count: true },
			origins: routes.map((_, index) => ({ route: index, comment })),
		});
	};

	const virtualServices = virtualServicesFor(options.virtualServices, 'mesh', proxyNamespace)
		// httproute.go selectVirtualServices: off port 80, only VirtualServices with a host that is a Service on the port.
		.filter(resource => port === 80 || resolvedHosts(resource).some(host => [...byHost.keys()].some(serviceHost => hostMatches(host, serviceHost))));
	for (const resource of virtualServices) {
		const context: RouteContext = {
			resource, listenerPort: port, gateways: ['mesh'], proxyLabels: options.proxyLabels ?? {}, proxyNamespace, isTls: false, notes,
			// BuildSidecarOutboundVirtualHosts keeps only this port of each Service: a destination without port gets this one.
			lookupService: host => byHost.get(host) && { ...byHost.get(host)!, ports: byHost.get(host)!.ports.filter(servicePort => servicePort.port === port) },
			hashFor: destination => consistentHashPolicy(destination, options.services, options.destinationRules, proxyNamespace),
		};
		const routes = httpRoutesForVirtualService(context);
		if (routes.length === 0) {
			notes.push(`istiod: ${describe(resource)} has no route for port ${port} (every match names another port, source or gateway)`);
			continue;
		}

		const comment = describe(resource);
		const nonRegistry: string[] = [];
		const matched: MeshService[] = [];
		for (const host of resolvedHosts(resource)) {
			const exact = byHost.get(host);
			if (exact) {
				matched.push(exact);
			} else if (host.includes('*')) {
				// route.go separateVSHostsAndServices: a wildcard host takes the Services it covers that no VirtualService names exactly.
				const covered = onPort.filter(service => hostMatches(host, service.hostname) && !virtualServices.some(other => resolvedHosts(other).includes(service.hostname.toLowerCase())));
				matched.push(...covered);
				if (covered.length === 0 && !onPort.some(service => hostMatches(host, service.hostname))) {
					nonRegistry.push(host);
				}
			} else {
				nonRegistry.push(host);
			}
		}

		for (const service of matched) {
			if (claimed.has(service.hostname)) {
				notes.push(`istiod: ${comment} also names ${service.hostname}, which an earlier VirtualService already routes; this one is not used for it (VirtualServices for one host are not merged)`);
				continue;
			}

			claimed.add(service.hostname);
			addVirtualHost(`${service.hostname}:${port}`, serviceDomains(service, proxyNamespace, traits), routes, comment);
		}

		// route.go buildSidecarVirtualHostsForVirtualService: hosts outside the registry get a virtual host on port 80 only.
		if (matched.length === 0 && port === 80) {
			for (const host of nonRegistry) {
				addVirtualHost(`${host}:${port}`, [host], routes, comment);
			}
		} else if (nonRegistry.length > 0 && port !== 80) {
			notes.push(`istiod: ${comment} hosts ${nonRegistry.join(', ')} are not Services on port ${port}; istiod routes such hosts only on port 80`);
		}
	}

	for (const service of onPort) {
		if (claimed.has(service.hostname)) {
			continue;
		}

		const cluster = `outbound|${port}||${service.hostname}`;
		const hash = consistentHashPolicy({ host: service.hostname }, options.services, options.destinationRules, proxyNamespace);
		addVirtualHost(`${service.hostname}:${port}`, serviceDomains(service, proxyNamespace, traits), [defaultOutboundRoute(cluster, `${service.hostname}:${port}/*`, hash)],
			`default route to ${service.hostname} (no VirtualService)`);
	}

	// util.SortVirtualHosts: by name; then the catch-all virtual host.
	virtualHosts.sort((a, b) => (a.host.name as string) < (b.host.name as string) ? -1 : ((a.host.name as string) > (b.host.name as string) ? 1 : 0));
	virtualHosts.push({ host: blackHoleVirtualHost(), origins: [{ route: 0, comment: 'meshbox: catch-all for hosts the mesh does not know (502)' }] });
	notes.push('meshbox: outboundTrafficPolicy ALLOW_ANY sends unknown hosts to PassthroughCluster (the original destination, found through iptables); meshbox has no iptables, so its catch-all virtual host answers 502 as REGISTRY_ONLY does (httproute.go buildCatchAllVirtualHost)');
	return {
		routeConfig: {
			name: String(port),
			virtual_hosts: virtualHosts.map(entry => entry.host),
			validate_clusters: false,
			max_direct_response_body_size_bytes: maxDirectResponseBody,
			ignore_port_in_host_matching: true,
		},
		origins: virtualHosts.flatMap(entry => entry.origins.map(origin => ({ virtualHost: entry.host.name as string, ...origin }))),
		notes,
	};
}

// --- Gateway -------------------------------------------------------------------------------------------------

/** gateway.go buildGatewayHTTPRouteConfig. */
export function gatewayRouteConfig(options: GatewayRouteOptions): RouteConfigResult {
	const notes: string[] = [];
	const hosts = new Map<string, { host: JsonObject; routes: JsonObject[]; comments: string[] }>();
	for (const { gateway, server } of options.servers) {
		const isTls = server.tls !== undefined;
		for (const resource of virtualServicesFor(options.virtualServices, gateway, options.gatewayNamespace)) {
			const serverHosts = server.hosts.map(host => serverHost(host, resource.namespace)).filter((host): host is string => host !== undefined);
			const intersecting = intersectHosts(serverHosts, resolvedHosts(resource));
			if (intersecting.length === 0) {
				continue;
			}

			const context: RouteContext = {
				resource, listenerPort: server.port.number, gateways: [gateway], proxyLabels: options.proxyLabels ?? {}, proxyNamespace: options.gatewayNamespace, isTls, notes,
				lookupService: host => options.services.find(service => service.hostname.toLowerCase() === host),
				hashFor: destination => consistentHashPolicy(destination, options.services, options.destinationRules, options.gatewayNamespace),
			};
			const routes = httpRoutesForVirtualService(context);
			if (routes.length === 0) {
				continue;
			}

			for (const hostname of intersecting) {
				const existing = hosts.get(hostname);
				if (existing) {
					existing.routes.push(...routes);
					existing.comments.push(...routes.map(() => describe(resource)));
				} else {
					hosts.set(hostname, {
						host: { name: `${hostname}:${server.port.number}`, domains: [hostname], include_request_attempt_count: true, ...(server.tls?.httpsRedirect ? { require_tls: 'ALL' } : {}) },
						routes: [...routes],
						comments: routes.map(() => describe(resource)),
					});
				}
			}
		}

		for (const hostname of server.hosts.map(host => host.includes('/') ? host.slice(host.indexOf('/') + 1) : host)) {
			if (!server.tls?.httpsRedirect) {
				continue;
			}

			const existing = hosts.get(hostname.toLowerCase());
			if (existing) {
				existing.host.require_tls = 'ALL';
			} else {
				hosts.set(hostname.toLowerCase(), { host: { name: `${hostname.toLowerCase()}:${server.port.number}`, domains: [hostname.toLowerCase()], include_request_attempt_count: true, require_tls: 'ALL' }, routes: [], comments: [] });
			}
		}
	}

	const entries = [...hosts.values()];
	if (entries.length === 0) {
		// "constructed http route config … with no vhosts; Setting up a default 404 vhost"
		const port = options.servers[0]?.server.port.number ?? options.port;
		notes.push(`istiod: no VirtualService is bound to this gateway for its hosts on port ${port}: every request gets 404 (NR)`);
		entries.push({ host: { name: `blackhole:${port}`, domains: ['*'] }, routes: [], comments: [] });
	}

	for (const entry of entries) {
		// route.go SortVHostRoutes: catch-all routes last, otherwise as written.
		const order = entry.routes.map((route, index) => ({ route, comment: entry.comments[index] ?? '', catchAll: isCatchAll(route) }));
		const sorted = [...order.filter(item => !item.catchAll), ...order.filter(item => item.catchAll)];
		entry.routes.splice(0, entry.routes.length, ...sorted.map(item => item.route));
		entry.comments.splice(0, entry.comments.length, ...sorted.map(item => item.comment));
		entry.host.routes = entry.routes;
	}

	entries.sort((a, b) => (a.host.name as string) < (b.host.name as string) ? -1 : ((a.host.name as string) > (b.host.name as string) ? 1 : 0));
	return {
		routeConfig: {
			name: options.routeConfigName,
			virtual_hosts: entries.map(entry => entry.host),
			validate_clusters: false,
			ignore_port_in_host_matching: true,
			max_direct_response_body_size_bytes: maxDirectResponseBody,
		},
		origins: entries.flatMap(entry => entry.comments.map((comment, route) => ({ virtualHost: entry.host.name as string, route, comment }))),
		notes,
	};
}

/** A server host (`ns/host`, `./host`, `*\/host`, `host`) as seen by a VirtualService in `namespace`; undefined when the namespace part excludes it. */
function serverHost(entry: string, namespace: string): string | undefined {
	const slash = entry.indexOf('/');
	if (slash < 0) {
		return entry.toLowerCase();
	}

	const scope = entry.slice(0, slash);
	return scope === '*' || scope === namespace ? entry.slice(slash + 1).toLowerCase() : undefined;
}

/** host.Names Intersection: for each pair that matches, the more specific of the two. */
function intersectHosts(serverHosts: readonly string[], virtualServiceHosts: readonly string[]): string[] {
	const out = new Set<string>();
	for (const a of serverHosts) {
		for (const b of virtualServiceHosts) {
			if (hostMatches(a, b)) {
				out.add(a.startsWith('*') && (!b.startsWith('*') || b.length > a.length) ? b : a);
			}
		}
	}

	return [...out];
}

// --- Routes from one VirtualService (route.go) ---------------------------------------------------------------

/** BuildHTTPRoutesForVirtualService: one route per match (or one without match), stopping after a catch-all. */
function httpRoutesForVirtualService(context: RouteContext): JsonObject[] {
	const out: JsonObject[] = [];
	const spec = context.resource.spec as VirtualServiceResource['spec'] & { readonly tcp?: readonly unknown[]; readonly tls?: readonly unknown[] };
	if ((spec.tcp ?? []).length > 0 || (spec.tls ?? []).length > 0) {
		context.notes.push(`meshbox: ${describe(context.resource)}: tcp and tls routes are not modelled (only http routes become Envoy routes)`);
	}

	for (const http of spec.http ?? []) {
		if ((http as { readonly delegate?: unknown }).delegate !== undefined) {
			// A root VirtualService's delegate: its routes come from another VirtualService (pilot/pkg/model/virtualservice.go mergeVirtualServicesIfNeeded).
			context.notes.push(`meshbox: ${describe(context.resource)}: delegate routes are not modelled; route ${http.name ?? '(unnamed)'} is left out`);
			continue;
		}

		const matches: ReadonlyArray<HttpMatchRequest | undefined> = http.match && http.match.length > 0 ? http.match : [undefined];
		let catchAll = false;
		for (const match of matches) {
			const route = translateRoute(http, match, context);
			if (route) {
				out.push(route);
				if (match === undefined || isCatchAll(route)) {
					catchAll = true;
					break;
				}
			}
		}

		if (catchAll || (http.match ?? []).length === 0) {
			break;
		}
	}

	return out;
}

/** route.go TranslateRoute. */
function translateRoute(http: HttpRoute, match: HttpMatchRequest | undefined, context: RouteContext): JsonObject | undefined {
	if (match?.port !== undefined && match.port !== 0 && match.port !== context.listenerPort) {
		return undefined;
	}

	if (!sourceMatches(match, context)) {
		return undefined;
	}

	const name = (http.name ?? '') + (match?.name ? `.${match.name}` : '');
	const out: JsonObject = {
		...(name ? { name } : {}),
		match: translateMatch(match),
		metadata: { filter_metadata: { istio: { config: `/apis/networking.istio.io/v1/namespaces/${context.resource.namespace}/virtual-service/${context.resource.name}` } } },
	};
	const statPrefix = (match as { readonly statPrefix?: string } | undefined)?.statPrefix;
	if (statPrefix) {
		out.stat_prefix = statPrefix;
	}

	let authority = '';
	if (http.headers) {
		const operations = headerOperations(http.headers);
		Object.assign(out, operations.fields);
		authority = operations.authority;
	}

	if (http.redirect) {
		applyRedirect(out, http, context);
	} else if (http.directResponse) {
		const body = http.directResponse.body;
		out.direct_response = {
			status: http.directResponse.status,
			...(body?.string !== undefined ? { body: { inline_string: body.string } } : {}),
			...(body?.bytes !== undefined ? { body: { inline_bytes: body.bytes } } : {}),
		};
	} else {
		applyDestination(out, http, authority, context);
	}

	out.decorator = { operation: routeOperation(out, context.resource.name, context.listenerPort) };
	const perFilter: JsonObject = {};
	const fault = translateFault(http);
	if (fault) {
		perFilter[faultFilter] = fault;
	}

	if (http.corsPolicy) {
		perFilter[corsFilter] = translateCors(http.corsPolicy);
	}

	if (Object.keys(perFilter).length > 0) {
		out.typed_per_filter_config = perFilter;
	}

	return out;
}

/** route.go sourceMatchHTTP. */
function sourceMatches(match: HttpMatchRequest | undefined, context: RouteContext): boolean {
	if (!match) {
		return true;
	}

	if ((match.gateways ?? []).length > 0) {
		return (match.gateways ?? []).some(name => context.gateways.includes(gatewayReference(name, context.resource.namespace)));
	}

	const labelsMatch = Object.entries(match.sourceLabels ?? {}).every(([key, value]) => context.proxyLabels[key] === value);
	return labelsMatch && (!match.sourceNamespace || match.sourceNamespace === context.proxyNamespace);
}

/** route.go TranslateRouteMatch (sidecar and Istio-Gateway semantics: no path_separated_prefix). */
export function translateMatch(match: HttpMatchRequest | undefined): JsonObject {
	const out: JsonObject = { prefix: '/' };
	if (!match) {
		return out;
	}

	const headers: JsonObject[] = [];
	for (const [name, value] of Object.entries(match.headers ?? {})) {
		headers.push(headerMatcher(name, value));
	}

	for (const [name, value] of Object.entries(match.withoutHeaders ?? {})) {
		const matcher = headerMatcher(name, value);
		matcher.invert_match = true;
		if (!isPresentMatch(value)) {
			// treat_missing_header_as_empty conflicts with present_match.
			matcher.treat_missing_header_as_empty = true;
		}

		headers.push(matcher);
	}

	headers.sort((a, b) => (a.name as string) < (b.name as string) ? -1 : ((a.name as string) > (b.name as string) ? 1 : 0));
	if (match.uri) {
		delete out.prefix;
		if (match.uri.exact !== undefined) {
			out.path = match.uri.exact;
		} else if (match.uri.prefix !== undefined) {
			out.prefix = match.uri.prefix;
		} else if (match.uri.regex !== undefined) {
			out.safe_regex = { regex: match.uri.regex };
		} else {
			out.prefix = '/';
		}
	}

	out.case_sensitive = !match.ignoreUriCase;
	for (const [name, value] of [[':method', match.method], [':authority', match.authority], [':scheme', match.scheme]] as const) {
		if (value) {
			headers.push(headerMatcher(name, value));
		}
	}

	if (headers.length > 0) {
		out.headers = headers;
	}

	// Go iterates the map in random order; meshbox sorts by name so that renders are stable.
	const queryParameters = Object.entries(match.queryParams ?? {}).sort(([a], [b]) => a < b ? -1 : (a > b ? 1 : 0)).map(([name, value]): JsonObject => {
		if (isPresentMatch(value)) {
			return { name, present_match: true };
		}

		const stringMatch = envoyStringMatch(value);
		return stringMatch ? { name, string_match: stringMatch } : { name };
	});
	if (queryParameters.length > 0) {
		out.query_parameters = queryParameters;
	}

	return out;
}

/** route.go canBeConvertedToPresentMatch: no match type, or the regex `*`. */
function isPresentMatch(match: StringMatch | undefined): boolean {
	return !match || (match.exact === undefined && match.prefix === undefined && match.regex === undefined) || match.regex === '*';
}

function headerMatcher(name: string, match: StringMatch | undefined): JsonObject {
	if (isPresentMatch(match)) {
		return { name, present_match: true };
	}

	const stringMatch = envoyStringMatch(match!);
	return stringMatch ? { name, string_match: stringMatch } : { name };
}

/** util.ConvertToEnvoyMatch. */
function envoyStringMatch(match: StringMatch): JsonObject | undefined {
	if (match.exact !== undefined) {
		return { exact: match.exact };
	}

	if (match.prefix !== undefined) {
		return { prefix: match.prefix };
	}

	return match.regex === undefined ? undefined : { safe_regex: { regex: match.regex } };
}

/** route.go applyHTTPRouteDestination. */
function applyDestination(out: JsonObject, http: HttpRoute, headerAuthority: string, context: RouteContext): void {
	const action: JsonObject = {};
	// setTimeout: the VirtualService's timeout, else none (0s); max_grpc_timeout follows it.
	const timeout = http.timeout === undefined ? '0s' : protoDuration(http.timeout);
	action.timeout = timeout;
	let authority = headerAuthority;
	if (http.rewrite) {
		if (http.rewrite.uriRegexRewrite) {
			action.regex_rewrite = { pattern: { regex: http.rewrite.uriRegexRewrite.match }, substitution: http.rewrite.uriRegexRewrite.rewrite };
		} else if (http.rewrite.uri) {
			action.prefix_rewrite = http.rewrite.uri;
		}

		if (http.rewrite.authority) {
			authority = http.rewrite.authority;
		}
	}

	if (authority) {
		action.host_rewrite_literal = authority;
	}

	const mirrors: JsonObject[] = [];
	const mirrorPercentage = (http as { readonly mirrorPercentage?: { readonly value?: number } }).mirrorPercentage;
	if (http.mirror && (mirrorPercentage?.value === undefined || mirrorPercentage.value > 0)) {
		mirrors.push(mirrorPolicy(destinationCluster(http.mirror, context), mirrorPercentage?.value));
	}

	for (const mirror of (http as { readonly mirrors?: ReadonlyArray<{ readonly destination: Destination; readonly percentage?: { readonly value?: number } }> }).mirrors ?? []) {
		if (mirror.percentage?.value === undefined || mirror.percentage.value > 0) {
			mirrors.push(mirrorPolicy(destinationCluster(mirror.destination, context), mirror.percentage?.value));
		}
	}

	if (mirrors.length > 0) {
		action.request_mirror_policies = mirrors;
	}

	const routes = http.route ?? [];
	const hashPolicies: JsonObject[] = [];
	let consistentHash = false;
	if (routes.length === 1) {
		const [target] = routes as [HttpRouteDestination];
		action.cluster = destinationCluster(target.destination, context);
		if (target.headers) {
			const operations = headerOperations(target.headers);
			for (const [key, value] of Object.entries(operations.fields)) {
				out[key] = [...((out[key] as JsonValue[] | undefined) ?? []), ...(value as JsonValue[])];
			}

			if (operations.authority && action.host_rewrite_literal === undefined) {
				action.host_rewrite_literal = operations.authority;
			}
		}

		const hash = context.hashFor(target.destination);
		if (hash) {
			hashPolicies.push(hash);
			consistentHash = true;
		}
	} else {
		const clusters: JsonObject[] = [];
		for (const target of routes) {
			// Zero-weight destinations are left out when there are others.
			if ((target.weight ?? 0) === 0) {
				continue;
			}

			const weighted: JsonObject = { name: destinationCluster(target.destination, context), weight: target.weight ?? 0 };
			if (target.headers) {
				const operations = headerOperations(target.headers);
				Object.assign(weighted, operations.fields);
				if (operations.authority) {
					weighted.host_rewrite_literal = operations.authority;
				}
			}

			const hash = context.hashFor(target.destination);
			if (hash) {
				hashPolicies.push(hash);
			}

			clusters.push(weighted);
		}

		action.weighted_clusters = { clusters };
	}

	if (hashPolicies.length > 0) {
		action.hash_policy = hashPolicies;
	}

	// retry.ConvertPolicy: the VirtualService's, else the mesh default (meshConfig.defaultHttpRetryPolicy unset).
	const retry = retryPolicy(http.retries, consistentHash);
	if (retry) {
		action.retry_policy = retry;
	}

	action.max_grpc_timeout = timeout;
	out.route = action;
}

function mirrorPolicy(cluster: string, percentage: number | undefined): JsonObject {
	return {
		cluster,
		runtime_fraction: {
			default_value: percentage === undefined
				? { numerator: 100, denominator: 'HUNDRED' }
				: { numerator: Math.trunc(percentage * 10_000), denominator: 'MILLION' },
		},
		trace_sampled: false,
	};
}

/** route.go GetDestinationCluster, with the destination host resolved in the VirtualService's namespace. */
function destinationCluster(destination: Destination, context: RouteContext): string {
	if (!destination.host) {
		return 'UnknownService';
	}

	const host = resolveShortname(destination.host.toLowerCase(), context.resource.namespace);
	const service = context.lookupService(host);
	let port = context.listenerPort;
	if (destination.port?.number) {
		port = destination.port.number;
	} else if (service && service.ports.length === 1) {
		port = service.ports[0]!.port;
	}

	return `outbound|${port}|${destination.subset ?? ''}|${host}`;
}

/** retry.go ConvertPolicy (the default when the route has none; none when attempts is 0). */
export function retryPolicy(retries: HttpRoute['retries'], consistentHash: boolean): JsonObject | undefined {
	const base: JsonObject = {
		retry_on: defaultRetryOn,
		num_retries: 2,
		...(consistentHash ? {} : { retry_host_predicate: [previousHosts] }),
		host_selection_retry_max_attempts: '5',
	};
	if (!retries) {
		return base;
	}

	if ((retries.attempts ?? 0) <= 0) {
		return undefined;
	}

	const out: JsonObject = { ...base, num_retries: retries.attempts };
	if (retries.retryOn) {
		// parseRetryOn: status codes go to retriable_status_codes (with retriable-status-codes added to retry_on).
		const parts = retries.retryOn.split(',').map(part => part.trim()).filter(part => part !== '');
		const codes = parts.filter(part => /^\d+$/.test(part) && Number(part) >= 100 && Number(part) <= 599).map(Number);
		let retryOn = parts.filter(part => !(/^\d+$/.test(part) && codes.includes(Number(part)))).join(',');
		if (codes.length > 0 && !retryOn.includes('retriable-status-codes')) {
			retryOn += ',retriable-status-codes';
		}

		out.retry_on = retryOn;
		if (codes.length > 0) {
			out.retriable_status_codes = codes;
		}
	}

	if (retries.perTryTimeout) {
		out.per_try_timeout = protoDuration(retries.perTryTimeout);
	}

	const extra = retries as { readonly retryIgnorePreviousHosts?: boolean; readonly backoff?: string };
	if (extra.retryIgnorePreviousHosts !== undefined) {
		if (extra.retryIgnorePreviousHosts) {
			out.retry_host_predicate = [previousHosts];
		} else {
			delete out.retry_host_predicate;
		}
	}

	if (retries.retryRemoteLocalities) {
		out.retry_priority = {
			name: 'envoy.retry_priorities.previous_priorities',
			typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig', update_frequency: 2 },
		};
	}

	if (extra.backoff) {
		out.retry_back_off = { base_interval: protoDuration(extra.backoff) };
	}

	return out;
}

/** route.go ApplyRedirect. */
function applyRedirect(out: JsonObject, http: HttpRoute, context: RouteContext): void {
	const redirect = http.redirect as NonNullable<HttpRoute['redirect']> & { readonly prefixRewrite?: string };
	const action: JsonObject = {};
	if (redirect.authority) {
		action.host_redirect = redirect.authority;
	}

	if (redirect.prefixRewrite) {
		action.prefix_rewrite = redirect.prefixRewrite;
	} else if (redirect.uri) {
		action.path_redirect = redirect.uri;
	}

	if (redirect.scheme) {
		action.scheme_redirect = redirect.scheme;
	}

	if (redirect.port !== undefined || redirect.derivePort !== undefined) {
		let port = 0;
		if (redirect.derivePort === 'FROM_REQUEST_PORT') {
			port = context.listenerPort;
		} else if (redirect.port !== undefined) {
			port = redirect.port;
		}

		const scheme = redirect.scheme || (context.isTls ? 'https' : 'http');
		if ((port === 80 && scheme === 'http') || (port === 443 && scheme === 'https')) {
			port = 0;
		}

		if (port !== 0) {
			action.port_redirect = port;
		}
	}

	const codes: Readonly<Record<number, string>> = { 0: 'MOVED_PERMANENTLY', 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' };
	const code = codes[redirect.redirectCode ?? 0];
	if (code === undefined) {
		// "Redirect Code %d is not yet supported": istiod leaves the route without an action, which Envoy rejects.
		context.notes.push(`istiod: ${describe(context.resource)}: redirect code ${redirect.redirectCode} is not supported (301, 302, 303, 307, 308); the route has no action and Envoy rejects the route configuration`);
		return;
	}

	if (code !== 'MOVED_PERMANENTLY') {
		action.response_code = code;
	}

	out.redirect = action;
}

/** route.go TranslateFault: an HTTPFault for typed_per_filter_config. */
function translateFault(http: HttpRoute): JsonObject | undefined {
	const fault = http.fault as (HttpRoute['fault'] & { readonly delay?: { readonly percent?: number } }) | undefined;
	if (!fault) {
		return undefined;
	}

	const out: JsonObject = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' };
	if (fault.delay?.fixedDelay) {
		out.delay = {
			fixed_delay: protoDuration(fault.delay.fixedDelay),
			percentage: fault.delay.percentage ? millionths(fault.delay.percentage.value) : { numerator: fault.delay.percent ?? 0, denominator: 'HUNDRED' },
		};
	}

	if (fault.abort && (fault.abort.httpStatus !== undefined || fault.abort.grpcStatus !== undefined)) {
		out.abort = {
			...(fault.abort.percentage ? { percentage: millionths(fault.abort.percentage.value) } : {}),
			...(fault.abort.httpStatus === undefined ? { grpc_status: grpcStatuses.indexOf(fault.abort.grpcStatus ?? '') } : { http_status: fault.abort.httpStatus }),
		};
	}

	return out.delay || out.abort ? out : undefined;
}

/** route.go translatePercentToFractionalPercent. */
function millionths(value: number): JsonObject {
	return { numerator: Math.trunc(value * 10_000), denominator: 'MILLION' };
}

/** route.go TranslateCORSPolicy. */
function translateCors(cors: Readonly<Record<string, unknown>>): JsonObject {
	const list = (value: unknown): string[] => Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
	const origins = Array.isArray(cors.allowOrigins)
		? (cors.allowOrigins as StringMatch[]).map(envoyStringMatch).filter((match): match is JsonObject => match !== undefined)
		: list(cors.allowOrigin).map(origin => ({ exact: origin }));
	return {
		'@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
		allow_origin_string_match: origins,
		allow_methods: list(cors.allowMethods).join(','),
		allow_headers: list(cors.allowHeaders).join(','),
		expose_headers: list(cors.exposeHeaders).join(','),
		...(typeof cors.maxAge === 'string' ? { max_age: String(durationNanos(cors.maxAge) / 1_000_000_000n) } : {}),
		...(typeof cors.allowCredentials === 'boolean' ? { allow_credentials: cors.allowCredentials } : {}),
		forward_not_matching_preflights: cors.unmatchedPreflights !== 'IGNORE',
		filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
	};
}

/** route.go TranslateHeadersOperations: set (overwrite) then add (append), each sorted by name; Host/:authority become a rewrite. */
function headerOperations(headers: Headers): { fields: JsonObject; authority: string } {
	const fields: JsonObject = {};
	let authority = '';
	const toAdd = (operations: HeaderOperations | undefined, request: boolean): JsonObject[] => {
		const out: JsonObject[] = [];
		for (const [operation, action] of [['set', 'OVERWRITE_IF_EXISTS_OR_ADD'], ['add', 'APPEND_IF_EXISTS_OR_ADD']] as const) {
			const entries = Object.entries(operations?.[operation] ?? {}).sort(([a], [b]) => a < b ? -1 : (a > b ? 1 : 0));
			for (const [key, value] of entries) {
				if (isAuthorityHeader(key)) {
					if (request && (operation === 'set' || !authority)) {
						authority = value;
					}

					continue;
				}

				if (key.startsWith(':')) {
					continue;
				}

				out.push({ header: { key, value }, append_action: action });
			}
		}

		return out;
	};

	const requestAdd = toAdd(headers.request, true);
	const responseAdd = toAdd(headers.response, false);
	const requestRemove = (headers.request?.remove ?? []).filter(key => !key.startsWith(':') && key.toLowerCase() !== 'host');
	const responseRemove = (headers.response?.remove ?? []).filter(key => !key.startsWith(':') && key.toLowerCase() !== 'host');
	if (requestAdd.length > 0) {
		fields.request_headers_to_add = requestAdd;
	}

	if (responseAdd.length > 0) {
		fields.response_headers_to_add = responseAdd;
	}

	if (requestRemove.length > 0) {
		fields.request_headers_to_remove = requestRemove;
	}

	if (responseRemove.length > 0) {
		fields.response_headers_to_remove = responseRemove;
	}

	return { fields, authority };
}

function isAuthorityHeader(key: string): boolean {
	return key.toLowerCase() === ':authority' || key.toLowerCase() === 'host';
}

/** route.go GetRouteOperation. */
function routeOperation(route: JsonObject, virtualServiceName: string, port: number): string {
	const match = route.match as JsonObject;
	const path = typeof match.prefix === 'string' ? `${match.prefix}*` : (typeof match.path === 'string' ? match.path : ((match.safe_regex as JsonObject | undefined)?.regex as string | undefined) ?? '/*');
	const cluster = (route.route as JsonObject | undefined)?.cluster;
	const parts = typeof cluster === 'string' ? cluster.split('|') : [];
	if (parts.length === 4 && parts[0] === 'outbound') {
		return `${parts[3]}:${parts[1]}${path}`;
	}

	return `${virtualServiceName}:${port}${path}`;
}

/** route.go IsCatchAllRoute: prefix `/` (or regex `*` / `.*`) without headers or query parameters. */
function isCatchAll(route: JsonObject): boolean {
	const match = route.match as JsonObject | undefined;
	if (!match || match.headers || match.query_parameters || (route as { readonly dynamic_metadata?: unknown }).dynamic_metadata) {
		return false;
	}

	if (match.prefix === '/') {
		return true;
	}

	const regex = (match.safe_regex as JsonObject | undefined)?.regex;
	return regex === '*' || regex === '.*';
}

/** route.go BuildDefaultHTTPOutboundRoute. */
function defaultOutboundRoute(cluster: string, operation: string, hash: JsonObject | undefined): JsonObject {
	return {
		name: 'default',
		match: { prefix: '/' },
		route: {
			cluster,
			timeout: '0s',
			retry_policy: retryPolicy(undefined, false) ?? {},
			...(hash ? { hash_policy: [hash] } : {}),
			max_grpc_timeout: '0s',
		},
		decorator: { operation },
	};
}

/** httproute.go buildCatchAllVirtualHost, REGISTRY_ONLY form (see the note in outboundRouteConfig). */
function blackHoleVirtualHost(): JsonObject {
	return {
		name: 'block_all',
		domains: ['*'],
		routes: [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }],
		include_request_attempt_count: true,
	};
}

/**
 * route.go hashForVirtualService / hashForService: the consistent-hash policy of the destination's DestinationRule
 * (its subset's when it has one, a port-level one for the destination port), as a route hash_policy.
 */
function consistentHashPolicy(destination: Destination, services: readonly MeshService[], destinationRules: readonly DestinationRuleResource[], proxyNamespace: string): JsonObject | undefined {
	const service = services.find(candidate => candidate.hostname.toLowerCase() === destination.host.toLowerCase()
		|| candidate.hostname.toLowerCase() === resolveShortname(destination.host.toLowerCase(), candidate.namespace));
	if (!service) {
		return undefined;
	}

	const rule = destinationRuleFor(service, destinationRules, proxyNamespace);
	if (!rule) {
		return undefined;
	}

	const subset = rule.spec.subsets?.find(candidate => candidate.name === destination.subset);
	const policies = [subset?.trafficPolicy, rule.spec.trafficPolicy];
	for (const policy of policies) {
		const portLevel = policy?.portLevelSettings?.find(setting => setting.port?.number !== undefined && setting.port.number === destination.port?.number);
		const hash = ((portLevel as { readonly loadBalancer?: Readonly<Record<string, unknown>> } | undefined)?.loadBalancer ?? policy?.loadBalancer)?.consistentHash;
		if (hash && typeof hash === 'object') {
			return hashPolicy(hash as Readonly<Record<string, unknown>>);
		}
	}

	return undefined;
}

/** route.go ConsistentHashToHashPolicy. */
function hashPolicy(hash: Readonly<Record<string, unknown>>): JsonObject | undefined {
	if (typeof hash.httpHeaderName === 'string') {
		return { header: { header_name: hash.httpHeaderName } };
	}

	if (hash.httpCookie && typeof hash.httpCookie === 'object') {
		const cookie = hash.httpCookie as { readonly name?: string; readonly path?: string; readonly ttl?: string };
		return { cookie: { name: cookie.name ?? '', ...(cookie.ttl ? { ttl: protoDuration(cookie.ttl) } : {}), ...(cookie.path ? { path: cookie.path } : {}) } };
	}

	if (typeof hash.useSourceIp === 'boolean') {
		return { connection_properties: { source_ip: hash.useSourceIp } };
	}

	return typeof hash.httpQueryParameterName === 'string' ? { query_parameter: { name: hash.httpQueryParameterName } } : undefined;
}

// --- Small helpers -------------------------------------------------------------------------------------------

function isHttp(protocol: string): boolean {
	// protocol.IsHTTPOrSniffed
	return protocol === 'HTTP' || protocol === 'HTTP2' || protocol === 'GRPC';
}

/** A VirtualService's hosts resolved in its namespace (pilot/pkg/model/virtualservice.go resolveVirtualServiceShortnames). */
function resolvedHosts(resource: VirtualServiceResource): string[] {
	return resource.spec.hosts.map(host => resolveShortname(host.toLowerCase(), resource.namespace));
}

function describe(resource: VirtualServiceResource): string {
	return `VirtualService ${resource.namespace}/${resource.name} at ${resource.origin.file}:${resource.origin.line}:${resource.origin.col}`;
}

/** A Go duration string (validated) in proto3 JSON form (`0.500s`), as Envoy reads it. */
export function protoDuration(text: string): string {
	const nanos = durationNanos(text);
	const seconds = nanos / 1_000_000_000n;
	const fraction = nanos % 1_000_000_000n;
	return `${seconds}${fraction === 0n ? '' : `.${fraction.toString().padStart(9, '0').replace(/0+$/, '')}`}s`;
}
