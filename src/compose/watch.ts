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

/**
 * Watches the config, an Istio sidecar's sources, and each plugin's module and build sources; see the file
 * comment. The steps are WatchSession's methods.
 */
export function watchPlugins(live: LiveSandbox, load: () => Promise<SandboxModel>, { report, configFiles = [] }: WatchOptions): Watcher {
	const session = new WatchSession(live, load, report);
	const configs = configFiles.map(entry => path.resolve(entry));
	session.watchConfigFiles(configs);
	session.watchIstioSources();
	// meshbox's own files in a source tree are no build input: the config (a change reloads, it does not build).
	session.watchPluginFiles(new Set(configs));
	return { close: async () => session.close() };
}

/** One `up --watch`: its watchers, the debounced and queued reloads, the builds under way. */
class WatchSession {
	/** The build under way, per plugin. */
	private readonly builds = new Map<string, RunningBuild>();
	private readonly timers = new Map<string, NodeJS.Timeout>();
	private readonly sourceWatchers: SourceWatcher[] = [];
	private readonly ownOutputs = ownOutputFiles();
	private queue = Promise.resolve();
	private closed = false;

	constructor(private readonly live: LiveSandbox, private readonly load: () => Promise<SandboxModel>, private readonly report: (line: string) => void) {
		process.on('exit', this.killBuilds);
	}

	/** A change to a config file (meshbox.yaml) reloads. */
	watchConfigFiles(files: readonly string[]): void {
		for (const file of files) {
			this.watchFile(file, () => this.reloadLater('config', `${path.basename(file)} changed`));
		}
	}

	/** An Istio sidecar: its Istio files and local modules; a reload re-runs selection, fetch and translation. */
	watchIstioSources(): void {
		for (const file of this.live.current.model.sidecar?.sources ?? []) {
			this.watchFile(file, () => this.reloadLater('istio', `${path.basename(file)} changed`));
		}
	}

	/** Each plugin's .wasm (a change reloads) and, with `build:`, its sources (a change builds); not an Istio sidecar's. */
	watchPluginFiles(ownFiles: ReadonlySet<string>): void {
		const { model } = this.live.current;
		for (const plugin of model.sidecar ? [] : model.plugins) {
			// A build replaces the file (a new inode): watchSources watches its directory for it.
			this.watchFile(plugin.wasmPath, () => this.reloadLater(`wasm:${plugin.name}`, `${path.basename(plugin.wasmPath)} changed`));
			for (const source of plugin.build?.watch ?? []) {
				this.watchBuildSources(plugin, source, ownFiles);
			}
		}
	}

	/** Stops watching and the builds under way (their whole groups); resolves once they exited. */
	async close(): Promise<void> {
		this.closed = true;
		for (const watcher of this.sourceWatchers) {
			watcher.close();
		}

		for (const timer of this.timers.values()) {
			clearTimeout(timer);
		}

		await Promise.all([...this.builds.values()].map(async running => running.stop()));
		process.off('exit', this.killBuilds);
	}

	/** A process that exits without closing the watcher (a second Ctrl+C: process.exit) leaves no build behind. */
	private readonly killBuilds = (): void => {
		for (const running of this.builds.values()) {
			running.kill();
		}
	};

	/** Calls `onChange` when `file` (a config, an Istio file, a module) is written, created or replaced. */
	private watchFile(file: string, onChange: () => void): void {
		this.sourceWatchers.push(watchSources(file, { report: this.report, onChange }));
	}

	/** A plugin's build sources: a change builds it (after stopping the build under way); says how much it watches. */
	private watchBuildSources(plugin: PluginModel, source: string, ownFiles: ReadonlySet<string>): void {
		const watcher = watchSources(source, {
			report: this.report,
			ignore: file => ownFiles.has(file),
			onChange: file => {
				this.onSourceChange(plugin, file);
			},
		});
		this.sourceWatchers.push(watcher);
		const count = watcher.directories().length;
		this.report(`meshbox: ${plugin.name}: watching ${count} director${count === 1 ? 'y' : 'ies'} of ${path.relative(process.cwd(), path.resolve(source)) || '.'} (not node_modules, target, build outputs, dot-directories or what .gitignore ignores)`);
	}

