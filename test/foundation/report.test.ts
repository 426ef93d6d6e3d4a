/**
 * Debug reports (src/scenario/report.ts): a failing scenario leaves its sandbox's bootstrap, /config_dump,
 * /stats, plugin and Envoy logs in a directory named in the failure output; a passing one leaves nothing.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { reportDirFor, reportFiles, startSandbox } from 'meshbox';

const seed = { name: 'my-wasm-plugin', wasm: 'fixtures/plugins/seed-rust/seed-rust.wasm' };

test('a failing scenario leaves the five artifacts in a directory its failure output names; a passing one none', async t => {
	const reports = await mkdtemp(path.join(os.tmpdir(), 'meshbox-reports-'));
	t.teardown(async () => rm(reports, { recursive: true, force: true }));
	const env = { MESHBOX_REPORTS_DIR: reports, MESHBOX_RUNTIMES: 'local' };
	const run = await execa('npx', ['ava', '--config', 'test/foundation/report-fixture/ava.config.mjs', '--tap'], { reject: false, env, all: true });
	t.not(run.exitCode, 0, 'the child run fails: two of its scenarios fail on purpose');
	const output = run.all ?? '';

	const failed = reportDirFor('a scenario that fails on purpose', env);
	const story = reportDirFor('[local] a story that fails on purpose', env);
	t.deepEqual((await readdir(reports)).sort(), [path.basename(failed), path.basename(story)].sort(), `only the failures left reports\n${output}`);
	for (const dir of [failed, story]) {
		t.true(output.includes(dir), `the failure output names ${dir}\n${output}`);
		t.deepEqual((await readdir(dir)).sort(), [...reportFiles].sort());
	}

	t.regex(await readFile(path.join(failed, 'bootstrap.yaml'), 'utf8'), /^admin:/m, 'the bootstrap Envoy started with');
	t.regex(await readFile(path.join(failed, 'config_dump.json'), 'utf8'), /"@type": "type\.googleapis\.com\/envoy\.admin\.v3\.BootstrapConfigDump"/);
	t.regex(await readFile(path.join(failed, 'stats.txt'), 'utf8'), /^http\.ingress_http\.downstream_rq_total: 2$/m);
	t.regex(await readFile(path.join(failed, 'plugin-logs.txt'), 'utf8'), /info my-wasm-plugin \(stream\): Received request for: my-app\.example\.com \/hello/);
	// Envoy's own lines while the sandbox ran (a dedicated Envoy's start-up too; on a warm one, its pushes).
	t.regex(await readFile(path.join(failed, 'envoy.log'), 'utf8'), /\]\[(info|debug)\]\[(main|upstream)\] /);
});

test('box.writeReport(dir) writes the same artifacts without a test around it', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-report-'));
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const box = await startSandbox({ plugins: [seed] });
	t.teardown(async () => box.stop());
	await box.request('/hello', { headers: { host: 'shop.example.com' } });
	t.is(await box.writeReport(dir), dir);
	t.deepEqual((await readdir(dir)).sort(), [...reportFiles].sort());
	t.regex(await readFile(path.join(dir, 'plugin-logs.txt'), 'utf8'), /Received request for: shop\.example\.com \/hello/);
});
