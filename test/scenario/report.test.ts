/**
 * Debug reports (src/scenario/report.ts): a failing scenario leaves its sandbox's bootstrap, /config_dump,
 * /stats, plugin and Envoy logs in a directory named in the failure output; a passing one leaves nothing.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { reportDirFor, reportFiles, startSandbox } from 'meshbox';
import { removeReportDir } from '../../src/scenario/report.ts';

const seed = { name: 'my-wasm-plugin', wasm: 'fixtures/plugins/seed-rust/seed-rust.wasm' };

test('a failing scenario leaves the five artifacts in a directory its failure output names; a passing one none', async t => {
	const reports = await mkdtemp(path.join(os.tmpdir(), 'meshbox-reports-'));
	t.teardown(async () => rm(reports, { recursive: true, force: true }));
	const env = { MESHBOX_REPORTS_DIR: reports, MESHBOX_RUNTIMES: 'local' };
	const run = await execa('npx', ['ava', '--config', 'test/scenario/report-fixture/ava.config.mjs', '--tap'], { reject: false, env, all: true });
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

test('passing tests titled `..`, `.`, `/` and `../..` remove neither the project nor other reports', async t => {
	// A project as a user has it: reports under it (MESHBOX_REPORTS_DIR=<project>/reports), an older report there.
	const project = await mkdtemp(path.join(os.tmpdir(), 'meshbox-report-project-'));
	t.teardown(async () => rm(project, { recursive: true, force: true }));
	await writeFile(path.join(project, 'meshbox.yaml'), 'plugins: []\n');
	await mkdir(path.join(project, 'reports', 'an-older-failure'), { recursive: true });
	await writeFile(path.join(project, 'reports', 'an-older-failure', 'envoy.log'), 'kept\n');
	const env = { MESHBOX_REPORTS_DIR: path.join(project, 'reports'), MESHBOX_RUNTIMES: 'local' };
	const run = await execa('npx', ['ava', '--config', 'test/scenario/report-fixture/titles.config.mjs', '--tap'], { reject: false, env, all: true });
	t.is(run.exitCode, 0, run.all);
	t.is(await readFile(path.join(project, 'meshbox.yaml'), 'utf8'), 'plugins: []\n', 'the project directory (the root\'s parent) is still there');
	t.is(await readFile(path.join(project, 'reports', 'an-older-failure', 'envoy.log'), 'utf8'), 'kept\n', 'another test\'s report is still there');
});

test('every title maps to its own directory directly inside the reports root', t => {
	const env = { MESHBOX_REPORTS_DIR: path.join(os.tmpdir(), 'meshbox-reports-root') };
	const root = env.MESHBOX_REPORTS_DIR;
	const titles = ['.', '..', '...', '/', '//', '/etc', '../..', '../../etc/passwd', 'C:\\Windows', 'a\0b', '', ' ', '-', 'a?', 'a!', 'a', 'a-', 'x'.repeat(10_000), `${'x'.repeat(10_000)}y`, 'ünïcode', 'unicode', '[local] the plugin answers'];
	const dirs = titles.map(title => reportDirFor(title, env));
	for (const [index, dir] of dirs.entries()) {
		t.is(path.dirname(dir), root, `${JSON.stringify(titles[index]).slice(0, 40)} → ${dir}`);
		t.false(['', '.', '..'].includes(path.basename(dir)));
		t.false(dir.includes('\0'));
		t.true(Buffer.byteLength(path.basename(dir)) < 255);
	}

	t.is(new Set(dirs).size, titles.length, 'no two titles share a directory');
	t.regex(path.basename(reportDirFor('[local] the plugin answers', env)), /^local-the-plugin-answers-[\da-f]{12}$/, 'still readable');
	t.is(path.basename(reportDirFor('plain-title_1.2', env)), 'plain-title_1.2', 'a title that is a file name already stays as it is');
});

test('removing a report refuses anything but a directory directly inside the reports root', async t => {
	const project = await mkdtemp(path.join(os.tmpdir(), 'meshbox-report-project-'));
	t.teardown(async () => rm(project, { recursive: true, force: true }));
	const root = path.join(project, 'reports');
	await mkdir(path.join(root, 'nested', 'deeper'), { recursive: true });
	const env = { MESHBOX_REPORTS_DIR: root };
	for (const dir of [root, project, path.join(root, '..'), path.join(root, '.'), path.join(root, 'nested', 'deeper'), '/', os.tmpdir()]) {
		await t.throwsAsync(removeReportDir(dir, env), { message: /^refusing to remove /, instanceOf: Error }, dir);
	}

	t.deepEqual(await readdir(root), ['nested'], 'nothing was removed');
	await removeReportDir(path.join(root, 'nested'), env);
	t.deepEqual(await readdir(root), []);
});
