/**
 * Sandbox spec → SandboxModel: checks every field, fills in defaults, resolves and pre-flights the
 * plugins' wasm files. The spec may come from `meshbox.yaml` (with a Locator for file:line:col) or from
 * `startSandbox()` in a scenario (JavaScript callers get the same checks as YAML authors).
 */
import path from 'node:path';
import { readChunks, readDelay, readProtocol } from './responses.ts';
import type { BuildModel, ClusterModel, EnvoyModel, NodeModel, PluginModel, SandboxModel, UpstreamModel } from './model.ts';
import type { JsonObject } from '../util/json.ts';
import { logLevels, type LogLevel } from './spec.ts';
import { inspectWasmFile } from './wasm-module.ts';
import { listenersFields, resolveListeners } from './listeners.ts';
import { resolvePatches } from './patches.ts';
import { resolveRouting, routingFields, type TypedConfigCheck } from './routing.ts';
import { MeshboxError } from '../errors.ts';
import {
	configError, describeValue, formatPath, isRecord, noLocation, readBoolean, readInteger, readObject, readOneOf, readPort, readString,
	readStringList, readStringMap, type FieldPath, type Locator,
} from './fields.ts';

/** A plugin given on the command line (`--plugin [NAME=]FILE`); it replaces the spec's plugins. */
export type PluginOverride = {
	/** Default: the wasm file's base name. */
	readonly name?: string;
	/** Relative to the working directory. */
	readonly wasm: string;
	/** Where the value came from, for errors: e.g. `--plugin #2 (main.wasm)`. */
	readonly source: string;
};

export type ResolveOptions = {
	/** Relative wasm paths are resolved against this directory. */
	baseDir: string;
	locate?: Locator;
	/** Command-line overrides, applied after the spec is read (they win). */
	overrides?: {
		port?: number;
		adminPort?: number;
		/** Replace the spec's plugins with these (`--plugin`). */
		plugins?: readonly PluginOverride[];
		/** `--envoy-version`. */
		envoyVersion?: string;
	};
	/**
	 * Values for fields that neither the spec nor an override sets. The listener port is the one that differs:
	 * `meshbox up` listens on 10000 unless told otherwise, a scenario on a free port. Applied here, where
	 * "unset" and an explicit `port: 0` (any free port) can still be told apart.
	 */
	defaults?: {
		port?: number;
	};
	/**
	 * Top-level fields a later stage reads (src/compose passes Istio's `workload` and `istio`): allowed here,
	 * handed on as written in `ResolvedSpec.extensions`.
	 */
	extensionFields?: readonly string[];
	/**
	 * Checks a typed_config (`httpFilters`) against Envoy's API, so an unknown type or field is an error at its
	 * line. src/compose passes the xDS encoder's check; config itself knows no Envoy schema.
	 */
	checkTypedConfig?: TypedConfigCheck;
};

/** The plain sandbox, and the extension fields the spec set (raw), for the stage that reads them. */
export type ResolvedSpec = {
	readonly model: SandboxModel;
	readonly extensions: Readonly<Record<string, unknown>>;
	/** Where fields are in the spec's file (for the extension's errors). */
	readonly locate: Locator;
	/** Whether the spec set Envoy's log levels itself (an extension's defaults must not override them). */
	readonly logLevelsGiven: boolean;
	/** The directory relative paths in the spec are resolved against. */
	readonly baseDir: string;
};

const sandboxFields = ['upstream', 'node', 'plugins', 'clusters', 'port', 'adminPort', 'envoy', 'envoyVersion', ...routingFields, ...listenersFields] as const;
const nodeFields = ['id', 'cluster', 'metadata'] as const;
const upstreamFields = ['status', 'headers', 'body', 'trailers', 'delayMs', 'chunks'] as const;
const clusterFields = ['address', 'protocol'] as const;
const pluginFields = ['name', 'wasm', 'rootId', 'vmId', 'configuration', 'vmConfiguration', 'failOpen', 'env', 'hostEnv', 'build'] as const;
const buildFields = ['command', 'cwd', 'watch'] as const;
const envoyFields = ['logLevel', 'componentLogLevels', 'concurrency', 'version', 'patches'] as const;

/** Envoy's default, plus wasm at debug: the plugin logs authors ask for first. */
const defaultComponentLogLevels: Readonly<Record<string, LogLevel>> = { wasm: 'debug' };

