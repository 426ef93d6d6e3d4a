/**
 * Hot reload for `meshbox up --watch`: watches each plugin's .wasm (and, for plugins with `build:`, their
 * sources), rebuilds on a source change, and pushes the new module to the running Envoy through
 * `LiveSandbox`. Envoy keeps running throughout; a failed build or a module Envoy refuses is reported and
 * the last good module keeps serving.
 *
 * Changes are debounced (editors and compilers write in bursts) and handled one at a time, in order. A
 * reload re-reads the whole spec (`load`), so editing meshbox.yaml (a plugin's configuration, say) is
 * picked up the same way.
 *
 * Builds (./build.ts) run in their own process group. One still running after `buildNoticeMs` is reported (the
 * reloads after it wait for it); an edit to its sources stops it (the whole group) and builds anew; closing the
 * watcher (Ctrl+C) stops it, and a process that exits at once kills its group on the way out. Changes to
 * meshbox's own output files (`up --watch > up.log` in a watched directory) are not source changes: each line
 * meshbox printed would otherwise start a build, which prints more lines.
 */
import { fstatSync, statSync } from 'node:fs';
import path from 'node:path';
import type { PluginModel, SandboxModel } from '../config/model.ts';
import { isMeshboxError } from '../errors.ts';
import { startBuild, type RunningBuild } from './build.ts';
import type { LiveSandbox } from './live.ts';
import { watchSources, type SourceWatcher } from './source-watch.ts';

export type WatchOptions = {
	/** One line per event: `reloaded …`, `building …`, `build failed …`, `rejected …`. */
	readonly report: (line: string) => void;
	/** Files `load` reads (meshbox.yaml): a change reloads. */
	readonly configFiles?: readonly string[];
};

/** Stops watching and stops a build under way (its whole process group); resolves once it exited. */
export type Watcher = { close(): Promise<void> };

const debounceMs = 150;
/** When a build still running is first reported, and then how often. */
export const buildNoticeMs = 10_000;
const buildNoticeRepeatMs = 30_000;

