/**
 * Any test runner, from the package as users get it (issue #24): a fresh project with meshbox's packed tarball,
 * node:test and no ava installed type-checks its TypeScript suite with `tsc --strict` (skipLibCheck off, so
 * meshbox's own declarations are checked too) and runs it on real Envoy: sandboxFor() through nodeTestContext()
 * and stories() with node:test's `test`.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from '../helpers/paths.ts';
import { packCheckout } from './pack.ts';

const suite = `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertShortCircuit, nodeTestContext, sandboxFor, stories, type SandboxResponse } from 'meshbox';

const plugins = [{ name: 'seed', wasm: 'node_modules/meshbox/fixtures/plugins/seed-rust/seed-rust.wasm' }];
const story = await stories(test);

test('sandboxFor on node:test', async t => {
	const context = nodeTestContext(t);
	const box = await sandboxFor(context, { plugins });
	const response: SandboxResponse = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	assert.equal(response.body, 'Hello from Wasm!\\n');
	await assertShortCircuit(context, response, box, 200);
});

story('a story on node:test', async (t, { sandbox }) => {
	const box = await sandbox({ plugins });
	const { status } = await box.request('/');
	t.diagnostic(\`status \${status}\`);
	if (status === 0) {
		// @ts-expect-error: t is node:test's TestContext, which has no such member (never run).
		t.nope();
	}
});
`;

test('a node:test project without ava: tsc --strict passes on meshbox\'s types and the suite passes', async t => {
	t.timeout(10 * 60_000);
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-node-test-consumer-'));
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const packed = await packCheckout(dir);
	const project = path.join(dir, 'project');
	await mkdir(path.join(project, 'test'), { recursive: true });
	const versionOf = async (name: string) => (JSON.parse(await readFile(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
	await writeFile(path.join(project, 'package.json'), JSON.stringify({
		name: 'node-test-consumer',
		private: true,
		type: 'module',
		devDependencies: { meshbox: `file:${packed.tarball}`, typescript: await versionOf('typescript'), '@types/node': await versionOf('@types/node') },
	}, undefined, 2));
	await writeFile(path.join(project, 'tsconfig.json'), JSON.stringify({
		compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
		include: ['test/*.ts'],
	}));
	await writeFile(path.join(project, 'test', 'plugin.test.ts'), suite);
	await execa('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project });
	t.false(existsSync(path.join(project, 'node_modules', 'ava')), 'ava is not installed');

	const typecheck = await execa('node', [path.join(project, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: project, reject: false, all: true });
	t.is(typecheck.exitCode, 0, `tsc --strict on the shipped declarations, without ava:\n${typecheck.all}`);
	// tsx comes with meshbox (a dependency): it runs the TypeScript suite.
	const run = await execa('node', ['--import', 'tsx', '--test-reporter=tap', 'test/plugin.test.ts'], { cwd: project, reject: false, all: true, env: { MESHBOX_RUNTIMES: 'local' } });
	t.is(run.exitCode, 0, run.all);
	t.regex(run.stdout, /^ok \d+ - sandboxFor on node:test$/m);
	t.regex(run.stdout, /^ok \d+ - \[local\] a story on node:test$/m);
});