/** Plugin (and cluster) names: see isUsablePluginName. */
const pluginNamePattern = /^[\w./@-]+$/;

export async function resolveSpec(input: unknown, options: ResolveOptions): Promise<ResolvedSpec> {
	const locate = options.locate ?? noLocation;
	const extensionFields = options.extensionFields ?? [];
	const spec = readObject(input ?? {}, [], locate, [...sandboxFields, ...extensionFields]);
	const overrides = options.overrides ?? {};

	const pluginInputs: PluginInput[] = overrides.plugins
		? overrides.plugins.map(flag => ({
			value: flag.name === undefined ? { wasm: flag.wasm } : { name: flag.name, wasm: flag.wasm },
			origin: { kind: 'flag', source: flag.source, wasm: flag.wasm },
			baseDir: process.cwd(),
		}))
		: readPluginList(spec.plugins, locate).map((value, index) => ({ value, origin: { kind: 'spec', path: ['plugins', index] }, baseDir: options.baseDir }));

	const plugins: PluginModel[] = [];
	for (const pluginInput of pluginInputs) {
		plugins.push(await resolvePlugin(pluginInput, locate));
	}

	const seen = new Map<string, PluginInput>();
	for (const [index, plugin] of plugins.entries()) {
		const pluginInput = pluginInputs[index]!;
		const earlier = seen.get(plugin.name);
		if (earlier) {
			throw pluginError(pluginInput, locate, [], `plugin name "${plugin.name}" is used twice (also ${describeOrigin(earlier)})`,
				pluginInput.origin.kind === 'flag'
					? `name them on the command line: --plugin NAME=FILE, e.g. --plugin ${plugin.name}-${index + 1}=${pluginInput.origin.wasm}`
					: 'give each plugin its own `name`: names tell their logs and stats apart');
		}

		seen.set(plugin.name, pluginInput);
	}

	const model: SandboxModel = {
		upstream: resolveUpstream(spec.upstream, locate),
		node: resolveNode(spec.node, locate),
		plugins,
		clusters: resolveClusters(spec.clusters, locate),
		port: overrides.port ?? (spec.port === undefined ? options.defaults?.port ?? 0 : readPort(spec.port, ['port'], locate)),
		adminPort: overrides.adminPort ?? (spec.adminPort === undefined ? 0 : readPort(spec.adminPort, ['adminPort'], locate)),
		envoy: { ...resolveEnvoy(spec.envoy, locate), ...resolveEnvoyVersion(spec, overrides.envoyVersion, locate) },
		...optional('routing', resolveRouting(spec, locate, options.baseDir, { plugins: plugins.map(plugin => plugin.name), clusters: isRecord(spec.clusters) ? Object.keys(spec.clusters) : [], checkTypedConfig: options.checkTypedConfig })),
		...optional('listeners', await resolveListeners(spec, locate, options.baseDir,
			async (value, fieldPath) => resolvePlugin({ value, origin: { kind: 'spec', path: fieldPath }, baseDir: options.baseDir }, locate), plugins.map(plugin => plugin.name))),
		...optional('patches', resolvePatches(isRecord(spec.envoy) ? spec.envoy.patches : undefined, locate, options.checkTypedConfig)),
	};
	const extensions = Object.fromEntries(extensionFields.filter(field => spec[field] !== undefined).map(field => [field, spec[field]]));
	const logLevelsGiven = isRecord(spec.envoy) && (spec.envoy.logLevel !== undefined || spec.envoy.componentLogLevels !== undefined);
	return { model, extensions, locate, logLevelsGiven, baseDir: options.baseDir };
}

function readPluginList(value: unknown, locate: Locator): unknown[] {
	if (value === undefined) {
		return [];
	}

	if (!Array.isArray(value)) {
		throw configError(locate, ['plugins'], 'expected a list of plugins (each a wasm path, or an object with `wasm:`)');
	}

	return value;
}

/** One plugin entry and where it came from: a spec's `plugins[i]`, or a `--plugin` flag (errors name the flag, not the spec). */
type PluginInput = {
	readonly value: unknown;
	readonly origin: { readonly kind: 'spec'; readonly path: FieldPath } | { readonly kind: 'flag'; readonly source: string; readonly wasm: string };
	/** Relative wasm paths are relative to this. */
	readonly baseDir: string;
};