	private onSourceChange(plugin: PluginModel, file: string): void {
		if (isBuildOutput(file) || isOwnOutput(file, this.ownOutputs)) {
			return;
		}

		// An edit supersedes the build under way: stop it (its whole group) so the queue reaches the new one.
		const running = this.builds.get(plugin.name);
		if (running) {
			this.builds.delete(plugin.name);
			this.report(`meshbox: ${path.relative(process.cwd(), file) || file} changed: stopping the build of ${plugin.name} under way`);
			void running.stop();
		}

		const startedAt = performance.now();
		this.later(`build:${plugin.name}`, async () => this.build(plugin, startedAt));
	}

	private reloadLater(key: string, reason: string): void {
		const startedAt = performance.now();
		this.later(key, async () => this.reload(reason, startedAt));
	}

	/** Debounced per `key` (editors and compilers write in bursts), then queued: one change handled at a time, in order. */
	private later(key: string, action: () => Promise<void>): void {
		clearTimeout(this.timers.get(key));
		this.timers.set(key, setTimeout(() => {
			this.timers.delete(key);
			this.queue = this.queue.then(action).catch((error: unknown) => {
				this.report(`meshbox: ${isMeshboxError(error) ? error.describe() : String(error)}`);
			});
		}, debounceMs));
	}

	/** Re-reads the spec and pushes it to the running Envoy; says what changed, or why nothing did. */
	private async reload(reason: string, startedAt: number): Promise<void> {
		const before = new Map(this.live.current.model.plugins.map(plugin => [plugin.name, plugin.module.sha256]));
		const versionBefore = this.live.current.version;
		let model: SandboxModel;
		try {
			model = await this.load();
		} catch (error) {
			this.report(`meshbox: not reloaded (${reason}): ${isMeshboxError(error) ? error.describe() : String(error)}`);
			return;
		}

		try {
			const accepted = await this.live.reload(model);
			const changed = accepted.model.plugins.filter(plugin => before.get(plugin.name) !== plugin.module.sha256);
			const elapsed = Math.round(performance.now() - startedAt);
			if (changed.length === 0 && accepted.version !== versionBefore) {
				this.report(`meshbox: reloaded config version ${accepted.version} in ${elapsed} ms (${reason})`);
			}

			for (const plugin of changed) {
				this.report(`reloaded ${plugin.name} (sha256 ${plugin.module.sha256.slice(0, 12)}…) in ${elapsed} ms`);
			}
		} catch (error) {
			this.report(`meshbox: ${isMeshboxError(error) ? error.describe() : String(error)}`);
		}
	}

	/** Builds the plugin (./build.ts) and reloads when it succeeded; a failure keeps the last good module. */
	private async build(plugin: PluginModel, startedAt: number): Promise<void> {
		if (this.closed) {
			return;
		}

		const { command, cwd } = plugin.build!;
		this.report(`building ${plugin.name}: ${command.join(' ')}`);
		const running = startBuild(command, cwd);
		this.builds.set(plugin.name, running);
		const stopNotices = this.noticeLongBuild(plugin, running);
		const outcome = await running.done;
		stopNotices();
		if (this.builds.get(plugin.name) === running) {
			this.builds.delete(plugin.name);
		}

		if (outcome.kind === 'stopped' || this.closed) {
			return;
		}

		if (outcome.kind === 'failed') {
			this.report([`build failed for ${plugin.name} (${outcome.why}); the last good module keeps serving`, ...outcome.output.map(line => `  ${line}`)].join('\n'));
			return;
		}

		await this.reload(`${plugin.name} rebuilt`, startedAt);
	}

	/** A build that hangs holds every reload after it: say so, and how to get out. Returns the notices' stop. */
	private noticeLongBuild(plugin: PluginModel, running: RunningBuild): () => void {
		const buildStart = performance.now();
		let notice: NodeJS.Timeout | undefined;
		const noticeAfter = (delayMs: number) => {
			notice = setTimeout(() => {
				this.report(`meshbox: still building ${plugin.name} after ${Math.round((performance.now() - buildStart) / 1000)} s (pid ${running.pid ?? '?'}); later reloads wait for it, an edit to its sources restarts it`);
				noticeAfter(buildNoticeRepeatMs);
			}, delayMs);
		};

		noticeAfter(buildNoticeMs);
		return () => clearTimeout(notice);
	}
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
