/**
 * The package as users get it: `npm pack` ships compiled JavaScript with type declarations, the README, the
 * seed plugin and the `meshbox init` templates, and nothing else (no tests, no conformance fixtures, no
 * TypeScript sources). Installed into a fresh project (its dependencies from the npm registry, which `npm ci`
 * has cached), one JavaScript and two TypeScript scenarios run there on the local runtime against real Envoy,
 * the `.mts` one type-checked against the shipped declarations.
 *
 * The project is the "Add meshbox to an existing repository" recipe, read from docs/plugin-repository.md: a
 * CommonJS package (what `npm init -y` writes) with its `ava` config, and its scenario verbatim; so the
 * recipe stays true.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from '../helpers/paths.ts';
import { packCheckout } from './pack.ts';

const jsScenario = `import test from 'ava';
import { assertLogged, assertShortCircuit, sandboxFor } from 'meshbox';

const wasm = 'node_modules/meshbox/fixtures/plugins/seed-rust/seed-rust.wasm';

test('js: the seed plugin answers and the app never sees the request', async t => {
	const box = await sandboxFor(t, { plugins: [{ name: 'seed', wasm }] });
	const response = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	t.is(response.body, 'Hello from Wasm!\\n');
	await assertShortCircuit(t, response, box, 200);
	await assertLogged(t, box, { plugin: 'seed', message: 'Received request for: my-app.example.com /hello' });
});
`;

/** The docs' recipe (docs/plugin-repository.md): the section's package.json (its `ava` config) and its TypeScript scenario. */
async function readmeRecipe(): Promise<{ ava: Record<string, unknown>; scenario: string }> {
	const readme = await readFile(path.join(repoRoot, 'docs/plugin-repository.md'), 'utf8');
	const start = readme.indexOf('\n## Add meshbox to an existing repository\n');
	const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
	const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
	const scenario = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
	if (start < 0 || json === undefined || scenario === undefined) {
		throw new Error('docs/plugin-repository.md: the section "Add meshbox to an existing repository" with a ```json and a ```ts block is gone');
	}

	return { ava: (JSON.parse(json) as { ava: Record<string, unknown> }).ava, scenario };
}

const tsScenario = `import test from 'ava';
import { mockService, stories, type SandboxResponse } from 'meshbox';

const story = await stories(test);

story('ts: a mock service typed by its cluster name', async (t, { sandbox, runtime }) => {
	const box = await sandbox({ clusters: { authz: mockService({ status: 200, body: 'ok' }) } });
	const response: SandboxResponse = await box.request('/');
	t.is(response.body, 'Hello, world!\\n');
	t.is(await box.mocks.authz.hits(), 0);
	// @ts-expect-error: no cluster is named nope, and the declarations say so.
	t.is(box.mocks.nope, undefined);
	t.is(runtime, 'local');
});
`;

test('npm pack ships dist, types, README and the seed; a fresh project runs a JS and a TS scenario with it', async t => {
	t.timeout(10 * 60_000);
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-package-'));
	t.teardown(async () => rm(dir, { recursive: true, force: true }));

	// prepack builds dist/ (tsc -p tsconfig.build.json) first, in a stage of its own (./pack.ts).
	const packed = await packCheckout(dir);
	t.log(`${packed.filename}: ${(packed.size / 1024).toFixed(0)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${packed.files.length} files`);
	const { files } = packed;
	for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'bin/meshbox.js', 'README.md', 'package.json', 'fixtures/plugins/seed-rust/seed-rust.wasm', 'templates/rust/Cargo.toml', 'templates/go/main.go']) {
		t.true(files.includes(needed), `the package has ${needed}`);
	}

	const stray = files.filter(file => /^(?:src|test|scenarios|scripts|envoy-configs)\//.test(file) || (file.startsWith('fixtures/') && !file.startsWith('fixtures/plugins/seed-rust/')));
	t.deepEqual(stray, [], 'no sources, tests, scenarios or conformance fixtures');
	t.true(packed.size < 2 * 1024 * 1024, `the tarball stays small (${packed.size} bytes)`);

	const project = path.join(dir, 'project');
	const versionOf = async (name: string) => (JSON.parse(await readFile(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
	const [avaVersion, tsxVersion] = await Promise.all([versionOf('ava'), versionOf('tsx')]);
	await mkdir(project);
	const recipe = await readmeRecipe();
	await writeFile(path.join(project, 'package.json'), JSON.stringify({
		name: 'my-plugin',
		private: true,
		type: 'commonjs',
		// The README's `npm install --save-dev <tarball> ava@7 tsx@4`.
		devDependencies: { meshbox: `file:${packed.tarball}`, ava: avaVersion, tsx: tsxVersion },
		ava: recipe.ava,
	}, undefined, 2));
	await mkdir(path.join(project, 'test'));
	await writeFile(path.join(project, 'test', 'seed.test.mjs'), jsScenario);
	// A top-level await (stories()) needs an ES module: .mts in a CommonJS package, as the README says.
	await writeFile(path.join(project, 'test', 'mock.test.mts'), tsScenario);
	await writeFile(path.join(project, 'test', 'plugin.test.ts'), recipe.scenario);
	await writeFile(path.join(project, 'tsconfig.json'), JSON.stringify({
		compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
		include: ['test/*.mts'],
	}));
	await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project });

	// The package's entry point is the compiled JavaScript, and only the documented API is exported.
	const exported = await execa('node', ['--input-type=module', '-e', 'console.log(Object.keys(await import("meshbox")).sort().join(" "))'], { cwd: project });
	const names = exported.stdout.split(' ');
	for (const name of ['startSandbox', 'sandboxFor', 'stories', 'mockService', 'startMockService', 'wasmPlugin', 'envoyFilter', 'assertShortCircuit', 'MeshboxError']) {
		t.true(names.includes(name), `exports ${name}`);
	}

	for (const internal of ['resolveSpec', 'loadConfigFile', 'provisionEnvoy', 'pinnedEnvoyVersion']) {
		t.false(names.includes(internal), `does not export ${internal}`);
	}

	const help = await execa('npx', ['meshbox', '--help'], { cwd: project });
	t.regex(help.stdout, /usage: meshbox <command>/, 'the installed bin runs (from dist/)');

	const typecheck = await execa('node', [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: project, reject: false, all: true });
	t.is(typecheck.exitCode, 0, `the TS scenario type-checks against the shipped .d.ts files:\n${typecheck.all}`);

	const run = await execa('npx', ['ava', '--tap'], { cwd: project, reject: false, all: true, env: { MESHBOX_RUNTIMES: 'local' } });
	t.is(run.exitCode, 0, run.all);
	t.regex(run.stdout, /^ok \d+ - seed › js: the seed plugin answers/m);
	t.regex(run.stdout, /^ok \d+ - mock › \[local\] ts: a mock service typed by its cluster name/m);
	t.regex(run.stdout, /^ok \d+ - plugin › the seed plugin answers and the app never sees the request/m, 'the README\'s scenario passes');
});
