/**
 * The HTTP side of the Envoy around the plugins (issue #10): named recording apps, virtual hosts and routes
 * (with route metadata and per-route plugin overrides), other HTTP filters around the plugins, and Envoy's
 * stats_config. Spec → model; src/envoy/routing.ts renders it.
 *
 * Every typed_config and every route's metadata is encoded with Envoy 1.40's API here, at resolve time, so that
 * an unknown type or field is a CONFIG_INVALID error naming the meshbox.yaml field (file:line:col), not an
 * xDS error later.
 */
import { MeshboxError } from '../errors.ts';
import type { JsonObject } from '../util/json.ts';
import {
	configError, describeValue, formatPath, isRecord, readBoolean, readInteger, readObject, readString, readStringList, readStringMap,
	type FieldPath, type Locator,
} from './fields.ts';
import { readChunks, readDelay, readProtocol, type AppProtocol, type ChunkModel, type ChunkSpec } from './responses.ts';

// --- Spec: what a user writes --------------------------------------------------------------------------

/** One recording app: what it answers to every request. */
export type AppSpec = {
	/** Default 200. */
	status?: number;
	/** Default `content-type: text/plain`. */
	headers?: Record<string, string>;
	/** Default `Hello from <name>!\n`. */
	body?: string;
	/** Response trailers; with them the app answers chunked. */
	trailers?: Record<string, string>;
	/** Milliseconds the app waits before it answers (after reading the request). Default 0. */
	delayMs?: number;
	/** The body in timed parts instead of `body` (./responses.ts): a plugin's body callbacks see them one by one. */
	chunks?: ChunkSpec[];
	/** `http2`: the app speaks h2c and its cluster HTTP/2 (a gRPC-style service for http_call/grpc_call). Default `http1`. */
	protocol?: AppProtocol;
};

/** What a route matches; every given condition must hold. At most one of `prefix` / `path`; neither: prefix `/`. */
export type RouteMatchSpec = {
	/** Path prefix (`RouteMatch.prefix`). */
	prefix?: string;
	/** Exact path, without the query (`RouteMatch.path`). */
	path?: string;
	/** Request headers: name → exact value, or `true` for "present with any value". */
	headers?: Record<string, string | boolean>;
};

export type RouteSpec = {
	/** `Route.name`: what a plugin reads as `xds.route_name`. Default `route-<index>`. */
	name?: string;
	/** Host names (`VirtualHost.domains`, wildcards as Envoy takes them: `*.example.com`). Default: any host. */
	hosts?: string[];
	match?: RouteMatchSpec;
	/** The app the route sends to: a key of `apps`, or `upstream`. Default `upstream`. */
	app?: string;
	/** Route metadata: filter namespace → Struct (`Route.metadata.filter_metadata`; a plugin reads `xds.route_metadata`). */
	metadata?: Record<string, Record<string, unknown>>;
	/** Per-route overrides by plugin (or `httpFilters` entry) name: `{ disabled: true }` turns it off on this route. */
	plugins?: Record<string, RoutePluginSpec>;
};

export type RoutePluginSpec = {
	/** The filter does not run for requests of this route (`envoy.config.route.v3.FilterConfig.disabled`). */
	disabled?: boolean;
	/** Not supported: Envoy's wasm filter has no per-route configuration (a CONFIG_INVALID error says so). */
	configuration?: unknown;
};

export type HttpFilterSpec = {
	/** The filter's name in the chain (e.g. `envoy.filters.http.lua`). */
	name: string;
	/** The filter's typed_config as Envoy takes it, with its `@type`. */
	typedConfig: Record<string, unknown>;
	/** Put it right before this plugin. */
	before?: string;
	/** Put it right after this plugin. Neither `before` nor `after`: after every plugin (before the router). */
	after?: string;
};

export type StatsSpec = {
	/** `stats_config.stats_tags`: `{ name, regex }` (the regex's first group is removed from the name, its last group is the value) or `{ name, value }`. */
	tags?: Array<{ name: string; regex?: string; value?: string }>;
	/** `stats_config.use_all_default_tags` (Envoy's default: true). */
	useAllDefaultTags?: boolean;
};

export type RoutingSpec = {
	/** Named recording apps besides the default `upstream`, each with its own answer. */
	apps?: Record<string, AppSpec>;
	/** Routes, first match wins; a request no route matches goes to `upstream`. */
	routes?: RouteSpec[];
	/** Other Envoy HTTP filters, placed around the plugins. */
	httpFilters?: HttpFilterSpec[];
	/** Envoy's stats_config: tags extracted from stat names. */
	stats?: StatsSpec;
};

