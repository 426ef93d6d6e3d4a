/**
 * Sandbox spec → SandboxModel: checks every field, fills in defaults, resolves and pre-flights the
 * plugins' wasm files. The spec may come from `meshbox.yaml` (with a Locator for file:line:col) or from
 * `startSandbox()` in a scenario (JavaScript callers get the same checks as YAML authors).
 */
import path from 'node:path';
import type { ClusterModel, EnvoyModel, NodeModel, PluginModel, SandboxModel, UpstreamModel } from './model.ts';
import type { JsonObject } from '../util/json.ts';
import { logLevels, type LogLevel } from './spec.ts';
import { inspectWasmFile } from './wasm-module.ts';
import {
	configError, isRecord, noLocation, readBoolean, readInteger, readObject, readOneOf, readPort, readString,
	readStringList, readStringMap, type FieldPath, type Locator,
} from './fields.ts';

export type ResolveOptions = {
	/** Relative wasm paths are resolved against this directory. */
	baseDir: string;
	locate?: Locator;
	/** Command-line overrides, applied after the spec is read (they win). */
	overrides?: {
		port?: number;
		adminPort?: number;
		/** Replace the spec's plugins with these wasm files. */
		pluginFiles?: readonly string[];
	};
};

// `workload` and `istio`: the Istio sidecar emulation (src/istio), resolved only when present.
const sandboxFields = ['upstream', 'node', 'plugins', 'clusters', 'port', 'adminPort', 'envoy', 'workload', 'istio'] as const;
const nodeFields = ['id', 'cluster', 'metadata'] as const;
const upstreamFields = ['status', 'headers', 'body', 'trailers'] as const;
const pluginFields = ['name', 'wasm', 'rootId', 'vmId', 'configuration', 'vmConfiguration', 'failOpen', 'env', 'hostEnv'] as const;
const envoyFields = ['logLevel', 'componentLogLevels', 'concurrency'] as const;

/** Envoy's default, plus wasm at debug: the plugin logs authors ask for first. */
export const defaultComponentLogLevels: Readonly<Record<string, LogLevel>> = { wasm: 'debug' };

/** Plugin names appear in Envoy's log prefix (`wasm log <name> <root_id> <vm_id>: …`), split on spaces. */
const pluginNamePattern = /^[\w./@-]+$/;

