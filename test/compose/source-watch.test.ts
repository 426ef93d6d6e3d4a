/**
 * `meshbox up --watch` watches what a plugin's build reads and nothing else (src/compose/source-watch.ts), on
 * real project layouts in a temp directory with real inotify watches: a Rust crate (src/, Cargo.toml, a big
 * target/) and an AssemblyScript project (assembly/, node_modules/assemblyscript, build/), each inside a git
 * repository with a .gitignore. When the kernel refuses a watch it polls instead and says so.
 */
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import type { FSWatcher } from 'node:fs';
import { watch } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { isIgnoredByGit, parseGitignore } from '../../src/compose/gitignore.ts';
import { watchSources, type SourceWatcher, type WatchFunction } from '../../src/compose/source-watch.ts';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-source-watch-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

async function put(file: string, text = ''): Promise<void> {
	await mkdir(path.dirname(file), { recursive: true });
	await writeFile(file, text);
}

/** `count` nested directories under `root`, as cargo's target/ and npm's node_modules/ have by the thousand. */
async function manyDirectories(root: string, count: number): Promise<void> {
	await Promise.all(Array.from({ length: count }, async (_, index) => put(path.join(root, `d${index % 20}`, `e${index}`, 'file'))));
}

/** A Rust crate as `meshbox init --sdk rust` makes it, after a build and an `npm install`, in a git repository. */
async function rustProject(name: string): Promise<string> {
	const dir = path.join(scratch, name);
	await put(path.join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
	await put(path.join(dir, '.gitignore'), 'node_modules/\ntarget/\n/generated/\n*.tmp\n!keep.tmp\n');
	await put(path.join(dir, 'Cargo.toml'), '[package]\nname = "plugin"\n');
	await put(path.join(dir, 'src', 'lib.rs'), 'fn main() {}\n');
	await put(path.join(dir, 'meshbox.yaml'), 'plugins: []\n');
	await put(path.join(dir, 'generated', 'out.rs'));
	await manyDirectories(path.join(dir, 'target', 'wasm32-unknown-unknown', 'release', 'deps'), 200);
	await manyDirectories(path.join(dir, 'node_modules'), 100);
	return dir;
}

/** Collects onChange calls; `until` resolves once a given file changed. */
function recorder() {
	const changes: string[] = [];
	const waiters: Array<{ file: string; resolve: () => void }> = [];
	return {
		changes,
		onChange(file: string) {
			changes.push(file);
			for (const waiter of waiters.filter(entry => entry.file === file)) {
				waiter.resolve();
			}
		},
		async until(file: string, timeoutMs = 10_000): Promise<void> {
			if (changes.includes(file)) {
				return;
			}

			await new Promise<void>((resolve, reject) => {
				const timer = setTimeout(() => {
					reject(new Error(`no change of ${file} within ${timeoutMs} ms; seen: ${changes.join(', ')}`));
				}, timeoutMs);
				waiters.push({ file, resolve: () => {
					clearTimeout(timer);
					resolve();
				} });
			});
		},
	};
}

/** The inotify watches this process holds (/proc/self/fdinfo of its inotify descriptors: one `inotify wd:` line each). */
async function inotifyWatches(): Promise<number> {
	let count = 0;
	for (const fd of await readdir('/proc/self/fd')) {
		const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
		if (target === 'anon_inode:inotify') {
			const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
			count += info.split('\n').filter(line => line.startsWith('inotify wd:')).length;
		}
	}

	return count;
}

test.serial('a Rust crate: only the crate\'s own source directories are watched, with one inotify watch each', async t => {
	const dir = await rustProject('rust');
	const seen = recorder();
	const before = await inotifyWatches();
	const watcher = watchSources(dir, { onChange: seen.onChange, report: line => t.log(line), ignore: file => file === path.join(dir, 'meshbox.yaml') });
	t.teardown(() => {
		watcher.close();
	});
	t.is(watcher.mode(), 'events');
	t.deepEqual(watcher.directories(), [dir, path.join(dir, 'src')]);
	t.is(await inotifyWatches() - before, 2, 'two inotify watches, not one per directory of target/ and node_modules/');

	// What no build reads: outputs, dependencies, git's state, ignored files, meshbox's own config.
	await put(path.join(dir, 'target', 'wasm32-unknown-unknown', 'release', 'plugin.wasm'), 'x');
	await put(path.join(dir, 'node_modules', 'd1', 'e1', 'file'), 'x');
	await put(path.join(dir, '.git', 'index'), 'x');
	await put(path.join(dir, 'generated', 'out.rs'), 'x');
	await put(path.join(dir, 'src', 'scratch.tmp'), 'x');
	await put(path.join(dir, 'src', '.lib.rs.swp'), 'x');
	await put(path.join(dir, 'meshbox.yaml'), 'plugins: [] # edited\n');
	// What the build reads.
	await put(path.join(dir, 'src', 'lib.rs'), 'fn main() { }\n');
	await seen.until(path.join(dir, 'src', 'lib.rs'));
	await put(path.join(dir, 'src', 'keep.tmp'), 'x');
	await seen.until(path.join(dir, 'src', 'keep.tmp'));
	t.deepEqual([...new Set(seen.changes)].sort(), [path.join(dir, 'src', 'keep.tmp'), path.join(dir, 'src', 'lib.rs')], '`!keep.tmp` re-includes');

	// A new module directory is watched from its creation on.
	await mkdir(path.join(dir, 'src', 'filters'));
	await seen.until(path.join(dir, 'src', 'filters'));
	await put(path.join(dir, 'src', 'filters', 'mod.rs'), 'x');
	await seen.until(path.join(dir, 'src', 'filters', 'mod.rs'));
	t.true(watcher.directories().includes(path.join(dir, 'src', 'filters')));
	await rm(path.join(dir, 'src', 'filters'), { recursive: true });
	await seen.until(path.join(dir, 'src', 'filters'));
	t.false(watcher.directories().includes(path.join(dir, 'src', 'filters')), 'a removed directory\'s watch is dropped');
});

test.serial('an AssemblyScript project: assembly/ is watched, node_modules/assemblyscript and build/ are not', async t => {
	const dir = path.join(scratch, 'as project');
	await put(path.join(dir, 'asconfig.json'), '{}');
	await put(path.join(dir, 'package.json'), '{}');
	await put(path.join(dir, 'assembly', 'index.ts'), 'export function x(): void {}\n');
	await manyDirectories(path.join(dir, 'node_modules', 'assemblyscript', 'std'), 150);
	await put(path.join(dir, 'build', 'plugin.wasm'), 'x');
	const seen = recorder();
	const watcher = watchSources(dir, { onChange: seen.onChange, report: line => t.log(line) });
	t.teardown(() => {
		watcher.close();
	});
	t.deepEqual(watcher.directories(), [dir, path.join(dir, 'assembly')], 'no .gitignore needed for node_modules and build');
	await put(path.join(dir, 'build', 'plugin.wasm'), 'y');
	await put(path.join(dir, 'assembly', 'index.ts'), 'export function y(): void {}\n');
	await seen.until(path.join(dir, 'assembly', 'index.ts'));
	t.deepEqual([...new Set(seen.changes)], [path.join(dir, 'assembly', 'index.ts')]);
});

test.serial('the kernel refuses a watch (ENOSPC): it says which limit and polls the same sources instead', async t => {
	const dir = await rustProject('limit');
	const reports: string[] = [];
	const seen = recorder();
	// The watch limit reached at the second directory: what inotify_add_watch(2) says then, through fs.watch.
	let calls = 0;
	const watchDirectory: WatchFunction = (directory, listener): FSWatcher => {
		if (++calls === 2) {
			throw Object.assign(new Error(`ENOSPC: System limit for number of file watchers reached, watch '${directory}'`), { code: 'ENOSPC' });
		}

		return watch(directory, { persistent: false }, listener);
	};

	const watcher: SourceWatcher = watchSources(dir, { onChange: seen.onChange, report: line => reports.push(line), pollIntervalMs: 50, watchDirectory });
	t.teardown(() => {
		watcher.close();
	});
	t.is(watcher.mode(), 'polling');
	t.is(reports.length, 1);
	t.regex(reports[0] ?? '', /system refused another file watch \(ENOSPC at .*: fs\.inotify\.max_user_watches = \d+ reached\): polling .* every 50 ms instead/);
	t.regex(reports[0] ?? '', /sudo sysctl fs\.inotify\.max_user_watches=/, 'and how to raise the limit');
	t.deepEqual(watcher.directories(), [dir, path.join(dir, 'src')], 'polling walks the same directories');

	await put(path.join(dir, 'target', 'wasm32-unknown-unknown', 'release', 'plugin.wasm'), 'x');
	// Polling compares modification times: a new size makes the change certain within one tick.
	await put(path.join(dir, 'src', 'lib.rs'), 'fn main() { let changed = 1; }\n');
	await seen.until(path.join(dir, 'src', 'lib.rs'));
	await put(path.join(dir, 'src', 'new.rs'), 'x');
	await seen.until(path.join(dir, 'src', 'new.rs'));
	t.deepEqual([...new Set(seen.changes)].sort(), [path.join(dir, 'src', 'lib.rs'), path.join(dir, 'src', 'new.rs')]);
});

test('gitignore: anchoring, directories only, negation, `**`, classes', t => {
	const base = '/p';
	const rules = [{ base, rules: parseGitignore('# comment\n\n/build\nlogs/\n*.o\n!keep.o\ndocs/**/*.md\n**/cache\nfile[0-9].txt\n\\#hash\n') }];
	const ignored = (file: string, isDirectory = false) => isIgnoredByGit(path.join(base, file), isDirectory, rules);
	t.true(ignored('build', true));
	t.false(ignored('src/build', true), '/build is anchored to the .gitignore\'s directory');
	t.true(ignored('src/logs', true));
	t.false(ignored('src/logs'), 'logs/ matches directories only');
	t.true(ignored('a/b/x.o'));
	t.false(ignored('a/keep.o'));
	t.true(ignored('docs/md/a.md') && ignored('docs/a.md'));
	t.false(ignored('src/a.md'));
	t.true(ignored('x/y/cache', true));
	t.true(ignored('file7.txt'));
	t.false(ignored('fileA.txt'));
	t.true(ignored('#hash'));
	const nested = [...rules, { base: '/p/src', rules: parseGitignore('!*.o\n') }];
	t.false(isIgnoredByGit('/p/src/x.o', false, nested), 'a deeper .gitignore comes last');
});
