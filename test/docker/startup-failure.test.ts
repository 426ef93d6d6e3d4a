/**
 * Start-up failures on the docker runtime are explained as on the local runtime (Envoy refusing a plugin:
 * the plugin's own reason, from the container's log; a missing image: which one and what to do), and the
 * half-started sandbox is removed. Serial: each test checks that this process owns nothing afterwards.
 */
import { MeshboxError, startSandbox } from '../../src/index.ts';
import { meshboxEnvoyImage } from '../../src/runtime/docker/image-build.ts';
import { pinnedEnvoyVersion } from '../../src/envoy-binary/provision.ts';
import { seedWasm, strictConfigWasm } from '../helpers/paths.ts';
import { ownerLeftovers } from './docker-helpers.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test.serial('a plugin whose on_configure fails: ENVOY_REJECTED_CONFIG with its reason, and nothing left', async t => {
	const error = await t.throwsAsync(startSandbox({
		runtime: 'docker',
		plugins: [{ name: 'strict', wasm: strictConfigWasm, configuration: { header: '' } }],
	}), { instanceOf: MeshboxError });
	t.is(error?.code, 'ENVOY_REJECTED_CONFIG');
	t.regex(error?.message ?? '', /plugin "strict"/);
	t.regex(error?.message ?? '', /header/);
	const left = await ownerLeftovers(process.pid);
	t.deepEqual(left.containers.map(info => info.Names), []);
	t.deepEqual(left.networks.map(info => info.Name), []);
});

test.serial('an --envoy-image that is nowhere: DOCKER_IMAGE_UNAVAILABLE naming it, and nothing left', async t => {
	const error = await t.throwsAsync(startSandbox({ runtime: 'docker', envoyImage: 'meshbox-test/no-such-envoy:0' }), { instanceOf: MeshboxError });
	t.is(error?.code, 'DOCKER_IMAGE_UNAVAILABLE');
	t.regex(error?.message ?? '', /meshbox-test\/no-such-envoy:0 \(--envoy-image\) is not on this machine and cannot be pulled/);
	t.regex(error?.hint ?? '', /docker pull/);
	const left = await ownerLeftovers(process.pid);
	t.is(left.containers.length + left.networks.length, 0);
});

test.serial('an --envoy-image that is present is used as it is', async t => {
	const image = meshboxEnvoyImage(pinnedEnvoyVersion);
	const box = await startSandbox({ runtime: 'docker', envoyImage: image, plugins: [{ name: 'seed', wasm: seedWasm }] });
	try {
		t.is((await box.request('/')).body, 'Hello from Wasm!\n');
		const { containers } = await ownerLeftovers(process.pid);
		t.true(containers.some(info => info.Image === image));
	} finally {
		await box.stop();
	}
});
