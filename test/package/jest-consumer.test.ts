/**
 * Any test runner, from the package as users get it (issue #24): a fresh project with meshbox's packed tarball
 * and jest from the npm registry, no ava, type-checks its suite with `tsc --strict` (skipLibCheck off) and runs
 * it with jest on real Envoy: sandboxFor() and the assertions through jestTest(), jestStories(test), and a
 * forced failure that leaves the sandbox's report.
 *
 * The route for TypeScript: jest's native ESM (node --experimental-vm-modules, jest's documented way to run
 * ECMAScript modules), with babel-jest and @babel/preset-typescript stripping the types of the test files only.
 * meshbox is ESM only ("type": "module", an `import` export), so jest's CommonJS route would have to transpile
 * meshbox and its dependencies; ts-jest's ESM mode is marked experimental and type-checks again what `tsc`
 * checks. jest 30 runs on Node 18.14+, 20, 22 and 24 (its engines).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { requirementTest } from '../helpers/skip.ts';
import { consumerDecision, installConsumer, readmeExample, type ConsumerSpec } from './consumer.ts';
import { packCheckout } from './pack.ts';

const suite = `import { expect, test } from '@jest/globals';
import { assertShortCircuit, jestStories, jestTest, sandboxFor, type SandboxResponse } from 'meshbox';

const plugins = [{ name: 'seed', wasm: 'node_modules/meshbox/fixtures/plugins/seed-rust/seed-rust.wasm' }];
const story = await jestStories(test);

test('sandboxFor on jest', jestTest(async t => {
	const box = await sandboxFor(t, { plugins });
	const response: SandboxResponse = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	expect(response.body).toBe('Hello from Wasm!\\n');
	await assertShortCircuit(t, response, box, 200);
}));

story('a story on jest', async (t, { sandbox }) => {
	const box = await sandbox({ plugins });
	expect((await box.request('/')).body).toBe('Hello from Wasm!\\n');
	if (t.title === '') {
		// @ts-expect-error: t is meshbox's JestScenarioTest, which has no such member (never run).
		t.nope();
	}
});

test('a failing test leaves its report', jestTest(async t => {
	const box = await sandboxFor(t, { plugins });
	await assertShortCircuit(t, await box.request('/'), box, 418);
}));
`;

const spec: ConsumerSpec = {
	runner: 'jest',
	devDependencies: { jest: '30.5.2', '@babel/core': '7.29.17', '@babel/preset-typescript': '7.29.17' },
	packageFields: {
		jest: { testEnvironment: 'node', extensionsToTreatAsEsm: ['.ts'], transform: { '\\.ts$': 'babel-jest' }, testTimeout: 60_000 },
	},
	files: {
		'babel.config.json': JSON.stringify({ presets: ['@babel/preset-typescript'] }),
		'tsconfig.json': JSON.stringify({
			compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
			include: ['test/*.ts'],
		}),
		'test/plugin.test.ts': suite,
		// Type-checked, not run (neither runner takes it for a test file: no .test. in its name).
		'test/readme-example.ts': await readmeExample('jest'),
	},
};

const test = requirementTest(await consumerDecision(spec));

type JestJson = { testResults: Array<{ assertionResults: Array<{ fullName: string; status: string }> }> };

test('a jest project without ava: tsc --strict passes on meshbox\'s types and the README\'s example, the suite runs on real Envoy, a failure leaves its report', async t => {
	t.timeout(10 * 60_000);
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-jest-consumer-'));
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const packed = await packCheckout(dir);
	const project = await installConsumer(dir, packed.tarball, spec);
	t.false(existsSync(path.join(project, 'node_modules', 'ava')), 'ava is not installed');

	const typecheck = await execa('node', [path.join(project, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: project, reject: false, all: true });
	t.is(typecheck.exitCode, 0, `tsc --strict on the shipped declarations, without ava:\n${typecheck.all}`);

	const reports = path.join(project, 'reports');
	const run = await execa('node', ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--json', '--outputFile=results.json'], {
		cwd: project, reject: false, all: true, env: { MESHBOX_RUNTIMES: 'local', MESHBOX_REPORTS_DIR: reports, NO_COLOR: '1' },
	});
	t.is(run.exitCode, 1, `one test fails:\n${run.all}`);
	const results = JSON.parse(await readFile(path.join(project, 'results.json'), 'utf8')) as JestJson;
	const outcomes = Object.fromEntries(results.testResults.flatMap(file => file.assertionResults.map(result => [result.fullName, result.status])));
	t.deepEqual(outcomes, { 'sandboxFor on jest': 'passed', '[local] a story on jest': 'passed', 'a failing test leaves its report': 'failed' }, run.all);
	t.regex(run.all ?? '', /status of the local reply/, 'the assertion\'s message');

	// jest prints a test's console output (on stderr) with the line that wrote it.
	const named = /^\s*meshbox: the sandbox's debug report \(.*\) is in (.+)$/m.exec(run.all ?? '')?.[1];
	t.truthy(named, `the report's path in the failing test's output:\n${run.all}`);
	t.deepEqual(await readdir(reports), [path.basename(named ?? '')], 'only the failing test has a report');
	const files = await readdir(path.resolve(project, named ?? ''));
	t.true(files.includes('bootstrap.yaml') && files.includes('config_dump.json'), files.join(', '));
});
