/**
 * Any test runner, from the package as users get it (issue #24): a fresh project with meshbox's packed tarball
 * and vitest from the npm registry, no ava, type-checks its suite with `tsc --strict` (skipLibCheck off, so
 * meshbox's declarations are checked too) and runs it with vitest on real Envoy: sandboxFor() through
 * vitestContext(), stories() with vitest's `test`, and a forced failure that leaves the sandbox's report.
 * vitest 4.1 runs on Node 20, 22 and 24 (its engines: ^20.0.0 || ^22.0.0 || >=24.0.0); 5.x needs Node 22.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { requirementTest } from '../helpers/skip.ts';
import { consumerDecision, installConsumer, readmeExample, type ConsumerSpec } from './consumer.ts';
import { packCheckout } from './pack.ts';

const suite = `import { expect, test } from 'vitest';
import { assertShortCircuit, sandboxFor, stories, vitestContext, type SandboxResponse } from 'meshbox';

const plugins = [{ name: 'seed', wasm: 'node_modules/meshbox/fixtures/plugins/seed-rust/seed-rust.wasm' }];
const story = await stories(test);

test('sandboxFor on vitest', async ctx => {
	const t = vitestContext(ctx);
	const box = await sandboxFor(t, { plugins });
	const response: SandboxResponse = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	expect(response.body).toBe('Hello from Wasm!\\n');
	await assertShortCircuit(t, response, box, 200);
});

story('a story on vitest', async (ctx, { sandbox }) => {
	const box = await sandbox({ plugins });
	expect((await box.request('/')).body).toBe('Hello from Wasm!\\n');
	if (ctx.task.name === '') {
		// @ts-expect-error: ctx is vitest's TestContext, which has no such member (never run).
		ctx.nope();
	}
});

test('a failing test leaves its report', async ctx => {
	const t = vitestContext(ctx);
	const box = await sandboxFor(t, { plugins });
	await assertShortCircuit(t, await box.request('/'), box, 418);
});
`;

const spec: ConsumerSpec = {
	runner: 'vitest',
	devDependencies: { vitest: '4.1.12' },
	files: {
		'tsconfig.json': JSON.stringify({
			compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
			include: ['test/*.ts'],
		}),
		'test/plugin.test.ts': suite,
		// Type-checked, not run (neither runner takes it for a test file: no .test. in its name).
		'test/readme-example.ts': await readmeExample('vitest'),
	},
};

const test = requirementTest(await consumerDecision(spec));

type VitestJson = { testResults: Array<{ assertionResults: Array<{ fullName: string; status: string }> }> };

test('a vitest project without ava: tsc --strict passes on meshbox\'s types and the README\'s example, the suite runs on real Envoy, a failure leaves its report', async t => {
	t.timeout(10 * 60_000);
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-vitest-consumer-'));
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const packed = await packCheckout(dir);
	const project = await installConsumer(dir, packed.tarball, spec);
	t.false(existsSync(path.join(project, 'node_modules', 'ava')), 'ava is not installed');

	const typecheck = await execa('node', [path.join(project, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: project, reject: false, all: true });
	t.is(typecheck.exitCode, 0, `tsc --strict on the shipped declarations, without ava:\n${typecheck.all}`);

	const reports = path.join(project, 'reports');
	const run = await execa('node', ['node_modules/vitest/vitest.mjs', 'run', '--reporter=verbose', '--reporter=json', '--outputFile.json=results.json'], {
		cwd: project, reject: false, all: true, env: { MESHBOX_RUNTIMES: 'local', MESHBOX_REPORTS_DIR: reports, NO_COLOR: '1' },
	});
	t.is(run.exitCode, 1, `one test fails:\n${run.all}`);
	const results = JSON.parse(await readFile(path.join(project, 'results.json'), 'utf8')) as VitestJson;
	const outcomes = Object.fromEntries(results.testResults.flatMap(file => file.assertionResults.map(result => [result.fullName, result.status])));
	t.deepEqual(outcomes, { 'sandboxFor on vitest': 'passed', '[local] a story on vitest': 'passed', 'a failing test leaves its report': 'failed' }, run.all);
	t.regex(run.all ?? '', /status of the local reply/, 'the assertion\'s message');

	const named = /^meshbox: the sandbox's debug report \(.*\) is in (.+)$/m.exec(run.stdout)?.[1];
	t.truthy(named, `the report's path in the failing test's output:\n${run.all}`);
	t.deepEqual(await readdir(reports), [path.basename(named ?? '')], 'only the failing test has a report');
	const files = await readdir(path.resolve(project, named ?? ''));
	t.true(files.includes('bootstrap.yaml') && files.includes('config_dump.json'), files.join(', '));
});
