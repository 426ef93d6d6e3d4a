/**
 * Watching a plugin's sources for `meshbox up --watch` (./watch.ts): only what its build reads. One inotify
 * watch per source directory, found by walking the tree and leaving out what is no build input: node_modules,
 * target, build outputs, .git and other dot-files and dot-directories, and whatever the .gitignore files (of the tree and of
 * the directories above it, up to the repository's root) ignore. Directories created later are added as they
 * appear, removed ones dropped.
 *
 * Why not `fs.watch(root, { recursive: true })`: on Linux, Node (20, 22) implements it by walking the whole
 * tree and adding a watch for every directory in it, node_modules and target included: 9,380 watches for a
 * small Rust project (issue #24), past many systems' `fs.inotify.max_user_watches`, and it filters nothing.
 * A watcher library (chokidar) would do the same walk with an ignore function; none is a dependency of meshbox,
 * and this is the part of one meshbox needs.
 *
 * When the kernel refuses a watch (ENOSPC: `fs.inotify.max_user_watches` reached; EMFILE: too many inotify
 * instances or open files), it says so and polls the same files instead (a walk every `pollIntervalMs`,
 * comparing modification times and sizes): slower to notice, never silent.
 */
import { readdirSync, readFileSync, statSync, watch, type FSWatcher, type Stats, type WatchListener } from 'node:fs';
import path from 'node:path';
import { isIgnoredByGit, readGitignore, type IgnoreFile } from './gitignore.ts';

/** Directory names never watched: dependencies, build outputs and tools' state (dot-directories are skipped too). */
export const ignoredDirectoryNames: ReadonlySet<string> = new Set(['target', 'node_modules', 'build', 'dist', 'out']);

export type WatchFunction = (directory: string, listener: WatchListener<string>) => FSWatcher;

export type SourceWatchOptions = {
	/** A file or directory below the root changed (created, written, removed); called once per event. */
	readonly onChange: (file: string) => void;
	/** One line when falling back to polling (and why). */
	readonly report: (line: string) => void;
	/** Paths that are no build input although in the tree (meshbox.yaml, meshbox's own output). */
	readonly ignore?: (file: string) => boolean;
	readonly pollIntervalMs?: number;
	/** fs.watch of one directory; tests replace it to see the kernel refuse a watch. */
	readonly watchDirectory?: WatchFunction;
};

export type SourceWatcher = {
	/** `events` (inotify) or `polling` (after the kernel refused a watch). */
	readonly mode: () => 'events' | 'polling';
	/** The directories watched (events) or walked (polling), sorted. */
	readonly directories: () => string[];
	close(): void;
};

const defaultPollIntervalMs = 1000;
const limitCodes = new Set(['ENOSPC', 'EMFILE']);

const defaultWatch: WatchFunction = (directory, listener) => watch(directory, { persistent: false }, listener);

