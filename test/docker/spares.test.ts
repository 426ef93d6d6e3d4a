/**
 * Warm spares (src/runtime/docker/spares.ts): a process's next docker sandbox takes the network and upstream
 * prepared after its previous start. Each sandbox still sees only its own answer and recordings, and once the
 * process is gone nothing of meshbox's is left: the keeper removes the idle spare.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import { execa } from 'execa';
import { labelKeys } from '../../src/runtime/docker/labels.ts';
import { removeSandboxes } from '../../src/runtime/docker/reaper.ts';
import { repoRoot } from '../helpers/paths.ts';
import { docker, ownerLeftovers, type Leftovers } from './docker-helpers.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

const here = path.dirname(fileURLToPath(import.meta.url));
const childScript = path.join(here, 'spare-sandboxes.ts');
const orphanScript = path.join(here, 'orphan-docker-sandbox.ts');

type Report = { name: string; session: string; status: number; body: string; recorded: string[]; hits: number; upstreamMadeBeforeStart: boolean };

async function runChild(environment: Record<string, string> = {}): Promise<{ reports: Report[]; pid: number; stderr: string }> {
	const result = await execa('node', ['--import', 'tsx', childScript], { cwd: repoRoot, env: environment, reject: false });
	if (result.exitCode !== 0) {
		throw new Error(`the child failed (status ${result.exitCode ?? '?'}):\n${result.stderr}`);
	}

	const lines = result.stdout.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as Record<string, unknown>);
	const pid = lines.find(line => typeof line.pid === 'number')?.pid as number;
	return { reports: lines.filter(line => 'name' in line) as Report[], pid, stderr: result.stderr };
}

/** What the owner left, once the keeper had time to remove it (it sweeps for a few seconds after the owner ends). */
async function leftAfterExit(pid: number): Promise<Leftovers> {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const left = await ownerLeftovers(pid);
		if (left.containers.length + left.networks.length === 0 || Date.now() > deadline) {
			return left;
		}

		await new Promise(resolve => setTimeout(resolve, 250));
	}
}

test('sandboxes in a row: the later ones take a spare, each sees only its own answer and recordings, nothing is left after exit', async t => {
	const { reports, pid, stderr } = await runChild();
	t.deepEqual(reports.map(report => [report.status, report.body, report.recorded, report.hits]), [
		[201, 'first answer\n', ['/first'], 1],
		[201, 'second answer\n', ['/second'], 1],
		[201, 'third answer\n', ['/third'], 1],
	]);
	t.is(new Set(reports.map(report => report.session)).size, 3, 'a session per sandbox');
	t.deepEqual(reports.map(report => report.upstreamMadeBeforeStart), [false, true, true], 'the later upstreams were made before their starts began');
	t.is(stderr.match(/took this process's spare network and upstream/g)?.length, 2, stderr);

	const left = await leftAfterExit(pid);
	t.deepEqual(left.containers.map(info => info.Names), []);
	t.deepEqual(left.networks.map(info => info.Name), []);
});

test('MESHBOX_DOCKER_SPARES=0: every sandbox starts its own upstream, and nothing is left after exit', async t => {
	const { reports, pid, stderr } = await runChild({ MESHBOX_DOCKER_SPARES: '0' });
	t.deepEqual(reports.map(report => [report.body, report.recorded, report.upstreamMadeBeforeStart]), [
		['first answer\n', ['/first'], false],
		['second answer\n', ['/second'], false],
		['third answer\n', ['/third'], false],
	]);
	t.notRegex(stderr, /spare/);
	// No keeper to wait for: the sandboxes' stop() removed everything before the child ended.
	const left = await ownerLeftovers(pid);
	t.is(left.containers.length + left.networks.length, 0);
});

test('a SIGKILLed owner: the keeper removes its spare (its sandbox is left to the next start, as before)', async t => {
	const child = execa('node', ['--import', 'tsx', orphanScript], { cwd: repoRoot, reject: false, buffer: false, stderr: 'inherit' });
	const pid = child.pid!;
	let started: { session: string } | undefined;
	for await (const line of readline.createInterface({ input: child.stdout! })) {
		if (line.startsWith('{')) {
			started = JSON.parse(line) as { session: string };
			break;
		}
	}

	try {
		t.truthy(started, 'the child started its sandbox');
		// The spare is ready once its upstream runs beside the sandbox's two containers.
		const deadline = Date.now() + 30_000;
		let running = await ownerLeftovers(pid);
		while (running.containers.filter(info => info.State === 'running').length < 3 && Date.now() < deadline) {
			await new Promise(resolve => setTimeout(resolve, 100));
			running = await ownerLeftovers(pid);
		}

		t.is(running.containers.length, 3, 'Envoy, its upstream and the spare upstream');
		t.is(running.networks.length, 2);
		child.kill('SIGKILL');
		await child;

		const spareGone = Date.now() + 20_000;
		let left = await ownerLeftovers(pid);
		while (left.containers.length + left.networks.length > 3 && Date.now() < spareGone) {
			await new Promise(resolve => setTimeout(resolve, 250));
			left = await ownerLeftovers(pid);
		}

		// The sandbox itself may be gone too: any docker start elsewhere reaps it (its owner is gone).
		const sessions = [...left.containers.map(info => info.Labels?.[labelKeys.session]), ...left.networks.map(info => info.Labels?.[labelKeys.session])];
		t.deepEqual(sessions.filter(session => session !== started?.session), [], 'only the sandbox is left');
	} finally {
		child.kill('SIGKILL');
		await child;
		if (started) {
			await removeSandboxes(await docker(), { session: started.session });
		}
	}
});