// --- Model ---------------------------------------------------------------------------------------------

export type AppModel = {
	readonly name: string;
	readonly status: number;
	readonly headers: Readonly<Record<string, string>>;
	readonly body: string;
	readonly trailers: Readonly<Record<string, string>>;
	readonly delayMs: number;
	/** Present: the body is sent in these parts (and `body` is empty). */
	readonly chunks?: readonly ChunkModel[];
	/** Present when `http2`; absent: HTTP/1.1. */
	readonly protocol?: 'http2';
};

export type HeaderMatchModel = { readonly name: string; readonly exact?: string };

export type RouteModel = {
	readonly name: string;
	/** Absent: any host. */
	readonly hosts?: readonly string[];
	readonly prefix?: string;
	readonly path?: string;
	readonly headers: readonly HeaderMatchModel[];
	/** `upstream` or an app's name: the cluster of that name. */
	readonly app: string;
	/** `filter_metadata`. */
	readonly metadata?: JsonObject;
	/** Filter names turned off on this route. */
	readonly disabled: readonly string[];
};

export type HttpFilterModel = {
	readonly name: string;
	readonly typedConfig: JsonObject;
	readonly before?: string;
	readonly after?: string;
};

export type StatsTagModel = { readonly name: string; readonly regex?: string; readonly value?: string };

export type StatsModel = { readonly tags: readonly StatsTagModel[]; readonly useAllDefaultTags?: boolean };

export type RoutingModel = {
	readonly apps: readonly AppModel[];
	readonly routes: readonly RouteModel[];
	readonly httpFilters: readonly HttpFilterModel[];
	readonly stats?: StatsModel;
};

/** The top-level fields this module reads. */
export const routingFields: readonly string[] = ['apps', 'routes', 'httpFilters', 'stats'];

/** The app every request goes to when no route says otherwise (the spec's `upstream:`). */
export const defaultAppName = 'upstream';

const appFields = ['status', 'headers', 'body', 'trailers', 'delayMs', 'chunks', 'protocol'] as const;
const routeFields = ['name', 'hosts', 'match', 'app', 'metadata', 'plugins'] as const;
const matchFields = ['prefix', 'path', 'headers'] as const;
const routePluginFields = ['disabled', 'configuration'] as const;
const httpFilterFields = ['name', 'typedConfig', 'before', 'after'] as const;
const statsFields = ['tags', 'useAllDefaultTags'] as const;
const tagFields = ['name', 'regex', 'value'] as const;

/** App names are cluster names (what a plugin reads as `xds.cluster_name`). */
const appNamePattern = /^[\w.-]+$/;

/** What the rest of the spec names, for cross-checks: the plugins' names (in order) and the extra clusters'. */
/** Throws a MeshboxError naming the field path (`where` first) when Envoy's API refuses `typedConfig`. */
export type TypedConfigCheck = (typedConfig: Record<string, unknown>, where: string) => void;

export type RoutingContext = {
	readonly plugins: readonly string[];
	readonly clusters: readonly string[];
	/** Checks a typed_config against Envoy's API (ResolveOptions.checkTypedConfig); absent: not checked here. */
	readonly checkTypedConfig?: TypedConfigCheck;
};

export function resolveRouting(spec: Readonly<Record<string, unknown>>, locate: Locator, _baseDir: string, context: RoutingContext = { plugins: [], clusters: [] }): RoutingModel | undefined {
	if (routingFields.every(field => spec[field] === undefined)) {
		return undefined;
	}

	const apps = spec.apps === undefined ? [] : resolveApps(spec.apps, locate, context);
	const httpFilters = spec.httpFilters === undefined ? [] : resolveHttpFilters(spec.httpFilters, locate, context);
	const filterNames = [...context.plugins, ...httpFilters.map(filter => filter.name)];
	const routes = spec.routes === undefined ? [] : resolveRoutes(spec.routes, locate, [defaultAppName, ...apps.map(app => app.name)], filterNames, context.plugins);
	return {
		apps,
		routes,
		httpFilters,
		...(spec.stats === undefined ? {} : { stats: resolveStats(spec.stats, locate) }),
	};
}

