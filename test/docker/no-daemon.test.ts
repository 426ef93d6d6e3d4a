/**
 * No Docker daemon: one MeshboxError that says so and what to do, nothing started or left behind, and
 * scenarios fall back to the local runtime (or, with MESHBOX_STRICT=1, keep docker and fail loudly).
 *
 * This file points DOCKER_HOST at a socket that does not exist, for its whole process (ava runs each file in
 * its own process); leftovers are checked through the real daemon's socket.
 */
import test from 'ava';
import Dockerode from 'dockerode';
import { execa } from 'execa';
import { isMeshboxError, MeshboxError, startSandbox } from '../../src/index.ts';
import { labelKeys } from '../../src/runtime/docker/labels.ts';
import { detectRuntimes } from '../../src/scenario/runtimes.ts';
import { meshboxCli, repoRoot, seedWasm } from '../helpers/paths.ts';

const missingSocket = 'unix:///nonexistent.sock';
process.env.DOCKER_HOST = missingSocket;

test.serial('startSandbox on docker fails with DOCKER_UNAVAILABLE, naming the remedies', async t => {
	const error = await t.throwsAsync(startSandbox({ runtime: 'docker', plugins: [{ name: 'seed', wasm: seedWasm }] }), { instanceOf: MeshboxError });
	t.true(isMeshboxError(error));
	t.is(error?.code, 'DOCKER_UNAVAILABLE');
	t.regex(error?.message ?? '', /DOCKER_HOST=unix:\/\/\/nonexistent\.sock does not answer/);
	const hint = error?.hint ?? '';
	t.regex(hint, /apt-get install -y docker\.io/);
	t.regex(hint, /dockerd/);
	t.regex(hint, /DOCKER_HOST/);
	t.regex(hint, /--runtime local/);
});

test.serial('nothing was created on the (real) daemon', async t => {
	const real = new Dockerode({ socketPath: '/var/run/docker.sock' });
	const reachable = await real.ping().then(() => true, () => false);
	if (!reachable) {
		t.pass('no daemon on this machine at all: nothing can have been created');
		return;
	}

	const filters = { label: [`${labelKeys.ownerPid}=${process.pid}`] };
	t.deepEqual(await real.listContainers({ all: true, filters }), []);
	t.deepEqual(await real.listNetworks({ filters }), []);
});

test.serial('`meshbox up --runtime docker` prints the error and its remedies, and exits 1', async t => {
	const result = await execa('node', [meshboxCli, 'up', '--runtime', 'docker', '--port', '0', '--plugin', seedWasm], {
		cwd: repoRoot,
		reject: false,
		timeout: 60_000,
		env: { DOCKER_HOST: missingSocket },
	});
	t.is(result.exitCode, 1, result.stderr);
	t.regex(result.stderr, /meshbox up: the docker runtime needs a Docker daemon/);
	t.regex(result.stderr, /apt-get install -y docker\.io/);
	t.notRegex(result.stderr, /\n\s+at /, 'no stack trace for a user error');
});

test.serial('scenario runtimes: local only without a daemon; docker kept (and failing) with MESHBOX_STRICT=1', async t => {
	t.deepEqual(await detectRuntimes({}), ['local']);
	t.deepEqual(await detectRuntimes({ MESHBOX_STRICT: '1' }), ['local', 'docker']);
	t.deepEqual(await detectRuntimes({ MESHBOX_RUNTIMES: 'docker' }), ['docker']);
	await t.throwsAsync(detectRuntimes({ MESHBOX_RUNTIMES: 'local,podman' }), { message: /podman/ });
});