export function watchPlugins(live: LiveSandbox, load: () => Promise<SandboxModel>, { report, configFiles = [] }: WatchOptions): Watcher {
	/** The build under way, per plugin. */
	const builds = new Map<string, RunningBuild>();
	let closed = false;
	const ownOutputs = ownOutputFiles();
	// A process that exits without closing the watcher (a second Ctrl+C: process.exit) leaves no build behind.
	const killBuilds = () => {
		for (const running of builds.values()) {
			running.kill();
		}
	};

	process.on('exit', killBuilds);
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
		if (closed) {
			return;
		}

		const { command, cwd } = plugin.build!;
		report(`building ${plugin.name}: ${command.join(' ')}`);
		const running = startBuild(command, cwd);
		const buildStart = performance.now();
		builds.set(plugin.name, running);
		// A build that hangs holds every reload after it: say so, and how to get out.
		let notice: NodeJS.Timeout | undefined;
		const noticeAfter = (delayMs: number) => {
			notice = setTimeout(() => {
				report(`meshbox: still building ${plugin.name} after ${Math.round((performance.now() - buildStart) / 1000)} s (pid ${running.pid ?? '?'}); later reloads wait for it, an edit to its sources restarts it`);
				noticeAfter(buildNoticeRepeatMs);
			}, delayMs);
		};

		noticeAfter(buildNoticeMs);
		const outcome = await running.done;
		clearTimeout(notice);
		if (builds.get(plugin.name) === running) {
			builds.delete(plugin.name);
		}

		if (outcome.kind === 'stopped' || closed) {
			return;
		}

		if (outcome.kind === 'failed') {
			report([`build failed for ${plugin.name} (${outcome.why}); the last good module keeps serving`, ...outcome.output.map(line => `  ${line}`)].join('\n'));
			return;
		}

		await reload(`${plugin.name} rebuilt`, startedAt);
	};

	const sourceWatchers: SourceWatcher[] = [];
	/** Calls `onChange` when `file` (a config, an Istio file, a module) is written, created or replaced. */
	const watchFile = (file: string, onChange: () => void) => {
		sourceWatchers.push(watchSources(file, { report, onChange }));
	};

	for (const file of configFiles.map(entry => path.resolve(entry))) {
		watchFile(file, () => {
			const startedAt = performance.now();
			later('config', async () => reload(`${path.basename(file)} changed`, startedAt));
		});
	}

	// An Istio sidecar: its Istio files and local modules; a reload re-runs selection, fetch and translation.
	const { sidecar } = live.current.model;
	for (const file of sidecar?.sources ?? []) {
		watchFile(file, () => {
			const startedAt = performance.now();
			later('istio', async () => reload(`${path.basename(file)} changed`, startedAt));
		});
	}

	// meshbox's own files in a source tree are no build input: the config (a change reloads, it does not build).
	const ownFiles = new Set(configFiles.map(entry => path.resolve(entry)));
	for (const plugin of sidecar ? [] : live.current.model.plugins) {
		// A build replaces the file (a new inode): watchSources watches its directory for it.
		watchFile(plugin.wasmPath, () => {
			const startedAt = performance.now();
			later(`wasm:${plugin.name}`, async () => reload(`${path.basename(plugin.wasmPath)} changed`, startedAt));
		});
		for (const source of plugin.build?.watch ?? []) {
			const watcher = watchSources(source, {
				report,
				ignore: file => ownFiles.has(file),
				onChange: file => {
					if (isBuildOutput(file) || isOwnOutput(file, ownOutputs)) {
						return;
					}

					// An edit supersedes the build under way: stop it (its whole group) so the queue reaches the new one.
					const running = builds.get(plugin.name);
					if (running) {
						builds.delete(plugin.name);
						report(`meshbox: ${path.relative(process.cwd(), file) || file} changed: stopping the build of ${plugin.name} under way`);
						void running.stop();
					}

					const startedAt = performance.now();
					later(`build:${plugin.name}`, async () => build(plugin, startedAt));
				},
			});
			sourceWatchers.push(watcher);
			const count = watcher.directories().length;
			report(`meshbox: ${plugin.name}: watching ${count} director${count === 1 ? 'y' : 'ies'} of ${path.relative(process.cwd(), path.resolve(source)) || '.'} (not node_modules, target, build outputs, dot-directories or what .gitignore ignores)`);
		}
	}

	return {
		async close() {
			closed = true;
			for (const watcher of sourceWatchers) {
				watcher.close();
			}

			for (const timer of timers.values()) {
				clearTimeout(timer);
			}

			await Promise.all([...builds.values()].map(async running => running.stop()));
			process.off('exit', killBuilds);
		},
	};
}

/** Identities (device and inode) of the regular files meshbox's stdout and stderr write to, if any. */
function ownOutputFiles(): ReadonlySet<string> {
	const files = new Set<string>();
	for (const fd of [1, 2]) {
		try {
			const stat = fstatSync(fd);
			if (stat.isFile()) {
				files.add(`${stat.dev}:${stat.ino}`);
			}
		} catch {
			// Closed: nothing written there.
		}
	}

	return files;
}

/** Whether `file` is one meshbox writes its own output to (`up --watch > up.log`): by identity, not by name. */
function isOwnOutput(file: string, ownOutputs: ReadonlySet<string>): boolean {
	if (ownOutputs.size === 0) {
		return false;
	}

	try {
		const stat = statSync(file);
		return ownOutputs.has(`${stat.dev}:${stat.ino}`);
	} catch {
		return false;
	}
}

/**
 * A change that is no build input although source watching reports it: a module (what a build makes) and logs
 * (`*.log`: no build reads them, and `up --watch 2>&1 | tee up.log` writes meshbox's output through tee, whose
 * file cannot be told from a source by identity as a redirected stdout can). It must not start another build.
 * (Directories that are no input, node_modules, target, .gitignore'd paths, are not watched at all: ./source-watch.ts.)
 */
function isBuildOutput(file: string): boolean {
	return file.endsWith('.wasm') || file.endsWith('.log');
}