function resolveApps(value: unknown, locate: Locator, context: RoutingContext): AppModel[] {
	if (!isRecord(value)) {
		throw configError(locate, ['apps'], `expected a map of app names to their answers, found ${describeValue(value)}`, 'e.g. apps: { canary: { body: "canary\\n" } }');
	}

	return Object.entries(value).map(([name, entry]) => {
		const at: FieldPath = ['apps', name];
		if (name === defaultAppName) {
			throw configError(locate, at, '"upstream" is the default app, set by the top-level `upstream:`', 'give its answer under `upstream:`, or choose another name');
		}

		if (!appNamePattern.test(name)) {
			throw configError(locate, at, `"${name}" is not a usable app name`, 'use letters, digits and . _ - (the name is the app\'s Envoy cluster)');
		}

		if (context.clusters.includes(name)) {
			throw configError(locate, at, `"${name}" is also a cluster under \`clusters:\`; an app is a cluster of the same name`, 'give the app or the cluster another name');
		}

		const fields = entry === null || entry === undefined ? {} : readObject(entry, at, locate, appFields);
		const chunks = fields.chunks === undefined ? undefined : readChunks(fields.chunks, at, locate, fields.body !== undefined);
		const protocol = fields.protocol === undefined ? 'http1' : readProtocol(fields.protocol, [...at, 'protocol'], locate);
		return {
			name,
			status: fields.status === undefined ? 200 : readInteger(fields.status, [...at, 'status'], locate, 200, 599),
			headers: fields.headers === undefined ? { 'content-type': 'text/plain' } : readStringMap(fields.headers, [...at, 'headers'], locate),
			body: chunks ? '' : fields.body === undefined ? `Hello from ${name}!\n` : readString(fields.body, [...at, 'body'], locate),
			trailers: fields.trailers === undefined ? {} : readStringMap(fields.trailers, [...at, 'trailers'], locate),
			delayMs: fields.delayMs === undefined ? 0 : readDelay(fields.delayMs, [...at, 'delayMs'], locate),
			...(chunks ? { chunks } : {}),
			...(protocol === 'http2' ? { protocol } : {}),
		};
	});
}

function resolveRoutes(value: unknown, locate: Locator, appNames: readonly string[], filterNames: readonly string[], pluginNames: readonly string[]): RouteModel[] {
	if (!Array.isArray(value)) {
		throw configError(locate, ['routes'], `expected a list of routes, found ${describeValue(value)}`, 'e.g. routes: [{ match: { prefix: /v2 }, app: canary }]');
	}

	const names = new Set<string>();
	return value.map((entry, index) => {
		const at: FieldPath = ['routes', index];
		const fields = readObject(entry, at, locate, routeFields);
		const name = fields.name === undefined ? `route-${index}` : readString(fields.name, [...at, 'name'], locate);
		if (names.has(name)) {
			throw configError(locate, [...at, 'name'], `route name "${name}" is used twice`, 'give each route its own name');
		}

		names.add(name);
		const hosts = fields.hosts === undefined ? undefined : readStringList(fields.hosts, [...at, 'hosts'], locate);
		if (hosts?.length === 0) {
			throw configError(locate, [...at, 'hosts'], 'empty list of hosts', 'leave `hosts` out for a route of any host');
		}

		const app = fields.app === undefined ? defaultAppName : readString(fields.app, [...at, 'app'], locate);
		if (!appNames.includes(app)) {
			throw configError(locate, [...at, 'app'], `no app named "${app}"`, `the apps are: ${appNames.join(', ')} (add it under \`apps:\`)`);
		}

		return {
			name,
			...(hosts ? { hosts } : {}),
			...resolveMatch(fields.match, [...at, 'match'], locate),
			app,
			...(fields.metadata === undefined ? {} : { metadata: resolveMetadata(fields.metadata, [...at, 'metadata'], locate) }),
			disabled: fields.plugins === undefined ? [] : resolveRoutePlugins(fields.plugins, [...at, 'plugins'], locate, filterNames, pluginNames),
		};
	});
}

function resolveMatch(value: unknown, at: FieldPath, locate: Locator): Pick<RouteModel, 'prefix' | 'path' | 'headers'> {
	if (value === undefined) {
		return { headers: [] };
	}

	const fields = readObject(value, at, locate, matchFields);
	if (fields.prefix !== undefined && fields.path !== undefined) {
		throw configError(locate, [...at, 'path'], 'give `prefix` or `path`, not both', 'Envoy matches a route by one path rule');
	}

	const readPath = (field: 'prefix' | 'path') => {
		const text = readString(fields[field], [...at, field], locate);
		if (!text.startsWith('/')) {
			throw configError(locate, [...at, field], `expected a path starting with "/", found ${describeValue(text)}`);
		}

		return text;
	};

	const headers: HeaderMatchModel[] = [];
	if (fields.headers !== undefined) {
		if (!isRecord(fields.headers)) {
			throw configError(locate, [...at, 'headers'], `expected a map of header names to values (or true: present), found ${describeValue(fields.headers)}`);
		}

		for (const [name, expected] of Object.entries(fields.headers)) {
			if (expected === true) {
				headers.push({ name: name.toLowerCase() });
			} else if (typeof expected === 'string') {
				headers.push({ name: name.toLowerCase(), exact: expected });
			} else {
				throw configError(locate, [...at, 'headers', name], `expected the header's exact value, or true (present with any value), found ${describeValue(expected)}`);
			}
		}
	}

	return {
		...(fields.prefix === undefined ? {} : { prefix: readPath('prefix') }),
		...(fields.path === undefined ? {} : { path: readPath('path') }),
		headers,
	};
}

