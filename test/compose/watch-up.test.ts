/**
 * `meshbox up --watch` in a Rust crate's layout, as a user runs it (the CLI, real Envoy): the default `watch`
 * (the project directory) costs a handful of inotify watches, not one per directory of target/ and
 * node_modules/, and writes there start no build. And a failed build shows the compiler's first error, not only
 * the end of its output.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { OutputSummary } from '../../src/compose/build.ts';
import { RunningCli } from '../helpers/cli.ts';
import { fixturePlugin, seedWasm } from '../helpers/paths.ts';

async function put(file: string, text = ''): Promise<void> {
	await mkdir(path.dirname(file), { recursive: true });
	await writeFile(file, text);
}

/** The inotify watches process `pid` holds (one `inotify wd:` line per watch in its inotify descriptors' fdinfo). */
async function inotifyWatches(pid: number): Promise<number> {
	let count = 0;
	for (const fd of await readdir(`/proc/${pid}/fd`)) {
		if (await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '') === 'anon_inode:inotify') {
			const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
			count += info.split('\n').filter(line => line.startsWith('inotify wd:')).length;
		}
	}

	return count;
}

// The "build" (cargo's stand-in, so that the test needs no Rust toolchain): counts its runs in target/, as
// cargo writes there, and makes out/plugin.wasm: another plugin than the seed, so that the reload shows.
const buildScript = `
import { appendFileSync, copyFileSync, mkdirSync } from 'node:fs';
mkdirSync('target', { recursive: true });
appendFileSync('target/builds.txt', 'built\\n');
copyFileSync(${JSON.stringify(fixturePlugin('rust-headers'))}, 'out/plugin.wasm');
`;

test('up --watch in a Rust crate: a few inotify watches, and target/, node_modules/, .git/ start no build', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-watch-up-'));
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	await put(path.join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
	await put(path.join(dir, 'Cargo.toml'), '[package]\nname = "plugin"\n');
	await put(path.join(dir, 'src', 'lib.rs'), 'fn main() {}\n');
	await put(path.join(dir, 'build.mjs'), buildScript);
	// cargo's target/ and npm's node_modules/: hundreds of directories (thousands in a real crate).
	await Promise.all(Array.from({ length: 300 }, async (_, index) => put(path.join(dir, index % 2 ? 'target' : 'node_modules', `d${index % 10}`, `e${index}`, 'f'))));
	await mkdir(path.join(dir, 'out'));
	await copyFile(seedWasm, path.join(dir, 'out', 'plugin.wasm'));
	await put(path.join(dir, 'meshbox.yaml'), 'port: 0\nplugins:\n  - name: app\n    wasm: out/plugin.wasm\n    build: { command: [node, build.mjs] }\n');

	const cli = RunningCli.start(['up', '--watch'], { cwd: dir });
	t.teardown(async () => {
		await cli.stop();
	});
	await cli.waitForLine(/watching the plugins' \.wasm files and the sources of app/);
	const watches = await inotifyWatches(cli.process.pid!);
	t.log(`meshbox up --watch holds ${watches} inotify watches`);
	t.true(watches <= 5, `${watches} inotify watches: the project, src/, out/ (for the module), not target/ or node_modules/`);
	t.true(cli.lines.some(line => line.startsWith('meshbox: app: watching 2 directories of . ')), 'and says what it watches');

	await put(path.join(dir, 'target', 'd1', 'e1', 'f'), 'x');
	await put(path.join(dir, 'node_modules', 'd0', 'e0', 'f'), 'x');
	await put(path.join(dir, '.git', 'index'), 'x');
	await put(path.join(dir, 'src', 'lib.rs'), 'fn main() { }\n');
	await cli.waitForLine(/^reloaded app \(sha256 [\da-f]{12}…\) in \d+ ms$/);
	t.is(await readFile(path.join(dir, 'target', 'builds.txt'), 'utf8'), 'built\n', 'one build: for src/lib.rs alone');
	t.is(cli.lines.filter(line => line.startsWith('building app')).length, 1, cli.lines.join('\n'));
});

test('a failed build shows its first error with what follows it, and the end of the output', t => {
	const summary = new OutputSummary();
	const compiling = Array.from({ length: 40 }, (_, index) => `   Compiling dependency-${index} v1.0.0`);
	const cause = ['error[E0308]: mismatched types', '  --> src/lib.rs:12:20', '   |', '12 |     let x: u32 = "text";', '   |            ---   ^^^^^^ expected `u32`, found `&str`'];
	const consequences = Array.from({ length: 60 }, (_, index) => `error[E0425]: cannot find value \`x${index}\` in this scope`);
	summary.push(`${[...compiling, ...cause, ...consequences, 'error: could not compile `plugin` (lib) due to 61 previous errors'].join('\n')}\n`);
	const lines = summary.lines();
	const first = lines.indexOf('error[E0308]: mismatched types');
	t.true(first > 0, `the first error is shown:\n${lines.join('\n')}`);
	t.deepEqual(lines.slice(first, first + cause.length), cause, 'with the lines that explain it');
	t.is(lines[0], '   Compiling dependency-0 v1.0.0', 'the start is still shown');
	t.is(lines.at(-1), 'error: could not compile `plugin` (lib) due to 61 previous errors', 'and the end');
	t.true(lines.length <= 50, 'bounded');
	t.regex(lines[first - 1] ?? '', /^… 30 more lines not shown …$/);
});

test('a failed Go or AssemblyScript build: the file:line:col and ERROR lines count as the first error', t => {
	for (const error of ['./main.go:12:2: undefined: proxywasm.SetHttpContext', 'ERROR TS2304: Cannot find name \'x\'.']) {
		const summary = new OutputSummary();
		summary.push(`${[...Array.from({ length: 50 }, (_, index) => `note ${index}`), error, ...Array.from({ length: 50 }, (_, index) => `after ${index}`)].join('\n')}\n`);
		t.true(summary.lines().includes(error), error);
	}
});
