/**
 * The conformance tests (test/conformance) start their sandboxes through meshbox's public sandboxFor(), so a
 * failing cell leaves the same debug report (bootstrap, /config_dump, /stats, plugin and Envoy logs) as a
 * plugin author's failing test, in a directory its failure output names (issue #24 item 8).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { reportDirFor, reportFiles } from 'meshbox';
import { cell } from '../../scripts/conformance-matrix.ts';

test('a failing conformance cell leaves its sandbox\'s debug report, named in the failure output', async t => {
	const reports = await mkdtemp(path.join(os.tmpdir(), 'meshbox-reports-'));
	t.teardown(async () => rm(reports, { recursive: true, force: true }));
	const env = { MESHBOX_REPORTS_DIR: reports, MESHBOX_RUNTIMES: 'local' };
	const run = await execa('npx', ['ava', '--config', 'test/scenario/report-fixture/conformance.config.mjs', '--tap'], { reject: false, env, all: true });
	const output = run.all ?? '';
	t.not(run.exitCode, 0, `the child run fails: its one cell fails on purpose\n${output}`);

	const dir = reportDirFor(cell('rust', 'headers', 'a conformance cell that fails on purpose'), env);
	t.deepEqual(await readdir(reports), [path.basename(dir)], `the failed cell left a report\n${output}`);
	t.true(output.includes(dir), `the failure output names ${dir}\n${output}`);
	t.deepEqual((await readdir(dir)).sort(), [...reportFiles].sort());
});
