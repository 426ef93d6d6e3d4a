/**
 * `meshbox junit`: ava's TAP in, the same TAP out, JUnit XML written; exit 1 on a failure or when no test ran
 * (the command before the pipe failed first). The TAP here is what ava 7 prints (ava/lib/reporters/tap.js);
 * test/init runs the real thing on a generated project.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { meshboxCli } from '../helpers/paths.ts';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-junit-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

const tap = `TAP version 13
ok 1 - plugin › [local] the plugin answers
not ok 2 - routes › a route <to> "canary" & back
#   meshbox: the sandbox's debug report (bootstrap, /config_dump, /stats, plugin and Envoy logs) is in .meshbox/reports/routes-a-route
  ---
    name: AssertionError
    message: Values are not the same
    values:
      'Difference (- actual, + expected):': |-
        - 'a'
        + 'b'
    at: 'test/routes.test.ts:12:4'
  ...
ok 3 - routes › later # SKIP
not ok 4 - routes › someday # TODO

1..4
# tests 3
# pass 1
# skip 1
# fail 2
`;

async function junit(input: string, out: string) {
	return execa('node', [meshboxCli, 'junit', '--out', out], { input, reject: false });
}

test('TAP to JUnit: a suite per file, failures with their message and debug report, skips; the TAP passes through', async t => {
	const out = path.join(scratch, 'junit.xml');
	const result = await junit(tap, out);
	t.is(result.exitCode, 1, 'a test failed');
	t.is(result.stdout, tap.trimEnd(), 'the TAP passes through unchanged');
	t.regex(result.stderr, /meshbox junit: 4 tests, 1 failed: .*junit\.xml/);
	const xml = await readFile(out, 'utf8');
	t.regex(xml, /<testsuites name="meshbox" tests="4" failures="1" skipped="2" time="\d+\.\d{3}">/);
	t.regex(xml, /<testsuite name="plugin" tests="1" failures="0" skipped="0"/);
	t.regex(xml, /<testcase classname="routes" name="a route &lt;to&gt; &quot;canary&quot; &amp; back" time="\d+\.\d{3}">\n {6}<properties>\n {8}<property name="meshbox.report" value=".meshbox\/reports\/routes-a-route"\/>/);
	t.regex(xml, /<failure message="Values are not the same">name: AssertionError\nmessage: Values are not the same\nvalues:\n {2}'Difference/);
	t.regex(xml, /<system-out>meshbox: the sandbox's debug report .*\n\[\[ATTACHMENT\|.meshbox\/reports\/routes-a-route\]\]<\/system-out>/);
	t.regex(xml, /name="later" time="[\d.]+">\n {6}<skipped message="skipped"\/>/);
	t.regex(xml, /name="someday" time="[\d.]+">\n {6}<skipped message="todo"\/>/);
});

test('all passed: exit 0; nothing on stdin: exit 1 with why', async t => {
	const passed = await junit('TAP version 13\nok 1 - one\n\n1..1\n# pass 1\n', path.join(scratch, 'ok.xml'));
	t.is(passed.exitCode, 0, passed.stderr);
	t.regex(await readFile(path.join(scratch, 'ok.xml'), 'utf8'), /<testcase classname="tests" name="one"/);
	const empty = await junit('> plugin@0.1.0 build\nerror: could not compile\n', path.join(scratch, 'empty.xml'));
	t.is(empty.exitCode, 1);
	t.regex(empty.stderr, /no test results on stdin/);
});