function describeOrigin(pluginInput: PluginInput): string {
	return pluginInput.origin.kind === 'flag' ? pluginInput.origin.source : formatPath(pluginInput.origin.path);
}

/** An error about a plugin entry: at file:line:col of the spec field, or naming the command-line flag (a usage error). */
function pluginError(pluginInput: PluginInput, locate: Locator, field: FieldPath, problem: string, hint?: string): MeshboxError {
	return pluginInput.origin.kind === 'flag'
		? new MeshboxError('USAGE', `${pluginInput.origin.source}: ${problem}`, hint)
		: configError(locate, [...pluginInput.origin.path, ...field], problem, hint);
}

/** Plugin names appear in Envoy's log prefix (`wasm log <name> <root_id> <vm_id>: …`), split on spaces. */
export function isUsablePluginName(name: string): boolean {
	return pluginNamePattern.test(name);
}

async function resolvePlugin(pluginInput: PluginInput, locate: Locator): Promise<PluginModel> {
	const { value, origin, baseDir } = pluginInput;
	const fieldPath = origin.kind === 'spec' ? origin.path : [];
	const fields = typeof value === 'string' ? { wasm: value } : readObject(value, fieldPath, locate, pluginFields);
	if (fields.wasm === undefined) {
		throw configError(locate, fieldPath, 'missing `wasm`: the path of the plugin\'s .wasm file');
	}

	const wasmPath = path.resolve(baseDir, readString(fields.wasm, [...fieldPath, 'wasm'], locate));
	const name = fields.name === undefined
		? path.basename(wasmPath).replace(/\.wasm$/, '')
		: readString(fields.name, [...fieldPath, 'name'], locate);
	if (!isUsablePluginName(name)) {
		throw pluginError(pluginInput, locate, ['name'], `"${name}" is not a usable plugin name${fields.name === undefined ? ' (the file\'s base name)' : ''}`,
			origin.kind === 'flag'
				? `name it: --plugin NAME=${origin.wasm}, NAME of letters, digits and . _ - / @ (no spaces: Envoy puts the name in every log line)`
				: 'use letters, digits and . _ - / @ (no spaces: Envoy puts the name in every log line)');
	}

	const env = fields.env === undefined ? {} : readStringMap(fields.env, [...fieldPath, 'env'], locate);
	const hostEnv = fields.hostEnv === undefined ? [] : readStringList(fields.hostEnv, [...fieldPath, 'hostEnv'], locate);
	for (const key of hostEnv) {
		if (Object.hasOwn(env, key) || hostEnv.indexOf(key) !== hostEnv.lastIndexOf(key)) {
			// Envoy refuses the whole config for this (source/extensions/common/wasm/wasm.cc, "Key … is duplicated").
			throw configError(locate, [...fieldPath, 'hostEnv'], `environment variable ${key} is given twice`,
				'each variable may come from `env` or `hostEnv`, once');
		}
	}

	// Messages about the wasm file say where it was named: the flag, or the spec's file:line:col.
	const where = origin.kind === 'flag' ? origin.source : locate([...fieldPath, 'wasm']);
	const label = where ? `${where}: plugin "${name}"` : `plugin "${name}"`;
	return {
		name,
		rootId: fields.rootId === undefined ? '' : readString(fields.rootId, [...fieldPath, 'rootId'], locate),
		vmId: fields.vmId === undefined ? '' : readString(fields.vmId, [...fieldPath, 'vmId'], locate),
		wasmPath,
		module: await inspectWasmFile(wasmPath, label),
		configuration: encodeConfiguration(fields.configuration),
		vmConfiguration: encodeConfiguration(fields.vmConfiguration),
		failOpen: fields.failOpen === undefined ? false : readBoolean(fields.failOpen, [...fieldPath, 'failOpen'], locate),
		env,
		hostEnv,
		...(fields.build === undefined ? {} : { build: resolveBuild(fields.build, [...fieldPath, 'build'], locate, baseDir) }),
	};
}

