/**
 * Without Ryuk, meshbox reaps its own containers: a harness SIGKILLed mid-run leaves its containers and
 * network behind, and the next docker start removes them (their owner pid is gone).
 */
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { startSandbox } from '../../src/index.ts';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/paths.ts';
import { ownerLeftovers, sessionLeftovers } from './docker-helpers.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

const orphanScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'orphan-docker-sandbox.ts');

type Orphan = { session: string; pid: number; url: string; containers: number; networks: number };

/**
 * Starts a child that runs a docker sandbox, and SIGKILLs it once the sandbox is up. What the sandbox had is
 * counted before the kill: any docker start elsewhere (ava runs files in parallel) may reap it right after.
 */
async function killedHarness(): Promise<Orphan> {
	// Without a spare (./spares.test.ts kills one): one whose create was under way at the kill could appear after
	// the next start's reaping, until the keeper's later sweep; these tests count what the next start removed.
	const child = execa('node', ['--import', 'tsx', orphanScript], { cwd: repoRoot, env: { MESHBOX_DOCKER_SPARES: '0' }, reject: false, buffer: false, stderr: 'inherit' });
	const lines = readline.createInterface({ input: child.stdout! });
	let started: Omit<Orphan, 'containers' | 'networks'> | undefined;
	for await (const line of lines) {
		if (line.startsWith('{')) {
			started = JSON.parse(line) as Omit<Orphan, 'containers' | 'networks'>;
			break;
		}
	}

	const before = started ? await sessionLeftovers(started.session) : undefined;
	child.kill('SIGKILL');
	const result = await child;
	if (!started || !before) {
		throw new Error(`the child exited before its sandbox started (status ${result.exitCode ?? '?'})`);
	}

	return { ...started, containers: before.containers.length, networks: before.networks.length };
}

test.serial('a SIGKILLed harness leaves its sandbox behind; the next start removes it', async t => {
	const orphan = await killedHarness();
	t.is(orphan.containers, 2, 'the harness ran Envoy and the upstream');
	t.is(orphan.networks, 1);

	const box = await startSandbox({ runtime: 'docker' });
	try {
		const after = await sessionLeftovers(orphan.session);
		t.deepEqual(after.containers.map(info => info.Names), [], 'stale containers remain');
		t.deepEqual(after.networks.map(info => info.Name), [], 'stale networks remain');
		const byOwner = await ownerLeftovers(orphan.pid);
		t.is(byOwner.containers.length + byOwner.networks.length, 0);
		t.is((await box.request('/')).status, 200, 'the new sandbox works');
	} finally {
		await box.stop();
	}
});

test.serial('meshbox down --orphans removes dead owners\' sandboxes and leaves live ones alone', async t => {
	const box = await startSandbox({ runtime: 'docker' });
	try {
		const orphan = await killedHarness();
		const result = await runCli(['down', '--orphans']);
		t.is(result.exitCode, 0, result.stderr);
		t.regex(result.stdout, /removed \d+ container\(s\) and \d+ network\(s\)/);
		const after = await sessionLeftovers(orphan.session);
		t.is(after.containers.length + after.networks.length, 0);
		t.is((await box.request('/')).status, 200, 'a live sandbox is not an orphan');
	} finally {
		await box.stop();
	}
});
