/**
 * meshbox's images are built offline (no registry, no base image) and hold only what their program needs.
 * Built here under test names, so the images other tests run from are not replaced under them.
 */
import type Dockerode from 'dockerode';
import { buildEnvoyImage, buildUpstreamImage, imageLabels } from '../../src/runtime/docker/image-build.ts';
import { ensureUpstreamImage } from '../../src/runtime/docker/images.ts';
import { newSessionId, sandboxLabels } from '../../src/runtime/docker/labels.ts';
import { removeSandboxes } from '../../src/runtime/docker/reaper.ts';
import { runCli } from '../helpers/cli.ts';
import { docker } from './docker-helpers.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

/** Runs `image` once with `entrypoint` and returns its exit status and output; the container is labelled for the reaper. */
async function runOnce(client: Dockerode, image: string, entrypoint: string[], session: string): Promise<{ status: number; output: string }> {
	const container = await client.createContainer({ Image: image, Entrypoint: entrypoint, Labels: { ...sandboxLabels(session) } });
	await container.start();
	const { StatusCode } = await container.wait() as { StatusCode: number };
	const output = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
	return { status: StatusCode, output };
}

test('meshbox/envoy and meshbox/upstream build offline, run, and have no shell', async t => {
	const client = await docker();
	const session = newSessionId();
	const names = { envoy: `meshbox-test/envoy:${session}`, upstream: `meshbox-test/upstream:${session}` };
	const progress: string[] = [];
	try {
		const envoy = await buildEnvoyImage(client, { onProgress: line => progress.push(line), name: names.envoy });
		const upstream = await buildUpstreamImage(client, { onProgress: line => progress.push(line), name: names.upstream });
		t.log(`envoy image: ${envoy.seconds} s, ${Math.round(envoy.bytes / 1e6)} MB; upstream image: ${upstream.seconds} s, ${Math.round(upstream.bytes / 1e6)} MB`);
		t.truthy(progress.find(line => line.includes(`building ${names.envoy} offline`)));
		t.truthy(progress.find(line => line.includes(`${names.envoy}: 100%`)));
		t.truthy(progress.find(line => line.startsWith(`meshbox: built ${names.upstream}`)));

		const envoyInfo = await client.getImage(names.envoy).inspect();
		t.deepEqual(envoyInfo.Config.Entrypoint, ['/usr/local/bin/envoy']);
		t.is(envoyInfo.Config.Labels?.[imageLabels.envoyVersion], '1.40.0');
		const upstreamInfo = await client.getImage(names.upstream).inspect();
		t.truthy(upstreamInfo.Config.Labels?.[imageLabels.source]);

		const version = await runOnce(client, names.envoy, ['/usr/local/bin/envoy', '--version'], session);
		t.is(version.status, 0, version.output);
		t.regex(version.output, /\/1\.40\.0\//);
		const node = await runOnce(client, names.upstream, ['/usr/local/bin/node', '-e', 'console.log(process.version)'], session);
		t.is(node.output.trim().replace(/^[\s\S]*?(v\d+)/, '$1'), process.version);

		await t.throwsAsync(runOnce(client, names.envoy, ['/bin/sh', '-c', 'true'], session), { message: /no such file or directory|not found/ },
			'no /bin/sh: nothing may rely on a shell in these images');
	} finally {
		await removeSandboxes(client, { session });
		for (const name of Object.values(names)) {
			await client.getImage(name).remove({ force: true }).catch(() => undefined);
		}
	}
});

test('a rebuild leaves no untagged image behind, also when a container still used the image it replaced', async t => {
	const client = await docker();
	const session = newSessionId();
	const name = `meshbox-test/upstream:${session}`;
	const bundle = (n: number) => ({ code: `console.log(${n});\n`, hash: `${session}-${n}` });
	const quiet = () => undefined;
	try {
		const first = await buildUpstreamImage(client, { onProgress: quiet, bundle: bundle(1), name });
		// A sandbox still running from the first build: its image cannot be removed when the second build replaces it.
		await client.createContainer({ Image: first.id, Entrypoint: ['/usr/local/bin/node'], Labels: { ...sandboxLabels(session) } });
		const second = await buildUpstreamImage(client, { onProgress: quiet, bundle: bundle(2), name });
		t.not(second.id, first.id);
		t.truthy(await client.getImage(first.id).inspect().catch(() => undefined), 'the image in use stays');

		await removeSandboxes(client, { session });
		const third = await buildUpstreamImage(client, { onProgress: quiet, bundle: bundle(3), name });
		t.is((await client.getImage(name).inspect()).Id, third.id);
		t.falsy(await client.getImage(first.id).inspect().catch(() => undefined), 'the untagged first build is gone once nothing uses it');
		t.falsy(await client.getImage(second.id).inspect().catch(() => undefined), 'the replaced second build is gone');
	} finally {
		await removeSandboxes(client, { session });
		await client.getImage(name).remove({ force: true }).catch(() => undefined);
	}
});

test('meshbox images list says which images the docker runtime would find', async t => {
	const result = await runCli(['images', 'list']);
	t.is(result.exitCode, 0, result.stderr);
	t.regex(result.stdout, /^(present|missing) {2}envoyproxy\/envoy:v1\.40\.0$/m);
	t.regex(result.stdout, /^(present|missing) {2}meshbox\/envoy:1\.40\.0$/m);
	t.regex(result.stdout, /^(present {2}|missing {2}|stale {4})meshbox\/upstream:\d+\.\d+\.\d+/m);
});

test('the CLI and the scenario API want the same upstream image: neither rebuilds it after the other', async t => {
	// The scenario API runs from src (tsx); the CLI from dist. Both must make the same bundle, or each would
	// replace the image the other just built.
	const client = await docker();
	const name = await ensureUpstreamImage(client, () => undefined);
	const result = await runCli(['images', 'list']);
	t.is(result.exitCode, 0, result.stderr);
	t.regex(result.stdout, new RegExp(`^present {2}${name.replace(/[.]/g, '\\.')}$`, 'm'));
});
