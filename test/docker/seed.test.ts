/**
 * The seed article's plugin through the docker runtime: the same answers as on the local runtime, from an
 * Envoy container whose only published ports are on 127.0.0.1, with files copied in (no bind mounts).
 */
import { assertLogged, assertShortCircuit, startSandbox, type Sandbox } from '../../src/index.ts';
import { labelKeys } from '../../src/runtime/docker/labels.ts';
import { seedWasm } from '../helpers/paths.ts';
import { docker, sessionLeftovers, sessionOf } from './docker-helpers.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

let box: Sandbox;
let session: string;
test.before(async () => {
	box = await startSandbox({ runtime: 'docker', plugins: [{ name: 'my-wasm-plugin', wasm: seedWasm }] });
	session = await sessionOf(box);
});
test.after.always(async () => box?.stop());

test.serial('the seed plugin answers 200 with its header and body, and the upstream sees nothing', async t => {
	const response = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	t.is(response.status, 200);
	t.is(response.headers['x-service-name'], 'my-custom-service');
	t.is(response.body, 'Hello from Wasm!\n');
	await assertShortCircuit(t, response, box, 200);
});

test.serial('the plugin\'s log line arrives from the container\'s log stream', async t => {
	await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	const entry = await assertLogged(t, box, { plugin: 'my-wasm-plugin', level: 'info', message: 'Received request for: my-app.example.com /hello' });
	t.is(entry?.context, 'stream');
});

test.serial('Envoy is the pinned release, configured with container paths', async t => {
	t.is(box.envoyVersion, '1.40.0');
	// The plugin comes over xDS (ECDS), its module copied into the container under its SHA-256.
	const dump = await (await fetch(`${box.adminUrl}/config_dump?resource=ecds_filters`)).text();
	t.regex(dump, /"filename": "\/etc\/meshbox\/modules\/[\da-f]{64}\.wasm"/);
	t.regex(box.url, /^http:\/\/127\.0\.0\.1:\d+$/);
	t.regex(box.adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
});

test.serial('published ports are bound to 127.0.0.1 only, and nothing is bind-mounted', async t => {
	const { containers } = await sessionLeftovers(session);
	t.is(containers.length, 2);
	const published: Record<string, string[]> = {};
	for (const info of containers) {
		const inspect = await (await docker()).getContainer(info.Id).inspect();
		const role = inspect.Config.Labels[labelKeys.role] ?? '?';
		t.deepEqual(inspect.Mounts, [], `${role}: files are copied in, not mounted`);
		published[role] = Object.keys(inspect.NetworkSettings.Ports).filter(port => inspect.NetworkSettings.Ports[port]).sort();
		for (const [port, bindings] of Object.entries(inspect.NetworkSettings.Ports)) {
			for (const binding of bindings ?? []) {
				t.is(binding.HostIp, '127.0.0.1', `${role} ${port} is published on ${binding.HostIp}`);
			}
		}
	}

	t.deepEqual(published, { envoy: ['10000/tcp', '9901/tcp'], upstream: ['8081/tcp'] });
});

test.serial('stop() removes the containers and the network', async t => {
	const before = await sessionLeftovers(session);
	t.is(before.containers.length, 2);
	t.is(before.networks.length, 1);
	await box.stop();
	await box.stop();
	const after = await sessionLeftovers(session);
	t.deepEqual(after.containers.map(info => info.Names), []);
	t.deepEqual(after.networks.map(info => info.Name), []);
});
