/**
 * `meshbox up --watch` and the builds it runs (issue #20, items 8–10), with real `up` processes and real build
 * commands (node scripts): a build that hangs is reported, superseded by an edit and stopped by Ctrl+C with
 * everything it started; `up --watch > up.log` inside the watched directory does not rebuild on its own log;
 * a build printing 30 MB is shown by its first and last lines and not kept in memory.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { outputHeadLines, outputTailLines } from '../../src/compose/build.ts';
import { buildNoticeMs } from '../../src/compose/watch.ts';
import { RunningCli } from '../helpers/cli.ts';
import { fixturePlugin, meshboxCli, repoRoot, seedWasm } from '../helpers/paths.ts';

/** A project whose plugin `app` is built by `build.mjs` (run in `app/`), watched in `app/src` unless `watch` says otherwise. */
async function project(buildScript: string, options: { watch?: string } = {}): Promise<{ dir: string; app: string; config: string }> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-watch-builds-'));
	const app = path.join(dir, 'app');
	await mkdir(path.join(app, 'src'), { recursive: true });
	await mkdir(path.join(app, 'out'));
	await writeFile(path.join(app, 'build.mjs'), buildScript);
	await writeFile(path.join(app, 'src', 'module.txt'), seedWasm);
	await copyFile(seedWasm, path.join(app, 'out', 'plugin.wasm'));
	const config = path.join(dir, 'meshbox.yaml');
	await writeFile(config, configText(options.watch === undefined ? ', watch: [src]' : options.watch, 'one'));
	return { dir, app, config };
}

function configText(watch: string, label: string): string {
	return ['port: 0', 'plugins:', '  - name: app', '    wasm: app/out/plugin.wasm', `    configuration: { label: ${label} }`,
		`    build: { command: [node, build.mjs], cwd: app${watch} }`, ''].join('\n');
}

/** Whether `pid` runs (a zombie does not: it is dead, only not yet reaped). */
async function alive(pid: number): Promise<boolean> {
	const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
	return stat !== undefined && !/^\d+ \(.*\) Z /.test(stat);
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
	const started = Date.now();
	while (!(await check())) {
		if (Date.now() - started > timeoutMs) {
			throw new Error(`not within ${timeoutMs} ms: ${what}`);
		}

		await new Promise(resolve => setTimeout(resolve, 100));
	}
}

/** The pids the hanging build wrote: one line per build, `<its own pid> <its child's pid>`. */
async function buildPids(app: string): Promise<number[][]> {
	const text = await readFile(path.join(app, 'pids.txt'), 'utf8').catch(() => '');
	return text.split('\n').filter(Boolean).map(line => line.split(' ').map(Number));
}

// A build that never ends, with a child of its own (as cargo has rustc): it records both pids, then waits.
const hangingBuild = `
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
const child = spawn('sleep', ['600'], { stdio: 'ignore' });
appendFileSync('pids.txt', \`\${process.pid} \${child.pid}\\n\`);
setInterval(() => undefined, 1000);
`;

test('a hung build is reported, an edit stops it (its children too) and builds anew, and Ctrl+C ends up at once leaving no build process', async t => {
	const { dir, app, config } = await project(hangingBuild);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const cli = RunningCli.start(['up', '--watch', '--config', config]);
	t.teardown(async () => {
		for (const pid of (await buildPids(app)).flat()) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {}
		}

		if (cli.process.exitCode === null) {
			await cli.stop('SIGKILL');
		}
	});
	await cli.waitForLine(/^listening on /);
	await cli.waitForLine(/watching the plugins' \.wasm files and the sources of app/);

	await writeFile(path.join(app, 'src', 'module.txt'), `${seedWasm}\n`);
	await cli.waitForLine(/^building app: node build\.mjs$/);
	const seconds = buildNoticeMs / 1000;
	await cli.waitForLine(new RegExp(`^meshbox: still building app after ${seconds} s \\(pid \\d+\\); later reloads wait for it, an edit to its sources restarts it$`), buildNoticeMs + 20_000);
	const [first] = await buildPids(app);
	t.is(first?.length, 2, 'the build and its child are running');

	// An edit: the hung build and its child are stopped, and a new build starts.
	await writeFile(path.join(app, 'src', 'module.txt'), seedWasm);
	await cli.waitForLine(/^meshbox: .*module\.txt changed: stopping the build of app under way$/);
	await eventually(async () => (await buildPids(app)).length === 2, 'the second build started');
	for (const pid of first!) {
		await eventually(async () => !(await alive(pid)), `pid ${pid} of the superseded build ended`);
	}

	t.is(cli.lines.filter(line => line.startsWith('building app:')).length, 2);

	// Ctrl+C while the second build hangs: up stops and exits without waiting for it, and takes its group along.
	const [, second] = await buildPids(app);
	cli.process.kill('SIGINT');
	const result = await cli.process;
	t.is(result.exitCode, 0);
	t.true(cli.lines.includes('meshbox: stopped (SIGINT)'));
	for (const pid of second!) {
		t.false(await alive(pid), `pid ${pid} of the build under way at Ctrl+C`);
	}
});

