/**
 * A harness SIGKILLed while its docker mesh runs (Ctrl+C that never reached meshbox, a crashed test worker)
 * leaves every proxy's containers and networks and the mesh's network behind; the next docker start removes
 * them all, the mesh network included (it carries the dead owner's labels, src/runtime/docker/mesh.ts).
 */
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { startSandbox } from '../../src/index.ts';
import { labelKeys } from '../../src/runtime/docker/labels.ts';
import { repoRoot } from '../helpers/paths.ts';
import { leftovers, ownerLeftovers } from './docker-helpers.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

const orphanScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mesh-orphan.ts');

test('a SIGKILLed harness leaves its mesh behind; the next docker start removes it, mesh network included', async t => {
	const child = execa('node', ['--import', 'tsx', '--conditions=meshbox-source', orphanScript], { cwd: repoRoot, env: { MESHBOX_DOCKER_SPARES: '0' }, reject: false, buffer: false, stderr: 'inherit' });
	let started: { meshId: string; pid: number } | undefined;
	for await (const line of readline.createInterface({ input: child.stdout! })) {
		if (line.startsWith('{')) {
			started = JSON.parse(line) as { meshId: string; pid: number };
			break;
		}
	}

	// Counted before the kill: any docker start elsewhere (ava runs files in parallel) may reap them right after.
	const before = started ? await ownerLeftovers(started.pid) : undefined;
	const meshNetworks = started ? (await leftovers(labelKeys.mesh, started.meshId)).networks.length : 0;
	child.kill('SIGKILL');
	await child;
	if (!started || !before) {
		t.fail('the child exited before its mesh started');
		return;
	}

	t.is(before.containers.length, 6, 'three proxies: an Envoy and an app each');
	t.is(before.networks.length, 4, 'each proxy\'s network and the mesh\'s');
	t.is(meshNetworks, 1);

	const box = await startSandbox({ runtime: 'docker' });
	try {
		const after = await ownerLeftovers(started.pid);
		t.deepEqual([...after.containers.map(info => info.Names.join(',')), ...after.networks.map(info => info.Name)], [], 'nothing of the dead harness remains');
		t.deepEqual((await leftovers(labelKeys.mesh, started.meshId)).networks, []);
	} finally {
		await box.stop();
	}
});
