/**
 * `meshbox init`: each SDK's project builds and passes its own tests at once, with meshbox installed the way a
 * plugin repository gets it (a packed tarball of this checkout, `file:` in package.json; the other
 * dependencies from the npm registry, cached by `npm ci`). The toolchains are the ones the plugin fixtures
 * build with (README "Plugin fixtures"): Debian's cargo (crates.io through its sparse index; crates cached in
 * CARGO_HOME across runs), Go ≥ 1.24, AssemblyScript from npm.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import anyTest from 'ava';
import { execa } from 'execa';
import { meshboxCli } from '../helpers/paths.ts';
import { decideRequirement, isExecutable } from '../helpers/requirements.ts';
import { requirementTest } from '../helpers/skip.ts';
import { packCheckout } from '../package/pack.ts';

const cargo = process.env.MESHBOX_CARGO ?? '/usr/bin/cargo';
const go = process.env.MESHBOX_GO ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : '/usr/bin/go');
const rustTest = requirementTest(decideRequirement({
	what: `Debian's Rust toolchain (${cargo}, wasm32-unknown-unknown)`,
	neededBy: 'the meshbox init Rust project test',
	install: 'sudo apt-get install -y cargo rustc libstd-rust-dev-wasm32',
	present: isExecutable(cargo) && existsSync('/usr/lib/rustlib/wasm32-unknown-unknown'),
}));
const goTest = requirementTest(decideRequirement({
	what: `Go >= 1.24 (${go}; MESHBOX_GO=/path/to/go)`,
	neededBy: 'the meshbox init Go project test',
	install: 'install Go from go.dev/dl (the Go fixtures need it too)',
	present: isExecutable(go),
}));

let work: string;
let tarball: Promise<string> | undefined;

anyTest.before(async () => {
	work = await mkdtemp(path.join(os.tmpdir(), 'meshbox-init-'));
});
anyTest.after.always(async () => {
	if (work) {
		await rm(work, { recursive: true, force: true });
	}
});

/** This checkout, packed as users get it (once per file). */
async function packed(): Promise<string> {
	tarball ??= packCheckout(work).then(result => result.tarball);
	return tarball;
}

type Toolchain = { readonly pathDir: string; readonly env?: Readonly<Record<string, string>> };

async function scaffoldBuildAndTest(t: import('ava').ExecutionContext, sdk: string, toolchain: Toolchain): Promise<string> {
	t.timeout(15 * 60_000);
	const project = path.join(work, `${sdk}-plugin`);
	const init = await execa('node', [meshboxCli, 'init', project, '--sdk', sdk, '--meshbox', `file:${await packed()}`]);
	t.regex(init.stdout, /next: cd .* && npm install && npm test/);
	for (const file of ['package.json', 'meshbox.yaml', 'test/plugin.test.ts', '.github/workflows/test.yml', '.gitignore', 'README.md']) {
		t.true(existsSync(path.join(project, file)), `${sdk}: ${file} was written`);
	}

	t.notRegex(await readFile(path.join(project, 'test/plugin.test.ts'), 'utf8'), /__[A-Z_]+__/, 'every placeholder was filled');
	const env = { ...toolchain.env, PATH: `${toolchain.pathDir}${path.delimiter}${process.env.PATH ?? ''}`, MESHBOX_RUNTIMES: 'local' };
	await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, env });
	const run = await execa('npm', ['test', '--', '--tap'], { cwd: project, env, reject: false, all: true });
	t.is(run.exitCode, 0, run.all);
	t.regex(run.stdout, /^ok \d+ - (?:plugin › )?\[local\] the plugin answers every request itself; the app never sees it$/m);
	return project;
}

anyTest('meshbox init refuses a directory that is not empty, and names it', async t => {
	const dir = path.join(work, 'taken');
	await mkdir(dir);
	await writeFile(path.join(dir, 'notes.txt'), 'mine\n');
	const result = await execa('node', [meshboxCli, 'init', dir, '--sdk', 'go'], { reject: false });
	t.is(result.exitCode, 2);
	t.true(result.stderr.includes(`${dir} is not empty`), result.stderr);
	t.deepEqual(await readdir(dir), ['notes.txt'], 'nothing was written');
	const unknown = await execa('node', [meshboxCli, 'init', path.join(work, 'new'), '--sdk', 'zig'], { reject: false });
	t.is(unknown.exitCode, 2);
	t.regex(unknown.stderr, /--sdk zig: no such template\n→ use one of: rust, go, assemblyscript/);
});

rustTest.serial('meshbox init --sdk rust: the project builds (Debian cargo) and its scenario passes on real Envoy', async t => {
	const project = await scaffoldBuildAndTest(t, 'rust', {
		pathDir: path.dirname(cargo),
		// Cargo before 1.68 (Debian's 1.65) reaches crates.io only through the sparse index behind this switch.
		env: { RUSTC_BOOTSTRAP: '1', CARGO_UNSTABLE_SPARSE_REGISTRY: 'true' },
	});
	t.true(existsSync(path.join(project, 'target/wasm32-unknown-unknown/release/rust_plugin.wasm')));
});

goTest.serial('meshbox init --sdk go: the project builds (wasip1 c-shared) and its scenario passes on real Envoy', async t => {
	const project = await scaffoldBuildAndTest(t, 'go', { pathDir: path.dirname(go), env: { GOTOOLCHAIN: 'local' } });
	t.true(existsSync(path.join(project, 'build/plugin.wasm')));
});

anyTest.serial('meshbox init --sdk assemblyscript: the project builds (asc from npm) and its scenario passes on real Envoy', async t => {
	const project = await scaffoldBuildAndTest(t, 'assemblyscript', { pathDir: path.join(work, 'assemblyscript-plugin', 'node_modules', '.bin') });
	t.true(existsSync(path.join(project, 'build/plugin.wasm')));
	t.regex(await readFile(path.join(project, 'meshbox.yaml'), 'utf8'), /rootId: "assemblyscript-plugin"/, 'the root context is selected by the plugin\'s name');
});
