/**
 * One bad plugin never outlives its process (issue #19, item 2): an Envoy whose worker a plugin holds in a loop
 * ignores SIGTERM's shut-down, and used to run on at ~90% CPU after its owner ended, its work dir (the owner
 * record the reaper goes by) removed. Each test runs meshbox in a child process, marked with an environment
 * variable of its own that Envoy inherits, so that Envoys of that child are found in /proc (while it runs, and
 * after) and nobody else's are.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa, type ResultPromise } from 'execa';
import { startSandbox } from '../../src/index.ts';
import { childEnvoys, isRunning } from '../helpers/leftovers.ts';
import { fixturePlugin, repoRoot } from '../helpers/paths.ts';

const tagVariable = 'MESHBOX_TEST_LEFTOVER_TAG';

/** Pids of running (not zombie) Envoy processes whose environment has `tag`. */
async function taggedEnvoys(tag: string): Promise<number[]> {
	const pids: number[] = [];
	for (const name of await readdir('/proc')) {
		if (!/^\d+$/.test(name)) {
			continue;
		}

		const comm = (await readFile(`/proc/${name}/comm`, 'utf8').catch(() => '')).trim();
		if (comm !== 'envoy') {
			continue;
		}

		const environ = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
		if (environ.split('\0').includes(`${tagVariable}=${tag}`) && (await isRunning(Number(name)))) {
			pids.push(Number(name));
		}
	}

	return pids;
}

/** Every tagged Envoy seen while `child` runs (looked for every 200 ms), and the child's result. */
async function watch<T>(tag: string, child: ResultPromise & Promise<T>): Promise<{ seen: Set<number>; result: T }> {
	const seen = new Set<number>();
	let done = false;
	const looking = (async () => {
		while (!done) {
			for (const pid of await taggedEnvoys(tag)) {
				seen.add(pid);
			}

			await new Promise(resolve => setTimeout(resolve, 200));
		}
	})();
	try {
		return { seen, result: await child };
	} finally {
		done = true;
		await looking;
	}
}

/** Work dirs whose owner record names one of `pids` as its Envoy. */
async function ownerRecordsOf(pids: ReadonlySet<number>): Promise<string[]> {
	const found: string[] = [];
	for (const name of (await readdir(os.tmpdir())).filter(entry => entry.startsWith('meshbox-'))) {
		const owner = await readFile(path.join(os.tmpdir(), name, 'owner.json'), 'utf8').catch(() => undefined);
		if (owner && pids.has((JSON.parse(owner) as { envoyPid?: number }).envoyPid ?? -1)) {
			found.push(name);
		}
	}

	return found;
}

test.serial('scenarios/hostile-then-seed.ts passes, and no Envoy of it survives its process', async t => {
	const tag = randomUUID();
	const child = execa('node', [path.join(repoRoot, 'node_modules/ava/entrypoints/cli.mjs'), 'scenarios/hostile-then-seed.ts'], {
		cwd: repoRoot, reject: false, all: true, env: { [tagVariable]: tag },
	});
	const { seen, result } = await watch(tag, child);
	t.is(result.exitCode, 0, `the scenario passes:\n${result.all}`);
	t.true(seen.size >= 1, 'its Envoys were seen while it ran (the looking works)');
	t.deepEqual(await taggedEnvoys(tag), [], 'no Envoy of it runs after it ended');
	t.deepEqual(await ownerRecordsOf(seen), [], 'and no owner record of them is left');
});

test.serial('Ctrl+C while a plugin holds Envoy\'s worker in a loop: that Envoy does not survive', async t => {
	const tag = randomUUID();
	const child = execa('node', ['--import', 'tsx', 'test/helpers/hostile-interrupted.ts'], { cwd: repoRoot, reject: false, all: true, env: { [tagVariable]: tag } });
	const stuck = new Promise<void>((resolve, reject) => {
		child.stdout?.on('data', (chunk: Buffer) => {
			if (chunk.toString().includes('stuck')) {
				resolve();
			}
		});
		void child.then(result => reject(new Error(`hostile-interrupted exited early: ${result.all ?? ''}`)));
	});
	const watched = watch(tag, child);
	await stuck;
	const stuckEnvoys = await taggedEnvoys(tag);
	t.is(stuckEnvoys.length, 1, 'the Envoy with the stuck worker runs');
	child.kill('SIGINT');
	const { result } = await watched;
	t.is(result.signal, 'SIGINT', 'the child ended by the Ctrl+C');
	t.deepEqual(await taggedEnvoys(tag), [], 'its Envoy is gone too');
	t.deepEqual(await ownerRecordsOf(new Set(stuckEnvoys)), [], 'and so is its owner record');
});

test.serial('on a dedicated Envoy (fresh: true) too: a timeout has its code over HTTP/1.1 and HTTP/2, a loop is PLUGIN_STUCK, and stop() ends that Envoy', async t => {
	const paused = await startSandbox({ plugins: [{ name: 'pausing', wasm: fixturePlugin('rust-hostile'), configuration: 'pause' }], fresh: true });
	try {
		for (const http2 of [false, true]) {
			const error = await t.throwsAsync(paused.request('/', { timeoutMs: 1000, http2 }), { code: 'REQUEST_TIMEOUT' });
			t.is(error?.message, 'GET /: no response within 1000 ms (through the plugin pausing; none was stuck in a callback)');
		}
	} finally {
		await paused.stop();
	}

	const looping = await startSandbox({ plugins: [{ name: 'looping', wasm: fixturePlugin('rust-hostile'), configuration: 'loop' }], fresh: true });
	const [envoy] = await childEnvoys();
	try {
		await t.throwsAsync(looping.request('/', { timeoutMs: 3000 }), { code: 'PLUGIN_STUCK', message: /the plugin looping did not return from a callback/ });
	} finally {
		await looping.stop();
	}

	t.false(envoy === undefined || await isRunning(envoy), 'its Envoy is gone once stop() returned');
});