function resolveMetadata(value: unknown, at: FieldPath, locate: Locator): JsonObject {
	if (!isRecord(value) || Object.values(value).some(entry => !isRecord(entry))) {
		throw configError(locate, at, 'expected a map of filter namespaces to maps (Route.metadata.filter_metadata)', 'e.g. metadata: { meshbox: { tier: gold } }; a plugin reads it at xds.route_metadata.filter_metadata.meshbox.tier');
	}

	// A JSON round trip keeps exactly what a Struct can hold.
	return JSON.parse(JSON.stringify(value)) as JsonObject;
}

function resolveRoutePlugins(value: unknown, at: FieldPath, locate: Locator, filterNames: readonly string[], pluginNames: readonly string[]): string[] {
	if (!isRecord(value)) {
		throw configError(locate, at, `expected a map of plugin names to overrides, found ${describeValue(value)}`, 'e.g. plugins: { auth: { disabled: true } }');
	}

	const disabled: string[] = [];
	for (const [name, entry] of Object.entries(value)) {
		const entryAt = [...at, name];
		if (!filterNames.includes(name)) {
			throw configError(locate, entryAt, `no plugin or httpFilters entry named "${name}"`, `the filters are: ${filterNames.join(', ') || '(none)'}`);
		}

		const fields = readObject(entry, entryAt, locate, routePluginFields);
		if (fields.configuration !== undefined) {
			// api/envoy/extensions/filters/http/wasm/v3/wasm.proto (Envoy 1.40) has no per-route message: the filter
			// ignores typed_per_filter_config other than the generic FilterConfig.
			throw configError(locate, [...entryAt, 'configuration'], pluginNames.includes(name)
				? 'Envoy\'s wasm filter (1.40) has no per-route configuration'
				: 'a per-route configuration of an httpFilters entry is not supported here',
			'give the route a `metadata:` value and let the plugin read it (xds.route_metadata), or disable the plugin on this route ({ disabled: true })');
		}

		if (fields.disabled !== undefined && readBoolean(fields.disabled, [...entryAt, 'disabled'], locate)) {
			disabled.push(name);
		}
	}

	return disabled;
}

function resolveHttpFilters(value: unknown, locate: Locator, context: RoutingContext): HttpFilterModel[] {
	if (!Array.isArray(value)) {
		throw configError(locate, ['httpFilters'], `expected a list of filters, found ${describeValue(value)}`,
			'e.g. httpFilters: [{ name: envoy.filters.http.lua, typedConfig: { "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua, … }, before: my-plugin }]');
	}

	const names = new Set<string>(context.plugins);
	return value.map((entry, index) => {
		const at: FieldPath = ['httpFilters', index];
		const fields = readObject(entry, at, locate, httpFilterFields);
		if (fields.name === undefined || fields.typedConfig === undefined) {
			throw configError(locate, at, `missing \`${fields.name === undefined ? 'name' : 'typedConfig'}\``, 'each filter needs `name` and `typedConfig` (with its "@type")');
		}

		const name = readString(fields.name, [...at, 'name'], locate);
		if (names.has(name) || name === 'envoy.filters.http.router') {
			throw configError(locate, [...at, 'name'], `filter name "${name}" is already in the chain`, 'filter names in one chain must differ: add a suffix, e.g. envoy.filters.http.lua.2');
		}

		names.add(name);
		if (fields.before !== undefined && fields.after !== undefined) {
			throw configError(locate, [...at, 'after'], 'give `before` or `after`, not both');
		}

		const anchor = (field: 'before' | 'after') => {
			const plugin = readString(fields[field], [...at, field], locate);
			if (!context.plugins.includes(plugin)) {
				throw configError(locate, [...at, field], `no plugin named "${plugin}"`, `the plugins are: ${context.plugins.join(', ') || '(none)'}`);
			}

			return plugin;
		};

		const typedConfig = checkTypedConfig(fields.typedConfig, [...at, 'typedConfig'], locate, context.checkTypedConfig);
		return {
			name,
			typedConfig,
			...(fields.before === undefined ? {} : { before: anchor('before') }),
			...(fields.after === undefined ? {} : { after: anchor('after') }),
		};
	});
}

