/**
 * The command line's front door: `meshbox --version`, "did you mean" for a mistyped command or flag, and the
 * exit codes, the same in `meshbox --help` and docs/cli.md.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { exitCodes } from '../../src/cli/main.ts';
import { closestMatch } from '../../src/cli/suggest.ts';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/paths.ts';

const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };

test('`meshbox --version` and `-v` print the package\'s version and exit 0', async t => {
	for (const flag of ['--version', '-v', 'version']) {
		const result = await runCli([flag]);
		t.is(result.exitCode, 0, `${flag}: ${result.stderr}`);
		t.is(result.stdout, `meshbox ${manifest.version}`, flag);
	}
});

test('a mistyped command names the one meant (`rendr` → render) and exits 2', async t => {
	const result = await runCli(['rendr']);
	t.is(result.exitCode, 2);
	t.regex(result.stderr, /^meshbox: unknown command "rendr": did you mean render\?$/m);
	t.regex(result.stderr, /^→ meshbox render /m);
	const swapped = await runCli(['inti']);
	t.regex(swapped.stderr, /did you mean init\?/, 'two swapped letters are one typo');
});

test('a command like none of meshbox\'s lists them all, with no guess', async t => {
	const result = await runCli(['xyzzy']);
	t.is(result.exitCode, 2);
	t.notRegex(result.stderr, /did you mean/);
	t.regex(result.stderr, /→ commands: up, render, .*measure/);
});

test('a mistyped flag names the flag meant, for each way a command reads its flags', async t => {
	const up = await runCli(['up', '--prot', '1']);
	t.is(up.exitCode, 2);
	t.regex(up.stderr, /^meshbox up: Unknown option '--prot': did you mean --port\?$/m);
	t.regex(up.stderr, /^→ usage: meshbox up /m);
	const init = await runCli(['init', '--skd=go', 'somewhere']);
	t.is(init.exitCode, 2);
	t.regex(init.stderr, /Unknown option '--skd': did you mean --sdk\?/);
	const check = await runCli(['check', '--namspace', 'x', 'file.yaml']);
	t.regex(check.stderr, /Unknown option '--namspace': did you mean --namespace\?/);
	const far = await runCli(['render', '--frobnicate']);
	t.is(far.exitCode, 2);
	t.regex(far.stderr, /Unknown option '--frobnicate'$/m, 'no guess when nothing is close');
});

test('no command at all is a usage error (exit 2) that shows the overview', async t => {
	const result = await runCli([]);
	t.is(result.exitCode, 2);
	t.regex(result.stderr, /usage: meshbox <command>/);
});

test('every exit code is listed by `meshbox --help` and the command-line section of docs/cli.md', async t => {
	const help = await runCli(['--help']);
	t.is(help.exitCode, 0);
	const readme = await readFile(path.join(repoRoot, 'docs/cli.md'), 'utf8');
	const start = readme.indexOf('\n## The command line\n');
	const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
	for (const code of Object.values(exitCodes)) {
		t.regex(help.stdout, new RegExp(`^  ${code} +\\S`, 'm'), `--help lists exit code ${code}`);
		t.regex(section, new RegExp(`^\\| \`${code}\` \\|`, 'm'), `docs/cli.md lists exit code ${code}`);
	}
});

test('closestMatch: near names only, case-insensitive, a unique prefix', t => {
	const commands = ['up', 'render', 'envoy', 'images', 'down', 'compose', 'check', 'init', 'measure'];
	t.is(closestMatch('rendr', commands), 'render');
	t.is(closestMatch('Up', commands), 'up');
	t.is(closestMatch('upp', commands), 'up');
	t.is(closestMatch('meas', commands), 'measure', 'a prefix of one command');
	t.is(closestMatch('xyzzy', commands), undefined);
	t.is(closestMatch('co', commands), undefined, 'too short to be a prefix');
});
