/**
 * A fresh machine without Debian's docker-registry: `npm test` skips the oci:// tests with one line saying what
 * is missing and how to install it; with MESHBOX_STRICT=1 (CI) they fail instead, saying the same, and the
 * after hook cleans up without crashing. Shown on the real oci test file, run by a child ava.
 */
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { decideRequirement, type SystemRequirement } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/paths.ts';
import { registryRequirement } from './registry.ts';

const missing = '/nonexistent/docker-registry';

/** ava on test/istio/oci.test.ts, as `npm test` runs it, with docker-registry missing. */
async function avaWithoutRegistry(strict: boolean): Promise<{ exitCode: number | undefined; output: string }> {
	const env: NodeJS.ProcessEnv = { ...process.env, MESHBOX_REGISTRY_BIN: missing };
	delete env.MESHBOX_STRICT;
	if (strict) {
		env.MESHBOX_STRICT = '1';
	}

	const result = await execa(path.join(repoRoot, 'node_modules', '.bin', 'ava'), ['test/istio/oci.test.ts', '--tap'], {
		cwd: repoRoot, env, extendEnv: false, reject: false, all: true, timeout: 120_000,
	});
	return { exitCode: result.exitCode, output: result.all ?? '' };
}

test('without docker-registry: every oci test is skipped, with one line naming what is missing and the install command', async t => {
	const { exitCode, output } = await avaWithoutRegistry(false);
	t.is(exitCode, 0, output);
	const lines = output.split('\n').filter(line => line.includes('meshbox tests: skipping'));
	t.deepEqual(lines.map(line => line.trim()), [
		`meshbox tests: skipping the Istio oci:// tests: Debian's docker-registry (${missing}) is missing; install it with: sudo apt-get install -y docker-registry (or set MESHBOX_REGISTRY_BIN to a registry binary) (MESHBOX_STRICT=1 makes that a failure)`,
	]);
	t.regex(output, /^ok \d+ - .*# SKIP/m);
	t.notRegex(output, /^not ok/m, 'nothing failed');
});

test('without docker-registry under MESHBOX_STRICT=1: the oci tests fail, saying what is missing; the after hook does not crash', async t => {
	const { exitCode, output } = await avaWithoutRegistry(true);
	t.not(exitCode, 0);
	t.regex(output, /^not ok/m);
	// (TAP escapes the apostrophe of "Debian's".)
	t.regex(output, new RegExp(`docker-registry \\(${missing}\\) is missing: the Istio oci:// tests need it; install it with: sudo apt-get install -y docker-registry`));
	t.notRegex(output, /# SKIP/, 'nothing skipped');
	t.notRegex(output, /The "path" argument must be of type string/, 'the after.always hook copes with a failed before hook');
});

test('the decision: present → run; missing → skip with a line; missing under MESHBOX_STRICT=1 → run (and fail)', t => {
	const requirement: SystemRequirement = { what: 'Frobnicator (/usr/bin/frob)', neededBy: 'the frob tests', install: 'sudo apt-get install -y frob', present: false };
	t.deepEqual(decideRequirement({ ...requirement, present: true }, {}), { run: true });
	t.deepEqual(decideRequirement(requirement, { MESHBOX_STRICT: '1' }), { run: true });
	t.like(decideRequirement(requirement, {}), {
		run: false,
		line: 'meshbox tests: skipping the frob tests: Frobnicator (/usr/bin/frob) is missing; install it with: sudo apt-get install -y frob (MESHBOX_STRICT=1 makes that a failure)',
	});
	t.false(registryRequirement(missing).present);
	t.regex(registryRequirement(missing).install, /^sudo apt-get install -y docker-registry/);
});