/** Encodes a typed_config with Envoy's API: an unknown type or field is an error at its meshbox.yaml field. */
function checkTypedConfig(value: unknown, at: FieldPath, locate: Locator, check: TypedConfigCheck | undefined): JsonObject {
	if (!isRecord(value) || typeof value['@type'] !== 'string') {
		throw configError(locate, at, isRecord(value) ? 'missing "@type"' : `expected an object with "@type", found ${describeValue(value)}`,
			'give the message type, e.g. "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua');
	}

	try {
		check?.(value, formatPath(at));
	} catch (error) {
		if (error instanceof MeshboxError) {
			const where = locate(deepestField(at, error.message)) ?? locate(at);
			throw new MeshboxError('CONFIG_INVALID', `${where ? `${where}: ` : ''}${error.message}`, error.hint ?? 'names as in Envoy\'s API reference');
		}

		throw error;
	}

	return JSON.parse(JSON.stringify(value)) as JsonObject;
}

/**
 * The field an encoder error names (its message starts with `<at>.field[0].sub: …`), as a FieldPath, so that the
 * error points at that line of meshbox.yaml; the nearest enclosing field the locator knows is used.
 */
function deepestField(at: FieldPath, message: string): FieldPath {
	const prefix = formatPath(at);
	const named = message.startsWith(prefix) ? message.slice(prefix.length).split(': ')[0] ?? '' : '';
	const parts: Array<string | number> = [];
	for (const match of named.matchAll(/\.([^.[\]]+)|\[([^\]]+)\]/g)) {
		const key = match[1] ?? match[2]!;
		parts.push(match[2] !== undefined && /^\d+$/.test(key) ? Number(key) : key);
	}

	return [...at, ...parts];
}

function resolveStats(value: unknown, locate: Locator): StatsModel {
	const fields = readObject(value, ['stats'], locate, statsFields);
	const tags: StatsTagModel[] = [];
	if (fields.tags !== undefined) {
		if (!Array.isArray(fields.tags)) {
			throw configError(locate, ['stats', 'tags'], `expected a list of tags, found ${describeValue(fields.tags)}`, 'e.g. tags: [{ name: plugin, regex: "^wasmcustom\\\\.((\\\\w+?)_)" }]');
		}

		for (const [index, entry] of fields.tags.entries()) {
			const at: FieldPath = ['stats', 'tags', index];
			const tag = readObject(entry, at, locate, tagFields);
			if (tag.name === undefined || (tag.regex === undefined) === (tag.value === undefined)) {
				throw configError(locate, at, tag.name === undefined ? 'missing `name`' : 'give `regex` or `value` (one of them)',
					'a tag is { name, regex } (extracted from stat names) or { name, value } (a fixed value on every stat)');
			}

			const regex = tag.regex === undefined ? undefined : readString(tag.regex, [...at, 'regex'], locate);
			if (regex !== undefined) {
				checkRegex(regex, [...at, 'regex'], locate);
			}

			tags.push({
				name: readString(tag.name, [...at, 'name'], locate),
				...(regex === undefined ? {} : { regex }),
				...(tag.value === undefined ? {} : { value: readString(tag.value, [...at, 'value'], locate) }),
			});
		}
	}

	return {
		tags,
		...(fields.useAllDefaultTags === undefined ? {} : { useAllDefaultTags: readBoolean(fields.useAllDefaultTags, ['stats', 'useAllDefaultTags'], locate) }),
	};
}

/** Envoy (RE2) refuses a tag regex without a capture group at start-up; say so at the field instead. */
function checkRegex(regex: string, at: FieldPath, locate: Locator): void {
	let groups: number;
	try {
		groups = new RegExp(`${regex}|`).exec('')!.length - 1;
	} catch (error) {
		throw configError(locate, at, `not a regular expression: ${(error as Error).message}`);
	}

	if (groups < 1) {
		// source/common/stats/tag_extractor_impl.cc: the first group is removed from the name, the last is the value.
		throw configError(locate, at, 'the regex needs a capture group: the first group is removed from the stat name, the last one is the tag\'s value',
			'e.g. "^wasmcustom\\\\.(plugin_(\\\\w+?)_)" on wasmcustom.plugin_auth_requests gives requests{name="auth"}');
	}
}
