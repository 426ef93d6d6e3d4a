/**
 * The documentation's TypeScript is the real API (issue #24 item 7): every ```ts block of README.md and
 * docs/*.md type-checks with `tsc --strict` against meshbox's sources (scripts/check-doc-snippets.ts), and a
 * block that does not is reported at its Markdown file and line, so the failure says which one to fix.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from '../helpers/paths.ts';

const script = path.join(repoRoot, 'scripts', 'check-doc-snippets.ts');

interface Run {
	exitCode: number;
	stdout: string;
	stderr: string;
}

/** Runs the checker as CI does (no shell), on the default files or the given ones. */
function checkSnippets(files: string[] = []): Promise<Run> {
	return new Promise(resolve => {
		execFile(process.execPath, ['--import', 'tsx', script, ...files], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
			const code = error && typeof error.code === 'number' ? error.code : error ? 1 : 0;
			resolve({ exitCode: code, stdout, stderr });
		});
	});
}

/** The checker's generated modules live in .meshbox/doc-snippets-*, only while it runs. */
async function leftovers(): Promise<string[]> {
	const names = await readdir(path.join(repoRoot, '.meshbox')).catch(() => []);
	return names.filter(name => name.startsWith('doc-snippets-'));
}

// Serial: each test also asserts that the checker left no generated directory behind.
test.serial('every TypeScript block of README.md and docs/*.md type-checks against the real API', async t => {
	const run = await checkSnippets();
	// On failure the message is the checker's own: each broken block as FILE.md:LINE:COL: error TSnnnn: …
	t.is(run.exitCode, 0, run.stderr);
	t.regex(run.stdout, /check-doc-snippets: (\d+) TypeScript block\(s\) type-check/);
	const checked = Number(/(\d+) TypeScript block/.exec(run.stdout)?.[1]);
	t.true(checked >= 10, `the README and docs pages hold at least 10 TypeScript blocks (found ${checked})`);
	t.deepEqual(await leftovers(), []);
});

test.serial('a broken block fails, named by its Markdown file and line; a good one passes beside it', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-doc-snippets-test-'));
	t.teardown(() => rm(dir, { recursive: true, force: true }));
	const markdown = path.join(dir, 'broken.md');
	await writeFile(markdown, [
		'# A page', //                                                              line 1
		'',
		'```ts',
		"import { startSandbox } from 'meshbox';",
		"const box = await startSandbox({ plugin: [{ wasm: 'a.wasm' }] });", //       line 5: `plugin` is no option
		'await box.stop();',
		'```',
		'',
		'- in a list:',
		'',
		'  <!-- snippet: fragment -->',
		'  ```typescript',
		'  await box.request(\'/\');',
		'  await box.stopp();', //                                                   line 14: no such member
		'  ```',
		'',
		'<!-- snippet: fragment -->',
		'```ts',
		"t.is((await box.request('/')).status, 200);", //                              line 19: fine
		'```',
		'',
		'```yaml',
		'# not a heading, and this is not TypeScript: const x: number = "y"',
		'```',
	].join('\n'));

	const run = await checkSnippets([markdown]);
	t.is(run.exitCode, 1, run.stdout);
	const shown = path.relative(repoRoot, markdown);
	const errors = run.stderr.split('\n').filter(line => / error TS\d+: /.test(line));
	t.is(errors.length, 2, run.stderr);
	t.true(errors[0]!.startsWith(`${shown}:5:`), errors[0]);
	t.regex(errors[0]!, /'plugin'/);
	t.true(errors[1]!.startsWith(`${shown}:14:`), errors[1]);
	t.regex(errors[1]!, /'stopp'/);
	t.deepEqual(await leftovers(), []);
});
