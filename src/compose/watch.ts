/**
 * Hot reload for `meshbox up --watch`: watches each plugin's .wasm (and, for plugins with `build:`, their
 * sources), rebuilds on a source change, and pushes the new module to the running Envoy through
 * `LiveSandbox`. Envoy keeps running throughout; a failed build or a module Envoy refuses is reported and
 * the last good module keeps serving.
 *
 * Changes are debounced (editors and compilers write in bursts) and handled one at a time, in order. A
 * reload re-reads the whole spec (`load`), so editing meshbox.yaml (a plugin's configuration, say) is
 * picked up the same way.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { PluginModel, SandboxModel } from '../config/model.ts';
import { isMeshboxError } from '../errors.ts';
import type { LiveSandbox } from './live.ts';

export type WatchOptions = {
	/** One line per event: `reloaded …`, `building …`, `build failed …`, `rejected …`. */
	readonly report: (line: string) => void;
	/** Files `load` reads (meshbox.yaml): a change reloads. */
	readonly configFiles?: readonly string[];
};

export type Watcher = { close(): void };

/** Directories never watched for source changes: build outputs and tools' state. */
const ignoredDirectories = new Set(['target', 'node_modules', '.git', 'build', 'dist', 'out']);
const debounceMs = 150;

export function watchPlugins(live: LiveSandbox, load: () => Promise<SandboxModel>, { report, configFiles = [] }: WatchOptions): Watcher {
	const watchers: FSWatcher[] = [];
	let queue = Promise.resolve();
	const timers = new Map<string, NodeJS.Timeout>();
	const later = (key: string, action: () => Promise<void>) => {
		clearTimeout(timers.get(key));
		timers.set(key, setTimeout(() => {
			timers.delete(key);
			queue = queue.then(action).catch((error: unknown) => {
				report(`meshbox: ${isMeshboxError(error) ? error.describe() : String(error)}`);
			});
		}, debounceMs));
	};

	const reload = async (reason: string, startedAt: number) => {
		const before = new Map(live.current.model.plugins.map(plugin => [plugin.name, plugin.module.sha256]));
		const versionBefore = live.current.version;
		let model: SandboxModel;
		try {
			model = await load();
		} catch (error) {
			report(`meshbox: not reloaded (${reason}): ${isMeshboxError(error) ? error.describe() : String(error)}`);
			return;
		}

		try {
			const accepted = await live.reload(model);
			const changed = accepted.model.plugins.filter(plugin => before.get(plugin.name) !== plugin.module.sha256);
			const elapsed = Math.round(performance.now() - startedAt);
			if (changed.length === 0 && accepted.version !== versionBefore) {
				report(`meshbox: reloaded config version ${accepted.version} in ${elapsed} ms (${reason})`);
			}

			for (const plugin of changed) {
				report(`reloaded ${plugin.name} (sha256 ${plugin.module.sha256.slice(0, 12)}…) in ${elapsed} ms`);
			}
		} catch (error) {
			report(`meshbox: ${isMeshboxError(error) ? error.describe() : String(error)}`);
		}
	};

	const build = async (plugin: PluginModel, startedAt: number) => {
		const { command, cwd } = plugin.build!;
		report(`building ${plugin.name}: ${command.join(' ')}`);
		const result = await execa(command[0]!, command.slice(1), { cwd, reject: false, all: true, stdin: 'ignore' });
		if (result.failed) {
			const why = result.exitCode === undefined ? (result.originalMessage ?? 'it did not start') : `exit status ${result.exitCode}`;
			const output = (result.all ?? '').split('\n').filter(Boolean).slice(-20).map(line => `  ${line}`);
			report([`build failed for ${plugin.name} (${why}); the last good module keeps serving`, ...output].join('\n'));
			return;
		}

		await reload(`${plugin.name} rebuilt`, startedAt);
	};

	const watchPath = (target: string, recursive: boolean, onChange: (file: string) => void) => {
		try {
			const watcher = watch(target, { recursive }, (_event, file) => {
				onChange(file ? path.join(target, file.toString()) : target);
			});
			watcher.on('error', () => undefined);
			watchers.push(watcher);
		} catch (error) {
			report(`meshbox: cannot watch ${target}: ${(error as Error).message}`);
		}
	};

	for (const file of configFiles.map(entry => path.resolve(entry))) {
		watchPath(path.dirname(file), false, changed => {
			if (path.resolve(changed) === file) {
				const startedAt = performance.now();
				later('config', async () => reload(`${path.basename(file)} changed`, startedAt));
			}
		});
	}

	// An Istio sidecar: its Istio files and local modules; a reload re-runs selection, fetch and translation.
	const { sidecar } = live.current.model;
	for (const file of sidecar?.sources ?? []) {
		watchPath(path.dirname(file), false, changed => {
			if (path.resolve(changed) === file) {
				const startedAt = performance.now();
				later('istio', async () => reload(`${path.basename(file)} changed`, startedAt));
			}
		});
	}

	for (const plugin of sidecar ? [] : live.current.model.plugins) {
		const wasmDirectory = path.dirname(plugin.wasmPath);
		// The directory, not the file: a build replaces the file (a new inode a file watch would not follow).
		watchPath(wasmDirectory, false, file => {
			if (path.resolve(file) === plugin.wasmPath) {
				const startedAt = performance.now();
				later(`wasm:${plugin.name}`, async () => reload(`${path.basename(plugin.wasmPath)} changed`, startedAt));
			}
		});
		if (plugin.build) {
			for (const source of plugin.build.watch) {
				watchPath(source, true, file => {
					if (isBuildOutput(file, source)) {
						return;
					}

					const startedAt = performance.now();
					later(`build:${plugin.name}`, async () => build(plugin, startedAt));
				});
			}
		}
	}

	return {
		close() {
			for (const watcher of watchers) {
				watcher.close();
			}

			for (const timer of timers.values()) {
				clearTimeout(timer);
			}
		},
	};
}

/** A change a build made itself (its outputs, tools' state), which must not start another build. */
function isBuildOutput(file: string, root: string): boolean {
	if (file.endsWith('.wasm')) {
		return true;
	}

	const relative = path.relative(root, file);
	return relative.split(path.sep).some(part => ignoredDirectories.has(part) || (part.startsWith('.') && part.length > 1));
}
