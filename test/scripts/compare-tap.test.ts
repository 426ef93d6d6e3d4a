/**
 * scripts/compare-tap.ts, the "warm ≡ fresh" check of CI (.ci/run): two small TAP texts, as ava writes them,
 * compared test by test.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { compareTap, describeDifference, parseTap } from '../../scripts/compare-tap.ts';
import { repoRoot } from '../helpers/paths.ts';

// A whole-suite run on warm Envoys: unit tests, scenarios on both runtimes, conformance tests.
const warmTap = `TAP version 13
ok 1 - test › foundation › ring › a ring keeps the newest items
ok 2 - scenarios › live-updates › [local] rollback() restores the previous accepted config
ok 3 - scenarios › live-updates › [docker] rollback() restores the previous accepted config
not ok 4 - scenarios › auth-callout › [local] the callout's answer decides
  ---
    name: AssertionError
  ...
ok 5 - test › conformance › headers › rust · headers · adds a response header
ok 6 - test › conformance › timers › go · timers · ticks # SKIP
not ok 7 - test › conformance › trap › as · trap · kills the VM # TODO

1..7
# tests 6
# pass 4
# skip 1
# fail 2
`;

// The fresh pass: the scenarios on the local runtime and the conformance tests, with the same outcomes.
const agreeingFreshTap = `TAP version 13
ok 1 - scenarios › live-updates › [local] rollback() restores the previous accepted config
not ok 2 - scenarios › auth-callout › [local] the callout's answer decides
ok 3 - test › conformance › headers › rust · headers · adds a response header
ok 4 - test › conformance › timers › go · timers · ticks # SKIP
not ok 5 - test › conformance › trap › as · trap · kills the VM # TODO
`;

// As .ci/run passes them: the warm run's tests the fresh pass repeats, and the docker runtime's left out.
const scope = { only: /^(scenarios|test › conformance) › /, except: / › \[docker[\] ]/ };

test('TAP lines are read as pass, FAIL, SKIP and TODO by title; assertion details are not tests', t => {
	t.deepEqual([...parseTap(warmTap)].slice(3), [
		['scenarios › auth-callout › [local] the callout\'s answer decides', 'FAIL'],
		['test › conformance › headers › rust · headers · adds a response header', 'pass'],
		['test › conformance › timers › go · timers · ticks', 'SKIP'],
		['test › conformance › trap › as · trap · kills the VM', 'TODO'],
	]);
});

test('the same outcome for every test in scope is no difference; unit tests and docker are not compared', t => {
	t.deepEqual(compareTap(warmTap, agreeingFreshTap, scope), { compared: 5, differences: [] });
});

test('a test that passes in one run and fails in the other, or that one run lacks, is a difference named by its title', t => {
	const freshTap = `TAP version 13
not ok 1 - scenarios › live-updates › [local] rollback() restores the previous accepted config
ok 2 - scenarios › auth-callout › [local] the callout's answer decides
ok 3 - test › conformance › timers › go · timers · ticks
not ok 4 - test › conformance › trap › as · trap · kills the VM # TODO
not ok 5 - Error: listen EADDRINUSE: address already in use 127.0.0.1:9901
`;
	const { compared, differences } = compareTap(warmTap, freshTap, scope);
	t.is(compared, 4);
	t.deepEqual(differences.map(describeDifference), [
		'scenarios › live-updates › [local] rollback() restores the previous accepted config: warm pass, fresh FAIL',
		'scenarios › auth-callout › [local] the callout\'s answer decides: warm FAIL, fresh pass',
		'test › conformance › headers › rust · headers · adds a response header: only in the warm run (pass)',
		'test › conformance › timers › go · timers · ticks: warm SKIP, fresh pass',
		'Error: listen EADDRINUSE: address already in use 127.0.0.1:9901: only in the fresh run (FAIL)',
	]);
});

test('the script CI runs exits 1 and names each difference, 0 when the runs agree, 2 when nothing was compared', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-compare-tap-'));
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const file = async (name: string, text: string) => {
		await writeFile(path.join(dir, name), text);
		return path.join(dir, name);
	};

	const warm = await file('warm.tap', warmTap);
	const same = await file('same.tap', agreeingFreshTap);
	const differs = await file('differs.tap', agreeingFreshTap.replace('ok 3 - test › conformance › headers', 'not ok 3 - test › conformance › headers'));
	const empty = await file('empty.tap', 'TAP version 13\n\n1..0\n');
	const run = async (fresh: string) => execa('node', ['--import', 'tsx', 'scripts/compare-tap.ts', '--warm', warm, '--fresh', fresh, '--only', scope.only.source, '--except', scope.except.source], { cwd: repoRoot, reject: false });

	const agreeing = await run(same);
	t.is(agreeing.exitCode, 0, agreeing.stderr);
	t.regex(agreeing.stdout, /warm ≡ fresh: 5 tests compared, same outcome in both runs/);

	const differing = await run(differs);
	t.is(differing.exitCode, 1);
	t.true(differing.stderr.includes('test › conformance › headers › rust · headers · adds a response header: warm pass, fresh FAIL'), differing.stderr);

	t.is((await run(empty)).exitCode, 2, 'a fresh run without tests is not a pass');
});
