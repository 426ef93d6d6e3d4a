/**
 * What `meshbox up` records for the next run of the same command (./head-start.ts launches from it): how its
 * Envoy was started (binary, options, bootstrap) and its plugins' modules, copied into the cache (the work dir
 * goes at stop), as the filters Envoy preloads from its boot on. Also how the current start would preload them
 * (`preloadFilters`), which is what an adopted head start must have preloaded.
 */
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PluginModel } from '../../config/model.ts';
import { pinFilter } from '../../envoy/pins.ts';
import { wasmFilter } from '../../envoy/wasm-config.ts';
import type { JsonObject } from '../../util/json.ts';
import { headStartDir, intactModule, recordFormat, type EnvoyStartPlan, type HeadStartRecord, type PreloadKind, type PreloadRecord } from './head-start.ts';

/** Records kept (the most recently written); modules no record names are removed with them. */
const maxRecords = 16;
/** Modules preloaded from a record: as many as a warm Envoy pins. */
const maxPreloads = 8;

/** The plugins (one per module) a start preloads, with the filter each is preloaded as. */
export function preloadFilters(plugins: readonly PluginModel[], kind: PreloadKind, env: NodeJS.ProcessEnv = process.env): Array<{ plugin: PluginModel; module: string; filter: JsonObject }> {
	const modules = path.join(headStartDir(env), 'modules');
	const chosen: PluginModel[] = [];
	for (const plugin of plugins) {
		if (chosen.length < maxPreloads && !chosen.some(other => other.module.sha256 === plugin.module.sha256)) {
			chosen.push(plugin);
		}
	}

	return chosen.map(plugin => {
		const module = path.join(modules, `${plugin.module.sha256}.wasm`);
		return { plugin, module, filter: kind === 'plugins' ? wasmFilter(plugin, module) : pinFilter(plugin, module) };
	});
}

/**
 * Remembers how this run's Envoy was started, for the next run of the same command (`HeadStart.launch`): its
 * binary, options and bootstrap, and its plugins, their modules copied into the cache.
 */
export async function recordHeadStart(key: string, input: {
	readonly plan: Omit<EnvoyStartPlan, 'preloads'>;
	readonly adsCluster: string;
	readonly preload: PreloadKind;
	/** The HTTP plugins (preloads are HTTP filters), and where this run's Envoy loads each module from. */
	readonly plugins: readonly PluginModel[];
	readonly modulePath: (plugin: PluginModel) => string;
}, env: NodeJS.ProcessEnv = process.env): Promise<void> {
	const directory = headStartDir(env);
	await mkdir(path.join(directory, 'modules'), { recursive: true });
	const preloads: PreloadRecord[] = [];
	for (const { plugin, module, filter } of preloadFilters(input.plugins, input.preload, env)) {
		const source = await stat(plugin.wasmPath).catch(() => undefined);
		if (!source) {
			continue;
		}

		// A copy that is not what its name says (replaced, cut short) is replaced: the next head start preloads it again.
		if (!intactModule(module, env)) {
			await copyFile(input.modulePath(plugin), `${module}.${process.pid}.partial`);
			await rename(`${module}.${process.pid}.partial`, module);
		}

		preloads.push({ source: plugin.wasmPath, size: source.size, mtimeMs: source.mtimeMs, module, filter });
	}

	const { envoyPath, options, bootstrap } = input.plan;
	const record: HeadStartRecord = { format: recordFormat, envoyPath, options, bootstrap, adsCluster: input.adsCluster, preload: input.preload, preloads };
	const file = path.join(directory, `${key}.json`);
	await writeFile(`${file}.${process.pid}.partial`, JSON.stringify(record));
	await rename(`${file}.${process.pid}.partial`, file);
	await prune(directory);
}

/** Keeps the `maxRecords` newest records and the modules they name. */
async function prune(directory: string): Promise<void> {
	const records = await Promise.all((await readdir(directory)).filter(name => name.endsWith('.json')).map(async name => {
		const file = path.join(directory, name);
		return { file, mtimeMs: (await stat(file).catch(() => undefined))?.mtimeMs ?? 0 };
	}));
	records.sort((a, b) => b.mtimeMs - a.mtimeMs);
	for (const { file } of records.slice(maxRecords)) {
		await rm(file, { force: true });
	}

	const named = new Set<string>();
	for (const { file } of records.slice(0, maxRecords)) {
		const text = await readFile(file, 'utf8').catch(() => '');
		for (const match of text.matchAll(/([\da-f]{64})\.wasm/g)) {
			named.add(match[1]!);
		}
	}

	const modules = path.join(directory, 'modules');
	for (const name of await readdir(modules)) {
		const hash = /^([\da-f]{64})\.wasm$/.exec(name)?.[1];
		if (hash && !named.has(hash)) {
			await rm(path.join(modules, name), { force: true });
		}
	}
}