function resolveBuild(value: unknown, fieldPath: FieldPath, locate: Locator, baseDir: string): BuildModel {
	const fields = typeof value === 'string' || Array.isArray(value) ? { command: value } : readObject(value, fieldPath, locate, buildFields);
	const commandPath = typeof value === 'string' || Array.isArray(value) ? fieldPath : [...fieldPath, 'command'];
	// A string is split at whitespace, never given to a shell: for pipes or `&&`, point it at a script.
	const command = typeof fields.command === 'string' ? fields.command.trim().split(/\s+/).filter(Boolean) : readStringList(fields.command, commandPath, locate);
	if (command.length === 0) {
		throw configError(locate, commandPath, 'empty build command', 'give the command that builds the .wasm, e.g. build: cargo build --release --target wasm32-unknown-unknown');
	}

	const cwd = path.resolve(baseDir, fields.cwd === undefined ? '.' : readString(fields.cwd, [...fieldPath, 'cwd'], locate));
	const watch = fields.watch === undefined ? [cwd] : readStringList(fields.watch, [...fieldPath, 'watch'], locate).map(entry => path.resolve(cwd, entry));
	return { command, cwd, watch };
}

/** The hello-world app's default answer. */
export const defaultUpstream: UpstreamModel = { status: 200, headers: { 'content-type': 'text/plain' }, body: 'Hello, world!\n', trailers: {} };

/** The app's answer (`upstream:`, and a mesh workload's `app:` at `at`). */
export function resolveUpstream(value: unknown, locate: Locator, at: FieldPath = ['upstream']): UpstreamModel {
	if (value === undefined) {
		return defaultUpstream;
	}

	const fields = readObject(value, at, locate, upstreamFields);
	const chunks = fields.chunks === undefined ? undefined : readChunks(fields.chunks, at, locate, fields.body !== undefined);
	return {
		status: fields.status === undefined ? defaultUpstream.status : readInteger(fields.status, [...at, 'status'], locate, 200, 599),
		headers: fields.headers === undefined ? defaultUpstream.headers : readStringMap(fields.headers, [...at, 'headers'], locate),
		body: chunks ? '' : fields.body === undefined ? defaultUpstream.body : readString(fields.body, [...at, 'body'], locate),
		trailers: fields.trailers === undefined ? {} : readStringMap(fields.trailers, [...at, 'trailers'], locate),
		// Only when given, so a sandbox without them has the model (and the docker env) it had before.
		...(fields.delayMs === undefined ? {} : { delayMs: readDelay(fields.delayMs, [...at, 'delayMs'], locate) }),
		...(chunks ? { chunks } : {}),
	};
}

function resolveNode(value: unknown, locate: Locator): NodeModel {
	const fields = value === undefined ? {} : readObject(value, ['node'], locate, nodeFields);
	if (fields.metadata !== undefined && !isRecord(fields.metadata)) {
		throw configError(locate, ['node', 'metadata'], 'expected a map (Envoy node metadata is a protobuf Struct)');
	}

	return {
		id: fields.id === undefined ? 'meshbox' : readString(fields.id, ['node', 'id'], locate),
		cluster: fields.cluster === undefined ? 'meshbox' : readString(fields.cluster, ['node', 'cluster'], locate),
		// A JSON round trip keeps exactly what a Struct can hold (no undefined, functions or dates).
		metadata: (fields.metadata === undefined ? {} : JSON.parse(JSON.stringify(fields.metadata))) as JsonObject,
	};
}

/** The cluster every request is routed to; plugins' own clusters need other names. */
const reservedClusterNames: readonly string[] = ['upstream'];

