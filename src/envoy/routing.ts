/**
 * Renders RoutingModel (src/config/routing.ts): route configuration, other HTTP filters around the plugins,
 * the apps' clusters, stats_config. Field names follow Envoy 1.40's api/envoy/config/route/v3/route_components.proto,
 * api/envoy/config/metrics/v3/stats.proto and api/envoy/config/route/v3/route_components.proto (FilterConfig).
 */
import { typeUrls } from '../envoy-api/type-urls.ts';
import type { SandboxModel } from '../config/model.ts';
import type { AppModel, RouteModel, RoutingModel } from '../config/routing.ts';
import type { JsonObject } from '../util/json.ts';
import type { Placement, SocketAddress } from './placement.ts';


/**
 * Where an app's port is relative to the default upstream's when the placement does not say (`meshbox render`):
 * `upstream` port + 10 + the app's index, the same ports the upstream container serves them on.
 */
export const appPortOffset = 10;

/** How Envoy reaches `app`: the placement's answer, else next to the default upstream. */
export function appAddress(placement: Placement, model: SandboxModel, app: AppModel): SocketAddress {
	const index = model.routing?.apps.findIndex(entry => entry.name === app.name) ?? 0;
	return placement.appAddress?.(app) ?? { address: placement.upstream.address, port: placement.upstream.port + appPortOffset + index };
}

/** One cluster per app, made by the plain sandbox's cluster factory. */
export function appClusters(model: SandboxModel, placement: Placement, cluster: (name: string, endpoint: SocketAddress, protocol?: 'http2') => JsonObject): JsonObject[] {
	return (model.routing?.apps ?? []).map(app => cluster(app.name, appAddress(placement, model, app), app.protocol));
}

/**
 * The HTTP filter chain without the router: each `httpFilters` entry right before or after the plugin it names
 * (several on one side of a plugin keep their order), the rest after every plugin.
 */
export function httpFilterChain(routing: RoutingModel | undefined, plugins: readonly JsonObject[]): JsonObject[] {
	const filters = routing?.httpFilters ?? [];
	if (filters.length === 0) {
		return [...plugins];
	}

	const entry = (filter: (typeof filters)[number]): JsonObject => ({ name: filter.name, typed_config: filter.typedConfig });
	const chain: JsonObject[] = [];
	for (const plugin of plugins) {
		chain.push(...filters.filter(filter => filter.before === plugin.name).map(entry), plugin, ...filters.filter(filter => filter.after === plugin.name).map(entry));
	}

	chain.push(...filters.filter(filter => filter.before === undefined && filter.after === undefined).map(entry));
	return chain;
}

/**
 * The virtual hosts. Envoy picks a virtual host by the request's host first, then the first matching route in
 * it; to keep "the first route of the list that matches wins" for routes with and without `hosts`, each host
 * named gets a virtual host of its own holding, in list order, its routes and the routes of any host; the `*`
 * virtual host holds the routes of any host. Each ends with the default route to `upstream`.
 */
export function virtualHosts(routing: RoutingModel | undefined, defaultRoute: JsonObject): JsonObject[] {
	const routes = routing?.routes ?? [];
	const anyHost = (route: RouteModel) => route.hosts === undefined || route.hosts.includes('*');
	const hosts = [...new Set(routes.flatMap(route => route.hosts ?? []))].filter(host => host !== '*');
	// Copies, not shared objects: YAML rendering would show shared ones as anchors and aliases.
	return [
		...hosts.map(host => ({
			name: host,
			domains: [host],
			routes: [...routes.filter(route => anyHost(route) || route.hosts?.includes(host)).map(renderRoute), defaultRoute],
		})),
		{ name: 'app', domains: ['*'], routes: [...routes.filter(anyHost).map(renderRoute), defaultRoute] },
	].map(host => structuredClone(host));
}

function renderRoute(route: RouteModel): JsonObject {
	const headers = route.headers.map((header): JsonObject => (header.exact === undefined
		? { name: header.name, present_match: true }
		: { name: header.name, string_match: { exact: header.exact } }));
	return {
		name: route.name,
		match: {
			...(route.path === undefined ? { prefix: route.prefix ?? '/' } : { path: route.path }),
			...(headers.length > 0 ? { headers } : {}),
		},
		route: { cluster: route.app },
		...(route.metadata ? { metadata: { filter_metadata: route.metadata } } : {}),
		...(route.disabled.length > 0
			? { typed_per_filter_config: Object.fromEntries(route.disabled.map(name => [name, { '@type': typeUrls.routeFilterConfig, disabled: true }])) }
			: {}),
	};
}

/** Bootstrap `stats_config` (api/envoy/config/metrics/v3/stats.proto StatsConfig): only when the spec has `stats:`. */
export function statsBootstrap(model: SandboxModel): JsonObject {
	const stats = model.routing?.stats;
	if (!stats) {
		return {};
	}

	return {
		stats_config: {
			...(stats.tags.length > 0 ? {
				stats_tags: stats.tags.map(tag => ({ tag_name: tag.name, ...(tag.regex === undefined ? {} : { regex: tag.regex }), ...(tag.value === undefined ? {} : { fixed_value: tag.value }) })),
			} : {}),
			...(stats.useAllDefaultTags === undefined ? {} : { use_all_default_tags: stats.useAllDefaultTags }),
		},
	};
}
