/**
 * Any test runner (issue #24): a node:test suite uses sandboxFor() and the assertions through
 * nodeTestContext(), and stories() with node:test's `test`, with real Envoy: a passing test stops its sandbox and leaves no report, a failing one
 * names its debug report in a diagnostic, and the report is there. (The suite imports meshbox's sources; the
 * packed package exports the same names: test/package/lean.test.ts checks the public types need no ava.)
 */
import { access, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot, seedWasm } from '../helpers/paths.ts';

const suite = (entry: string) => `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertLogged, assertShortCircuit, nodeTestContext, sandboxFor, stories } from ${JSON.stringify(entry)};

const plugins = [{ name: 'seed', wasm: ${JSON.stringify(seedWasm)} }];
const story = await stories(test);

test('the seed answers itself', async t => {
	const context = nodeTestContext(t);
	const box = await sandboxFor(context, { plugins });
	const response = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	assert.equal(response.body, 'Hello from Wasm!\\n');
	await assertShortCircuit(context, response, box, 200);
	await assertLogged(context, box, { plugin: 'seed', message: 'Received request for: my-app.example.com /hello' });
});

story('a story on node:test', async (t, { sandbox, runtime }) => {
	const box = await sandbox({ plugins });
	assert.equal((await box.request('/')).body, 'Hello from Wasm!\\n');
	t.diagnostic(\`told on \${runtime}\`);
});

test('a failing test leaves its report', async t => {
	const context = nodeTestContext(t);
	const box = await sandboxFor(context, { plugins });
	await assertShortCircuit(context, await box.request('/'), box, 418);
});
`;

test('node:test: sandboxFor and the assertions through nodeTestContext, stories(test), a report for the failing test only', async t => {
	t.timeout(3 * 60_000);
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-node-test-'));
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const file = path.join(dir, 'plugin.test.mjs');
	await writeFile(file, suite(path.join(repoRoot, 'src', 'index.ts')));
	const reports = path.join(dir, 'reports');
	// Run as a script (node:test runs its tests), with tsx from this checkout for meshbox's TypeScript sources.
	const run = await execa('node', ['--import', 'tsx', '--test-reporter=tap', file], {
		cwd: repoRoot, reject: false, all: true, env: { MESHBOX_REPORTS_DIR: reports, MESHBOX_RUNTIMES: 'local' },
	});
	t.is(run.exitCode, 1, 'one test failed');
	t.regex(run.stdout, /^ok \d+ - the seed answers itself$/m, run.all);
	t.regex(run.stdout, /^ok \d+ - \[local\] a story on node:test$/m, 'stories() takes node:test\'s test');
	t.regex(run.stdout, /^# told on local$/m);
	t.regex(run.stdout, /^not ok \d+ - a failing test leaves its report$/m);
	t.regex(run.stdout, /status of the local reply/, 'the assertion\'s message');
	const named = /^# meshbox: the sandbox's debug report \(.*\) is in (.+)$/m.exec(run.stdout)?.[1];
	t.truthy(named, run.stdout);
	await t.notThrowsAsync(access(path.resolve(repoRoot, named!)), 'the report exists');
	t.deepEqual(await readdir(reports), [path.basename(named!)], 'only the failing test has one');
});
