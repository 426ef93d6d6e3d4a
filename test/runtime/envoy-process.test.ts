/**
 * src/runtime/local/envoy-process.ts: Envoy as a child process without execa. Real Envoy (admin only) for
 * start, log, stop and the clean-up when the owning process ends; a Node child that ignores SIGTERM for the
 * SIGKILL that follows it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { provisionEnvoy } from '../../src/envoy-binary/provision.ts';
import { EnvoyProcess } from '../../src/runtime/local/envoy-process.ts';
import { repoRoot } from '../helpers/paths.ts';

const envoy = await provisionEnvoy({ onProgress: () => undefined });
/** An Envoy with only an admin listener (any free port): it runs until signalled. No hot restart: several run at once. */
const adminOnly = ['--config-yaml', '{admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}}', '--concurrency', '1', '--disable-hot-restart', '-l', 'info'];
const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-envoy-process-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

/** Resolves with the first line of `stream` matching `pattern`. */
async function lineMatching(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<string> {
	return new Promise((resolve, reject) => {
		let text = '';
		stream.on('data', (chunk: Buffer) => {
			text += chunk.toString();
			const line = text.split('\n').find(candidate => pattern.test(candidate));
			if (line !== undefined) {
				resolve(line);
			}
		});
		stream.on('end', () => reject(new Error(`no line matched ${pattern}:\n${text}`)));
	});
}

/** Whether `pid` is a live process (a zombie waiting for its reaper is not). */
async function alive(pid: number): Promise<boolean> {
	const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
	return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

async function gone(pid: number, withinMs = 5000): Promise<boolean> {
	const deadline = Date.now() + withinMs;
	while (await alive(pid)) {
		if (Date.now() > deadline) {
			return false;
		}

		await new Promise(resolve => setTimeout(resolve, 20));
	}

	return true;
}

test('Envoy starts with its log on stderr; SIGTERM ends it and `exited` says how', async t => {
	const child = EnvoyProcess.spawn(envoy.path, adminOnly);
	t.true(child.isRunning);
	t.true(typeof child.pid === 'number');
	child.stdout.resume();
	await lineMatching(child.stderr, /starting main dispatch loop/);
	t.true(child.kill('SIGTERM'));
	const exit = await child.exited;
	t.false(child.isRunning);
	t.true(exit.exitCode === 0 || exit.signal === 'SIGTERM', JSON.stringify(exit));
	t.false(child.kill(), 'nothing left to signal');
});

test('a binary that does not exist: `exited` carries the spawn error, nothing throws', async t => {
	const child = EnvoyProcess.spawn(path.join(scratch, 'no-such-envoy'), []);
	const exit = await child.exited;
	t.is((exit.error as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
	t.is(exit.exitCode, undefined);
	t.false(child.isRunning);
	t.false(child.kill());
});

test('a process that ignores SIGTERM gets SIGKILL after forceKillAfterMs', async t => {
	const child = EnvoyProcess.spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => console.log("ignored")); console.log("ready"); setInterval(() => undefined, 1000)'], { forceKillAfterMs: 300 });
	await lineMatching(child.stdout, /^ready$/);
	const exit = await child.stop();
	t.is(exit.signal, 'SIGKILL');
});

/** A script in its own Node process that starts Envoy through EnvoyProcess, prints its pid, then does `then`. */
async function owner(name: string, then: string): Promise<{ envoyPid: number; exitCode: number | undefined; signal: string | undefined }> {
	const script = path.join(scratch, `${name}.ts`);
	await writeFile(script, [
		`import { EnvoyProcess } from ${JSON.stringify(path.join(repoRoot, 'src/runtime/local/envoy-process.ts'))};`,
		`const child = EnvoyProcess.spawn(${JSON.stringify(envoy.path)}, ${JSON.stringify(adminOnly)});`,
		'child.stdout.resume();',
		'child.stderr.resume();',
		'console.log(child.pid);',
		then,
	].join('\n'));
	const run = execa(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, reject: false, timeout: 30_000 });
	const envoyPid = Number(await lineMatching(run.stdout!, /^\d+$/));
	const result = await run;
	return { envoyPid, exitCode: result.exitCode, signal: result.signal };
}

test('the owner exits normally (process.exit): its Envoy is stopped', async t => {
	const { envoyPid, exitCode } = await owner('exit', 'setTimeout(() => process.exit(3), 300);');
	t.is(exitCode, 3);
	t.true(await gone(envoyPid));
});

test('the owner gets SIGINT it does not handle: its Envoy is stopped and the owner still dies of SIGINT', async t => {
	const { envoyPid, signal } = await owner('sigint', 'setTimeout(() => process.kill(process.pid, "SIGINT"), 300); setInterval(() => undefined, 1000);');
	t.is(signal, 'SIGINT');
	t.true(await gone(envoyPid));
});

test('the owner handles SIGTERM itself: Envoy runs until the owner exits', async t => {
	const { envoyPid, exitCode } = await owner('sigterm-handled', [
		'process.on("SIGTERM", () => {',
		'  // The owner decides: its Envoy is still there, and goes when the owner exits.',
		'  setTimeout(() => { console.error(child.isRunning ? "still running" : "gone"); process.exit(child.isRunning ? 0 : 9); }, 200);',
		'});',
		'setTimeout(() => process.kill(process.pid, "SIGTERM"), 300);',
		'setInterval(() => undefined, 1000);',
	].join('\n'));
	t.is(exitCode, 0);
	t.true(await gone(envoyPid));
});

test('keepProcessAlive(false): an idle Envoy does not keep its owner alive, and goes with it', async t => {
	const { envoyPid, exitCode } = await owner('unref', 'child.keepProcessAlive(false);');
	t.is(exitCode, 0);
	t.true(await gone(envoyPid));
});