// A quick build; its output is the first line the log gets after `building app`.
const quickBuild = `
import { copyFileSync, readFileSync } from 'node:fs';
copyFileSync(readFileSync('src/module.txt', 'utf8').trim(), 'out/plugin.wasm');
`;

test('up --watch > up.log inside the watched directory builds once per edit, not on its own log lines nor on other logs', async t => {
	// No `watch:`: the build's cwd (app/) is watched, and the log is written there.
	const { dir, app, config } = await project(quickBuild, { watch: '' });
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const logFile = path.join(app, 'up.log');
	const log = await open(logFile, 'w');
	const up = spawn(process.execPath, [meshboxCli, 'up', '--watch', '--config', config], { cwd: repoRoot, stdio: ['ignore', log.fd, log.fd] });
	const exited = new Promise<number | null>(resolve => up.once('exit', code => resolve(code)));
	t.teardown(async () => {
		if (up.exitCode === null) {
			up.kill('SIGKILL');
			await exited;
		}

		await log.close();
	});
	const logLines = async () => (await readFile(logFile, 'utf8')).split('\n');
	const waitForLog = async (pattern: RegExp, what: string) => eventually(async () => (await logLines()).some(line => pattern.test(line)), what, 60_000);
	await waitForLog(/watching the plugins' \.wasm files and the sources of app/, 'up is watching');

	await writeFile(path.join(app, 'src', 'module.txt'), fixturePlugin('rust-headers'));
	await waitForLog(/^building app: node build\.mjs$/, 'the edit started a build');
	await waitForLog(/^reloaded app \(sha256/, 'the build was pushed');

	// A log another process writes there, as `up --watch 2>&1 | tee up.log` would: no build input either.
	await writeFile(path.join(app, 'tee.log'), 'building app: node build.mjs\n');
	// A config edit after that: its reload queues behind any build the log lines above would have started.
	await writeFile(config, configText('', 'two'));
	await waitForLog(/reloaded config version \d+ in \d+ ms \(meshbox\.yaml changed\)/, 'the config edit was reloaded');
	t.is((await logLines()).filter(line => line.startsWith('building app:')).length, 1, (await logLines()).join('\n'));
	up.kill('SIGTERM');
	t.is(await exited, 0);
});

// Fails after printing 30 MB: a first line, 300,000 lines of 100 bytes, a last line.
const noisyBuild = `
process.stdout.write('first line of the build\\n');
const line = 'x'.repeat(99) + '\\n';
for (let index = 0; index < 300_000; index++) {
	process.stdout.write(line);
}
process.stdout.write('error: the last line of the build\\n');
process.exitCode = 1;
`;

async function rssKiB(pid: number): Promise<number> {
	const status = await readFile(`/proc/${pid}/status`, 'utf8');
	return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]);
}

test('a build printing 30 MB: its first and last lines are shown, the rest is counted, and up\'s memory does not take it in', async t => {
	const { dir, app, config } = await project(noisyBuild);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const cli = RunningCli.start(['up', '--watch', '--config', config]);
	t.teardown(async () => {
		await cli.stop();
	});
	await cli.waitForLine(/watching the plugins' \.wasm files and the sources of app/);
	const before = await rssKiB(cli.process.pid!);

	await writeFile(path.join(app, 'src', 'module.txt'), `${seedWasm}\n`);
	await cli.waitForLine(/^build failed for app \(exit status 1\); the last good module keeps serving$/, 120_000);
	await cli.waitForLine(/^ {2}error: the last line of the build$/);
	const after = await rssKiB(cli.process.pid!);
	t.log(`up's RSS: ${before} KiB before the build, ${after} KiB after it failed`);
	const report = cli.lines.slice(cli.lines.findIndex(line => line.startsWith('build failed for app')));
	t.is(report[1], '  first line of the build', 'the first line is shown');
	t.is(report[outputHeadLines + 1], `  … ${300_002 - outputHeadLines - outputTailLines} more lines not shown …`);
	t.is(report[outputHeadLines + outputTailLines + 1], '  error: the last line of the build');
	// The output is 30 MB: holding it (as execa's buffer did, as bytes and as a string) grew RSS by 200 MB+.
	t.true(after - before < 40 * 1024, `RSS grew from ${before} KiB to ${after} KiB`);
});