export async function resolveSpec(input: unknown, options: ResolveOptions): Promise<SandboxModel> {
	const locate = options.locate ?? noLocation;
	const spec = readObject(input ?? {}, [], locate, sandboxFields);
	const overrides = options.overrides ?? {};

	const pluginInputs: Array<{ value: unknown; path: FieldPath; baseDir: string }> = overrides.pluginFiles
		? overrides.pluginFiles.map((file, index) => ({ value: file, path: ['--plugin', index], baseDir: process.cwd() }))
		: readPluginList(spec.plugins, locate).map((value, index) => ({ value, path: ['plugins', index], baseDir: options.baseDir }));

	const plugins: PluginModel[] = [];
	for (const { value, path: fieldPath, baseDir } of pluginInputs) {
		plugins.push(await resolvePlugin(value, fieldPath, baseDir, locate));
	}

	const seen = new Map<string, FieldPath>();
	for (const [index, plugin] of plugins.entries()) {
		const earlier = seen.get(plugin.name);
		if (earlier) {
			throw configError(locate, pluginInputs[index]!.path, `plugin name "${plugin.name}" is used twice`,
				'give each plugin its own `name`: names tell their logs and stats apart');
		}

		seen.set(plugin.name, pluginInputs[index]!.path);
	}

	const model: SandboxModel = {
		upstream: resolveUpstream(spec.upstream, locate),
		node: resolveNode(spec.node, locate),
		plugins,
		clusters: resolveClusters(spec.clusters, locate),
		port: overrides.port ?? (spec.port === undefined ? 0 : readPort(spec.port, ['port'], locate)),
		adminPort: overrides.adminPort ?? (spec.adminPort === undefined ? 0 : readPort(spec.adminPort, ['adminPort'], locate)),
		envoy: resolveEnvoy(spec.envoy, locate),
	};
	if (spec.workload === undefined && spec.istio === undefined) {
		return model;
	}

	// --- Istio sidecar emulation (src/istio): loaded only for specs that ask for it. ---
	if (plugins.length > 0) {
		throw configError(locate, overrides.pluginFiles ? [] : ['plugins'], 'with `istio:` the plugins come from the WasmPlugin resources',
			'remove `plugins` (and --plugin), or drop `istio:` for a plain sandbox');
	}

	const { resolveIstioSidecar } = await import('../istio/sidecar.ts');
	const istio = await resolveIstioSidecar({ workload: spec.workload, istio: spec.istio, baseDir: options.baseDir, locate });
	const envoyGiven = isRecord(spec.envoy) && (spec.envoy.logLevel !== undefined || spec.envoy.componentLogLevels !== undefined);
	return {
		...model,
		plugins: istio.plugins,
		sidecar: istio.sidecar,
		envoy: istio.envoyLogLevels && !envoyGiven ? { ...model.envoy, ...istio.envoyLogLevels } : model.envoy,
	};
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

async function resolvePlugin(value: unknown, fieldPath: FieldPath, baseDir: string, locate: Locator): Promise<PluginModel> {
	const fields = typeof value === 'string' ? { wasm: value } : readObject(value, fieldPath, locate, pluginFields);
	if (fields.wasm === undefined) {
		throw configError(locate, fieldPath, 'missing `wasm`: the path of the plugin\'s .wasm file');
	}

	const wasmPath = path.resolve(baseDir, readString(fields.wasm, [...fieldPath, 'wasm'], locate));
	const name = fields.name === undefined
		? path.basename(wasmPath).replace(/\.wasm$/, '')
		: readString(fields.name, [...fieldPath, 'name'], locate);
	if (!pluginNamePattern.test(name)) {
		throw configError(locate, [...fieldPath, 'name'], `"${name}" is not a usable plugin name`,
			'use letters, digits and . _ - / @ (no spaces: Envoy puts the name in every log line)');
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

	const label = `plugin "${name}"`;
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
	};
}

/** The hello-world app's default answer. */
export const defaultUpstream: UpstreamModel = { status: 200, headers: { 'content-type': 'text/plain' }, body: 'Hello, world!\n', trailers: {} };

function resolveUpstream(value: unknown, locate: Locator): UpstreamModel {
	if (value === undefined) {
		return defaultUpstream;
	}

	const fields = readObject(value, ['upstream'], locate, upstreamFields);
	return {
		status: fields.status === undefined ? defaultUpstream.status : readInteger(fields.status, ['upstream', 'status'], locate, 200, 599),
		headers: fields.headers === undefined ? defaultUpstream.headers : readStringMap(fields.headers, ['upstream', 'headers'], locate),
		body: fields.body === undefined ? defaultUpstream.body : readString(fields.body, ['upstream', 'body'], locate),
		trailers: fields.trailers === undefined ? {} : readStringMap(fields.trailers, ['upstream', 'trailers'], locate),
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
export const reservedClusterNames: readonly string[] = ['upstream'];

function resolveClusters(value: unknown, locate: Locator): ClusterModel[] {
	if (value === undefined) {
		return [];
	}

	const entries = readStringMap(value, ['clusters'], locate);
	return Object.entries(entries).map(([name, address]) => {
		if (reservedClusterNames.includes(name) || !pluginNamePattern.test(name)) {
			throw configError(locate, ['clusters', name], reservedClusterNames.includes(name)
				? `"${name}" is the name of the cluster behind the listener` : `"${name}" is not a usable cluster name`,
			'choose another name (letters, digits and . _ - / @), and use that name in the plugin\'s http_call');
		}

		const match = /^(.+):(\d+)$/.exec(address);
		const port = Number(match?.[2]);
		if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65_535) {
			throw configError(locate, ['clusters', name], `expected HOST:PORT, found ${JSON.stringify(address)}`, 'e.g. 127.0.0.1:9000');
		}

		return { name, host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
	});
}

/** A string is the configuration itself; any other value is what the plugin gets as JSON. */
export function encodeConfiguration(value: unknown): string | undefined {
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