function resolveClusters(value: unknown, locate: Locator): ClusterModel[] {
	if (value === undefined) {
		return [];
	}

	if (!isRecord(value)) {
		throw configError(locate, ['clusters'], `expected a map of cluster names to HOST:PORT, found ${describeValue(value)}`, 'e.g. clusters: { authz: 127.0.0.1:9000 }');
	}

	return Object.entries(value).map(([name, entry]) => {
		if (reservedClusterNames.includes(name) || !pluginNamePattern.test(name)) {
			throw configError(locate, ['clusters', name], reservedClusterNames.includes(name)
				? `"${name}" is the name of the cluster behind the listener` : `"${name}" is not a usable cluster name`,
			'choose another name (letters, digits and . _ - / @), and use that name in the plugin\'s http_call');
		}

		// A string is the address of an HTTP/1.1 service; an object also says the protocol (`http2`: h2c, gRPC).
		const at: FieldPath = typeof entry === 'string' ? ['clusters', name] : ['clusters', name, 'address'];
		const fields = typeof entry === 'string' ? { address: entry } : readObject(entry, ['clusters', name], locate, clusterFields);
		if (fields.address === undefined) {
			throw configError(locate, at, 'missing: the service\'s HOST:PORT', 'e.g. clusters: { grpc: { address: 127.0.0.1:9000, protocol: http2 } }');
		}

		const address = readString(fields.address, at, locate);
		const match = /^(.+):(\d+)$/.exec(address);
		const port = Number(match?.[2]);
		if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65_535) {
			throw configError(locate, at, `expected HOST:PORT, found ${JSON.stringify(address)}`, 'e.g. 127.0.0.1:9000');
		}

		const protocol = fields.protocol === undefined ? 'http1' : readProtocol(fields.protocol, ['clusters', name, 'protocol'], locate);
		return { name, host: match[1].replace(/^\[(.*)\]$/, '$1'), port, ...(protocol === 'http2' ? { protocol } : {}) };
	});
}

/** A string is the configuration itself; any other value is what the plugin gets as JSON. */
function encodeConfiguration(value: unknown): string | undefined {
	if (value === undefined || value === null) {
		return undefined;
	}

	return typeof value === 'string' ? value : JSON.stringify(value);
}

function resolveEnvoy(value: unknown, locate: Locator): EnvoyModel {
	const fields = value === undefined ? {} : readObject(value, ['envoy'], locate, envoyFields);
	const componentLogLevels: Record<string, LogLevel> = { ...defaultComponentLogLevels };
	if (fields.componentLogLevels !== undefined) {
		if (!isRecord(fields.componentLogLevels)) {
			throw configError(locate, ['envoy', 'componentLogLevels'], 'expected a map of Envoy logger names to levels, e.g. { wasm: trace }');
		}

		for (const [logger, level] of Object.entries(fields.componentLogLevels)) {
			componentLogLevels[logger] = readOneOf(level, ['envoy', 'componentLogLevels', logger], locate, logLevels);
		}
	}

	return {
		logLevel: fields.logLevel === undefined ? 'info' : readOneOf(fields.logLevel, ['envoy', 'logLevel'], locate, logLevels),
		componentLogLevels,
		concurrency: fields.concurrency === undefined ? 1 : readInteger(fields.concurrency, ['envoy', 'concurrency'], locate, 1, 64),
	};
}

/**
 * The Envoy version asked for, first of: `--envoy-version`, the spec's `envoyVersion`, `envoy.version`,
 * MESHBOX_ENVOY_VERSION. None: the default (an Istio sidecar may still choose its release's Envoy).
 */
function resolveEnvoyVersion(spec: Record<string, unknown>, flag: string | undefined, locate: Locator): Pick<EnvoyModel, 'version' | 'versionOrigin'> {
	const envoy = isRecord(spec.envoy) ? spec.envoy : {};
	const candidates: Array<[unknown, FieldPath | string]> = [[flag, '--envoy-version'], [spec.envoyVersion, ['envoyVersion']], [envoy.version, ['envoy', 'version']],
		[process.env.MESHBOX_ENVOY_VERSION || undefined, 'MESHBOX_ENVOY_VERSION']];
	for (const [value, origin] of candidates) {
		if (value === undefined) {
			continue;
		}

		if (typeof origin === 'string') {
			return { version: String(value), versionOrigin: origin };
		}

		// YAML reads `version: 1.40` as a number; 1.40 → "1.40", not "1.4".
		const text = typeof value === 'number' ? value.toFixed(2) : readString(value, origin, locate);
		if (!/^v?\d+\.\d+(\.\d+)?$/.test(text.trim())) {
			throw configError(locate, origin, `expected an Envoy version such as 1.38 (the newest 1.38.x) or 1.38.3, found ${describeValue(value)}`,
				'`meshbox envoy --list` shows the installed and installable versions');
		}

		const where = locate(origin);
		return { version: text.trim(), versionOrigin: `${formatPath(origin)}${where ? ` (${where})` : ''}` };
	}

	return {};
}

/** `{ [key]: value }` when there is a value: absent parts stay absent in the model. */
function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
	return value === undefined ? {} : { [key]: value } as Record<K, V>;
}