export function watchSources(root: string, options: SourceWatchOptions): SourceWatcher {
	const resolved = path.resolve(root);
	const watchDirectory = options.watchDirectory ?? defaultWatch;
	const ignore = options.ignore ?? (() => false);
	// A file to watch (`watch: [Cargo.toml]`): its directory, for that file only (a build tool replaces files,
	// and a watch on the file itself would not follow the new one).
	const single = isFile(resolved) ? resolved : undefined;
	const top = single ? path.dirname(single) : resolved;
	const inherited = single ? [] : gitignoresAbove(top);
	const watchers = new Map<string, FSWatcher>();
	let mode: 'events' | 'polling' = 'events';
	let poller: NodeJS.Timeout | undefined;
	let snapshot = new Map<string, string>();
	let closed = false;

	/** Whether a path below `top` is a build input, given the .gitignore files that apply to its directory. */
	const excluded = (file: string, isDirectory: boolean, ignoreFiles: readonly IgnoreFile[]): boolean => {
		if (single) {
			return file !== single;
		}

		// Dot-files too: editors' swap and backup files (.lib.rs.swp), tools' state; no build reads them.
		const name = path.basename(file);
		if (name.startsWith('.') || (isDirectory && ignoredDirectoryNames.has(name))) {
			return true;
		}

		return ignore(file) || isIgnoredByGit(file, isDirectory, ignoreFiles);
	};

	/** The directories to watch under `directory` (itself included), each with the .gitignore files applying inside it. */
	const walk = (directory: string, ignoreFiles: readonly IgnoreFile[], found: Map<string, readonly IgnoreFile[]>, files?: Map<string, string>) => {
		const own = single ? undefined : readGitignore(directory);
		const applying = own ? [...ignoreFiles, own] : ignoreFiles;
		found.set(directory, applying);
		let entries;
		try {
			entries = readdirSync(directory, { withFileTypes: true });
		} catch {
			return;
		}

		for (const entry of entries) {
			const child = path.join(directory, entry.name);
			if (excluded(child, entry.isDirectory(), applying)) {
				continue;
			}

			if (entry.isDirectory() && !single) {
				walk(child, applying, found, files);
			} else if (files && entry.isFile()) {
				const stat = statOf(child);
				if (stat) {
					files.set(child, `${stat.mtimeMs}:${stat.size}`);
				}
			}
		}
	};

	const rulesOf = new Map<string, readonly IgnoreFile[]>();

	const startPolling = (directory: string, error: NodeJS.ErrnoException) => {
		if (mode === 'polling' || closed) {
			return;
		}

		mode = 'polling';
		for (const watcher of watchers.values()) {
			watcher.close();
		}

		watchers.clear();
		const limit = error.code === 'ENOSPC' ? readLimit('max_user_watches') : readLimit('max_user_instances');
		const setting = error.code === 'ENOSPC' ? 'fs.inotify.max_user_watches' : 'fs.inotify.max_user_instances';
		const interval = options.pollIntervalMs ?? defaultPollIntervalMs;
		options.report(`meshbox: the system refused another file watch (${error.code} at ${directory}: ${setting}${limit === undefined ? '' : ` = ${limit}`} reached): `
			+ `polling ${resolved} every ${interval} ms instead. To watch without polling, raise it, e.g. sudo sysctl ${setting}=${error.code === 'ENOSPC' ? 524_288 : 1024}`);
		snapshot = scan();
		poller = setInterval(poll, interval);
		poller.unref();
	};

	const scan = (): Map<string, string> => {
		const files = new Map<string, string>();
		const found = new Map<string, readonly IgnoreFile[]>();
		walk(top, inherited, found, files);
		rulesOf.clear();
		for (const [directory, rules] of found) {
			rulesOf.set(directory, rules);
		}

		return files;
	};

	const poll = () => {
		const next = scan();
		for (const [file, stamp] of next) {
			if (snapshot.get(file) !== stamp) {
				options.onChange(file);
			}
		}

		for (const file of snapshot.keys()) {
			if (!next.has(file)) {
				options.onChange(file);
			}
		}

		snapshot = next;
	};

	/** Watches `directory` and the directories below it that are build inputs. */
	const add = (directory: string, ignoreFiles: readonly IgnoreFile[]) => {
		const found = new Map<string, readonly IgnoreFile[]>();
		walk(directory, ignoreFiles, found);
		for (const [dir, rules] of found) {
			if (mode !== 'events') {
				return;
			}

			rulesOf.set(dir, rules);
			if (watchers.has(dir)) {
				continue;
			}

			try {
				const watcher = watchDirectory(dir, (_event, name) => {
					onEvent(dir, name);
				});
				watcher.on('error', (error: NodeJS.ErrnoException) => {
					if (limitCodes.has(error.code ?? '')) {
						startPolling(dir, error);
					}
				});
				watchers.set(dir, watcher);
			} catch (error) {
				const failure = error as NodeJS.ErrnoException;
				if (limitCodes.has(failure.code ?? '')) {
					startPolling(dir, failure);
					return;
				}

				// Gone between the walk and the watch (ENOENT), or not readable: nothing to watch there.
			}
		}
	};

	const remove = (directory: string) => {
		for (const [dir, watcher] of watchers) {
			if (dir === directory || dir.startsWith(`${directory}${path.sep}`)) {
				watcher.close();
				watchers.delete(dir);
				rulesOf.delete(dir);
			}
		}
	};

	const onEvent = (directory: string, name: string | null) => {
		if (closed || mode !== 'events') {
			return;
		}

		const rules = rulesOf.get(directory) ?? inherited;
		if (name === null) {
			// The platform did not say which entry: the watched file, or the directory as a whole.
			options.onChange(single ?? directory);
			return;
		}

		const file = path.join(directory, name);
		if (name === '.gitignore' && !single) {
			// What is ignored changed: watch the tree anew under the new rules.
			remove(top);
			add(top, inherited);
			options.onChange(file);
			return;
		}

		const stat = statOf(file);
		if (stat === undefined) {
			// Removed (or renamed away): a watched directory's watches go with it.
			if (watchers.has(file)) {
				remove(file);
				options.onChange(file);
			} else if (!excluded(file, false, rules)) {
				options.onChange(file);
			}

			return;
		}

		if (excluded(file, stat.isDirectory(), rules)) {
			return;
		}

		if (stat.isDirectory() && !watchers.has(file)) {
			// A new directory (mkdir, a checkout, an unpacked archive): watch it and what is already in it.
			add(file, rules);
		}

		options.onChange(file);
	};

	if (single || isDirectory(top)) {
		add(top, inherited);
	} else {
		options.report(`meshbox: cannot watch ${resolved}: no such file or directory`);
	}

	return {
		mode: () => mode,
		directories: () => [...(mode === 'events' ? watchers.keys() : rulesOf.keys())].sort(),
		close() {
			closed = true;
			clearInterval(poller);
			for (const watcher of watchers.values()) {
				watcher.close();
			}

			watchers.clear();
		},
	};
}

/** The .gitignore files of the directories above `directory`, up to the repository's root (the one with .git). */
function gitignoresAbove(directory: string): IgnoreFile[] {
	const found: IgnoreFile[] = [];
	for (let dir = directory; ; dir = path.dirname(dir)) {
		if (dir !== directory) {
			const file = readGitignore(dir);
			if (file) {
				found.unshift(file);
			}
		}

		if (exists(path.join(dir, '.git')) || path.dirname(dir) === dir) {
			// Outside a repository only the tree's own .gitignore files count, as for git.
			return exists(path.join(dir, '.git')) ? found : [];
		}
	}
}

function readLimit(name: string): number | undefined {
	try {
		const value = Number(readFileSync(`/proc/sys/fs/inotify/${name}`, 'utf8').trim());
		return Number.isFinite(value) ? value : undefined;
	} catch {
		return undefined;
	}
}

function statOf(file: string): Stats | undefined {
	try {
		return statSync(file);
	} catch {
		return undefined;
	}
}

function isFile(file: string): boolean {
	return statOf(file)?.isFile() ?? false;
}

function isDirectory(file: string): boolean {
	return statOf(file)?.isDirectory() ?? false;
}

function exists(file: string): boolean {
	return statOf(file) !== undefined;
}
