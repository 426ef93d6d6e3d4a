/**
 * `meshbox init`: each SDK's project builds, passes its own tests and `tsc` at once, as generated, with meshbox
 * installed the way a plugin repository gets it: a packed tarball of this checkout, which init copies into the
 * project (`tarballs/`) and names relatively, so that CI installs it too; the other dependencies from the npm
 * registry, cached by `npm ci`. Its workflow passes actionlint (installed by .ci/run from the Go module proxy)
 * and runs the tests as CI would (`npm test -- --tap | meshbox junit`): a forced failure leaves its debug report
 * in the uploaded path, named in junit.xml. The AssemblyScript plugin reloads under `up --watch` without traps.
 * The toolchains are the ones the plugin fixtures build with (README "Plugin fixtures"): Debian's cargo
 * (crates.io through its sparse index; crates cached in CARGO_HOME across runs), Go ≥ 1.24, AssemblyScript from npm.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import anyTest from 'ava';
import { execa } from 'execa';
import { parse } from 'yaml';
import { RunningCli } from '../helpers/cli.ts';
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
const actionlint = process.env.MESHBOX_ACTIONLINT ?? 'actionlint';
const actionlintPresent = await execa(actionlint, ['-version'], { reject: false }).then(result => result.exitCode === 0, () => false);
const lintTest = requirementTest(decideRequirement({
	what: `actionlint (${actionlint}; MESHBOX_ACTIONLINT=/path/to/actionlint)`,
	neededBy: 'the meshbox init workflow lint',
	install: 'go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12',
	present: actionlintPresent,
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

async function scaffoldBuildAndTest(t: import('ava').ExecutionContext, sdk: string, toolchain: Toolchain): Promise<{ project: string; env: NodeJS.ProcessEnv }> {
	t.timeout(15 * 60_000);
	const project = path.join(work, `${sdk}-plugin`);
	const tarball = await packed();
	const init = await execa('node', [meshboxCli, 'init', project, '--sdk', sdk, '--meshbox', tarball]);
	t.regex(init.stdout, /next: cd .* && npm install && npm test/);
	for (const file of ['package.json', 'meshbox.yaml', 'test/plugin.test.ts', '.github/workflows/test.yml', '.gitignore', 'README.md', 'tsconfig.json']) {
		t.true(existsSync(path.join(project, file)), `${sdk}: ${file} was written`);
	}

	// The tarball travels with the project: CI has no path to this machine's temp directory.
	const manifest = JSON.parse(await readFile(path.join(project, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
	t.is(manifest.devDependencies.meshbox, `file:tarballs/${path.basename(tarball)}`);
	t.true(existsSync(path.join(project, 'tarballs', path.basename(tarball))));
	t.truthy(manifest.devDependencies['@types/node'] && manifest.devDependencies.typescript, 'tsc and node\'s types are dependencies');
	t.notRegex(await readFile(path.join(project, 'test/plugin.test.ts'), 'utf8'), /__[A-Z_]+__/, 'every placeholder was filled');
	const env = { ...process.env, ...toolchain.env, PATH: `${toolchain.pathDir}${path.delimiter}${process.env.PATH ?? ''}`, MESHBOX_RUNTIMES: 'local' };
	await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project, env });
	const run = await execa('npm', ['test', '--', '--tap'], { cwd: project, env, reject: false, all: true });
	t.is(run.exitCode, 0, run.all);
	t.regex(run.stdout, /^ok \d+ - (?:plugin › )?\[local\] the plugin answers every request itself; the app never sees it$/m);
	const typecheck = await execa('npm', ['run', 'typecheck'], { cwd: project, env, reject: false, all: true });
	t.is(typecheck.exitCode, 0, `tsc passes on the generated project:\n${typecheck.all}`);
	return { project, env };
}

type Workflow = { jobs: { test: { steps: Array<{ name?: string; uses?: string; run?: string; shell?: string; with?: Record<string, unknown> }> } } };

anyTest('the generated workflow: current action majors, Envoy in its own step, a cache per meshbox version, reports and JUnit uploaded', async t => {
	const project = path.join(work, 'workflow');
	await execa('node', [meshboxCli, 'init', project, '--sdk', 'rust']);
	const workflow = parse(await readFile(path.join(project, '.github/workflows/test.yml'), 'utf8')) as Workflow;
	const { steps } = workflow.jobs.test;
	const uses = steps.flatMap(step => step.uses === undefined ? [] : [step.uses]);
	// The majors current when this was written (their repositories' newest tags): checkout v7, setup-node v7,
	// cache v5, upload-artifact v7.
	t.deepEqual(uses.filter(action => action.startsWith('actions/')), ['actions/checkout@v7', 'actions/setup-node@v7', 'actions/cache@v5', 'actions/upload-artifact@v7']);
	const envoy = steps.findIndex(step => step.run === 'npx meshbox envoy');
	const tests = steps.findIndex(step => step.run?.startsWith('npm test') === true);
	t.true(envoy > 0 && envoy < tests, 'Envoy is installed in a step of its own, before the tests');
	t.regex(steps[envoy]?.name ?? '', /Envoy/);
	const cache = steps.find(step => step.uses?.startsWith('actions/cache@'));
	t.regex(String(cache?.with?.key), /hashFiles\('node_modules\/meshbox\/package\.json'\)/, 'the cache key changes with the meshbox version');
	t.true(steps.indexOf(cache!) > steps.findIndex(step => step.run?.includes('npm install') === true), 'after npm install, when node_modules/meshbox exists');
	t.is(steps[tests]?.shell, 'bash', 'bash runs it with pipefail');
	t.regex(steps[tests]?.run ?? '', /\| npx meshbox junit --out junit\.xml$/);
	const upload = steps.find(step => step.uses?.startsWith('actions/upload-artifact@'));
	t.is(upload?.with?.['include-hidden-files'], true, '.meshbox is hidden: upload-artifact leaves it out unless asked');
	t.deepEqual(String(upload?.with?.path).trim().split('\n'), ['junit.xml', '.meshbox/reports/']);
	t.true(steps.some(step => step.run === 'npx tsc'));
});

lintTest('the generated workflows pass actionlint', async t => {
	for (const sdk of ['rust', 'go', 'assemblyscript']) {
		const project = path.join(work, `lint-${sdk}`);
		await execa('node', [meshboxCli, 'init', project, '--sdk', sdk]);
		const lint = await execa(actionlint, ['-no-color', '.github/workflows/test.yml'], { cwd: project, reject: false, all: true });
		t.is(lint.exitCode, 0, `${sdk}: ${lint.all}`);
	}
});

anyTest('a directory with spaces: the printed `cd` works in a shell, and --meshbox paths are written relatively', async t => {
	const project = path.join(work, 'with space', 'my plugin');
	const checkout = path.dirname(path.dirname(meshboxCli));
	const init = await execa('node', [meshboxCli, 'init', project, '--sdk', 'go', '--meshbox', checkout]);
	const cd = /^next: (cd .*?) && npm install/m.exec(init.stdout)?.[1];
	t.truthy(cd, init.stdout);
	const shell = await execa('sh', ['-c', `${cd} && pwd -P`], { cwd: work });
	t.is(shell.stdout, await realpath(project));
	const manifest = JSON.parse(await readFile(path.join(project, 'package.json'), 'utf8')) as { name: string; devDependencies: Record<string, string> };
	t.is(manifest.name, 'my-plugin');
	t.is(manifest.devDependencies.meshbox, `file:${path.relative(project, checkout).split(path.sep).join('/')}`);
	t.false(path.isAbsolute((manifest.devDependencies.meshbox ?? '').slice('file:'.length)));
	const missing = await execa('node', [meshboxCli, 'init', path.join(work, 'other'), '--meshbox', path.join(work, 'nope.tgz')], { reject: false });
	t.is(missing.exitCode, 2);
	t.regex(missing.stderr, /--meshbox .*nope\.tgz: no such file or directory/);
	t.false(existsSync(path.join(work, 'other')), 'nothing written');
});

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
	const { project } = await scaffoldBuildAndTest(t, 'rust', {
		pathDir: path.dirname(cargo),
		// Cargo before 1.68 (Debian's 1.65) reaches crates.io only through the sparse index behind this switch.
		env: { RUSTC_BOOTSTRAP: '1', CARGO_UNSTABLE_SPARSE_REGISTRY: 'true' },
	});
	t.true(existsSync(path.join(project, 'target/wasm32-unknown-unknown/release/rust_plugin.wasm')));
});

goTest.serial('meshbox init --sdk go: the project builds (wasip1 c-shared) and its scenario passes on real Envoy', async t => {
	const { project } = await scaffoldBuildAndTest(t, 'go', { pathDir: path.dirname(go), env: { GOTOOLCHAIN: 'local' } });
	t.true(existsSync(path.join(project, 'build/plugin.wasm')));
});

anyTest.serial('meshbox init --sdk assemblyscript: the project builds (asc from npm), its scenario passes on real Envoy, it reloads without traps, and CI\'s test step reports a failure with its debug report', async t => {
	const { project, env } = await scaffoldBuildAndTest(t, 'assemblyscript', { pathDir: path.join(work, 'assemblyscript-plugin', 'node_modules', '.bin') });
	t.true(existsSync(path.join(project, 'build/plugin.wasm')));
	t.regex(await readFile(path.join(project, 'meshbox.yaml'), 'utf8'), /rootId: "assemblyscript-plugin"/, 'the root context is selected by the plugin\'s name');

	// `npm run sandbox`'s loop: an edit rebuilds, the new module replaces the old one, whose root context Envoy
	// then ends (proxy_on_done, proxy_on_delete on the root context: the SDK alone traps there).
	const cli = RunningCli.start(['up', '--watch', '--verbose', '--port', '0'], { cwd: project, env: env as Record<string, string> });
	try {
		const [, url] = await cli.waitForLine(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/, 120_000);
		await cli.waitForLine(/watching the plugins' \.wasm files and the sources of assemblyscript-plugin/);
		const source = path.join(project, 'assembly', 'index.ts');
		await writeFile(source, (await readFile(source, 'utf8')).replace('Hello from Wasm!', 'Hello again!'));
		await cli.waitForLine(/^reloaded assemblyscript-plugin \(sha256/, 180_000);
		const response = await fetch(`${url}/hello`, { headers: { host: 'my-app.example.com' } });
		t.is(await response.text(), 'Hello again!\n');
	} finally {
		t.is(await cli.stop('SIGINT'), 0);
	}

	const traps = cli.lines.filter(line => /Uncaught RuntimeError|abort: |proxy_on_\w+ failed/.test(line));
	t.deepEqual(traps, [], 'no trap at the reload or the stop');

	// The workflow's test step, with a scenario that fails: the run fails, junit.xml names the test, its file
	// and the debug report, which is under .meshbox/reports/ (the uploaded path).
	await writeFile(path.join(project, 'test', 'forced.test.ts'), [
		'import test from \'ava\';',
		'import { sandboxFor } from \'meshbox\';',
		'',
		'test(\'a forced failure\', async t => {',
		'\tconst box = await sandboxFor(t, { plugins: [{ name: \'assemblyscript-plugin\', wasm: \'build/plugin.wasm\', rootId: \'assemblyscript-plugin\' }] });',
		'\tt.is((await box.request(\'/\')).body, \'not what it says\');',
		'});',
		'',
	].join('\n'));
	const workflow = parse(await readFile(path.join(project, '.github/workflows/test.yml'), 'utf8')) as Workflow;
	const step = workflow.jobs.test.steps.find(entry => entry.run?.startsWith('npm test') === true)!;
	const ci = await execa('bash', ['-o', 'pipefail', '-c', step.run!], { cwd: project, env, reject: false, all: true });
	t.not(ci.exitCode, 0, 'the step fails');
	const junit = await readFile(path.join(project, 'junit.xml'), 'utf8');
	t.regex(junit, /<testcase classname="forced" name="a forced failure" time="\d+\.\d{3}">/);
	t.regex(junit, /<testcase classname="plugin" name="\[local\] the plugin answers every request itself; the app never sees it"/);
	const report = /<property name="meshbox.report" value="([^"]+)"\/>/.exec(junit)?.[1];
	t.truthy(report, junit);
	t.true((await stat(path.resolve(project, report!))).isDirectory(), `the report ${report} exists`);
	t.true(path.relative(path.join(project, '.meshbox', 'reports'), path.resolve(project, report!)).split(path.sep)[0] !== '..', 'inside .meshbox/reports/, the uploaded path');
});
