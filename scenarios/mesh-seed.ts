/**
 * The seed article's setup as a mesh (issue #21, fixtures/mesh/seed/): a request for my-app.example.com enters
 * the ingress gateway, Gateway my-app-gateway's VirtualService routes it to my-app-service:8080, and the my-app
 * workload's sidecar receives it over mTLS. The seed plugin answers on the gateway (meshbox.yaml), or on the
 * sidecar (meshbox-workload.yaml); the probe plugin on both shows what crossed the gateway and which route it took.
 *
 *   meshbox up --config fixtures/mesh/seed/meshbox.yaml
 *   curl -i -H 'host: my-app.example.com' http://127.0.0.1:<gateway port>/hello
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import test from 'ava';
import { execa } from 'execa';
import { meshFor, scenarioRuntimes, wasmPlugin, type MeshOptions } from 'meshbox';
import { parse } from 'yaml';

const seedAnswer = 'Hello from Wasm!\n';
const seedLog = 'Received request for: my-app.example.com /hello';
const probeWasm = 'file://fixtures/plugins/rust-probe/rust-probe.wasm';

const runtimes = await scenarioRuntimes();

/** A mesh file as the scenario API takes it: `istio.files` resolved from the file's directory, as `meshbox up --config` does. */
async function meshFile(file: string): Promise<MeshOptions> {
	const spec = parse(await readFile(file, 'utf8')) as MeshOptions & { istio: { files: string[] } };
	return { ...spec, istio: { ...spec.istio, files: spec.istio.files.map(name => path.join(path.dirname(file), name)) } };
}

/** The messages a proxy's plugins logged that start with `prefix`. */
async function logged(mesh: Awaited<ReturnType<typeof meshFor>>, proxy: string, prefix: string): Promise<string[]> {
	return (await mesh.proxy(proxy).logs({ message: prefix })).map(entry => entry.message).filter(message => message.startsWith(prefix));
}

test('meshbox up prints the gateway URL first, and curl with host my-app.example.com gets the plugin\'s answer', async t => {
	const up = execa('node', ['bin/meshbox.js', 'up', '--config', 'fixtures/mesh/seed/meshbox.yaml'], { reject: false, buffer: false });
	t.teardown(async () => {
		up.kill('SIGINT');
		await up;
	});
	const lines: string[] = [];
	readline.createInterface({ input: up.stdout }).on('line', line => lines.push(line));
	const waitForLine = async (pattern: RegExp): Promise<string> => {
		for (let waited = 0; waited < 90_000; waited += 100) {
			const line = lines.find(candidate => pattern.test(candidate));
			if (line !== undefined) {
				return line;
			}

			if (up.exitCode !== null) {
				break;
			}

			await new Promise(resolve => setTimeout(resolve, 100));
		}

		throw new Error(`meshbox up printed no line matching ${pattern}:\n${lines.join('\n')}`);
	};

	const firstUrl = await waitForLine(/http:\/\/127\.0\.0\.1:\d+/);
	const listening = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(firstUrl);
	t.truthy(listening, `the first URL printed is the gateway's listener: ${firstUrl}`);
	// Then each proxy's admin interface, the gateway's and the sidecar's.
	await waitForLine(/istio-ingressgateway.*http:\/\/127\.0\.0\.1:\d+/);
	await waitForLine(/my-app.*http:\/\/127\.0\.0\.1:\d+/);

	const curl = await execa('curl', ['-sS', '-i', '-H', 'host: my-app.example.com', `${listening?.[1] ?? ''}/hello`]);
	t.regex(curl.stdout, /^HTTP\/1\.1 200 /);
	t.regex(curl.stdout, /^x-service-name: my-custom-service\r$/m);
	t.true(curl.stdout.endsWith(`\r\n\r\n${seedAnswer.trimEnd()}`), curl.stdout);
});

for (const runtime of runtimes) {
	test(`[${runtime}] through the API: the seed plugin on the gateway answers, and nothing reaches my-app`, async t => {
		const mesh = await meshFor(t, { runtime, ...await meshFile('fixtures/mesh/seed/meshbox.yaml') });
		const response = await mesh.request('/hello', { host: 'my-app.example.com' });
		t.is(response.status, 200);
		t.is(response.headers['x-service-name'], 'my-custom-service');
		t.is(response.body, seedAnswer);
		t.is(await mesh.workload('my-app').recordings.hits(), 0, 'the gateway answered: my-app\'s app saw nothing');
		t.deepEqual(await logged(mesh, 'istio-ingressgateway', 'Received request for'), [seedLog]);
		t.deepEqual(await logged(mesh, 'my-app', 'Received request for'), [], 'the sidecar has no plugin');

		// HTTP filters run before the router picks a route: a plugin on a gateway sees (and here answers) requests for
		// hosts no VirtualService routes, as it does in a cluster.
		const unrouted = await mesh.request('/hello', { host: 'other.example.com' });
		t.is(unrouted.body, seedAnswer);
	});

	test(`[${runtime}] the seed plugin on the workload instead: the request crosses the gateway and its route to my-app's sidecar`, async t => {
		const mesh = await meshFor(t, { runtime, ...await meshFile('fixtures/mesh/seed/meshbox-workload.yaml') });
		const response = await mesh.request('/hello', { host: 'my-app.example.com' });
		t.is(response.status, 200);
		t.is(response.body, seedAnswer);
		t.deepEqual(await logged(mesh, 'my-app', 'Received request for'), [seedLog], 'the sidecar\'s plugin saw the host and path the gateway forwarded');
		t.deepEqual(await logged(mesh, 'istio-ingressgateway', 'Received request for'), [], 'the gateway has no plugin');
		t.is(await mesh.workload('my-app').recordings.hits(), 0, 'the sidecar\'s plugin answered before the app');

		// A host Gateway my-app-gateway does not serve: the gateway answers 404 itself (no route), the sidecar never sees it.
		const unrouted = await mesh.request('/hello', { host: 'other.example.com' });
		t.is(unrouted.status, 404);
		t.deepEqual(await logged(mesh, 'my-app', 'Received request for'), [seedLog]);
	});

	test(`[${runtime}] the probe on gateway and sidecar: the app records the gateway's headers, the sidecar sees the gateway's identity`, async t => {
		const seed = await meshFile('fixtures/mesh/seed/meshbox.yaml');
		const mesh = await meshFor(t, {
			runtime,
			mesh: seed.mesh,
			istio: {
				...seed.istio,
				files: ['fixtures/mesh/seed/istio.yaml'],
				resources: [
					wasmPlugin({
						name: 'probe-gateway', namespace: 'istio-system', selector: { matchLabels: { istio: 'ingressgateway' } }, url: probeWasm,
						pluginConfig: { name: 'probe-gateway', log: [['xds', 'cluster_name']], request_headers: { 'x-probe-gateway': 'seen' } },
					}),
					wasmPlugin({
						name: 'probe-my-app', namespace: 'default', selector: { matchLabels: { app: 'my-app' } }, url: probeWasm,
						pluginConfig: {
							name: 'probe-my-app',
							log: [['connection', 'mtls'], ['connection', 'uri_san_peer_certificate'], ['xds', 'cluster_name']],
							log_request_headers: ['x-probe-gateway'],
						},
					}),
				],
			},
		});

		const response = await mesh.request('/hello', { host: 'my-app.example.com' });
		t.is(response.status, 200);
		t.is(response.body, 'Hello from my-app!\n');
		t.is(response.headers['x-app'], 'my-app');

		// The gateway's route chose my-app-service:8080 (istiod's cluster name for it).
		t.deepEqual(await logged(mesh, 'istio-ingressgateway', 'probe-gateway: xds.'), ['probe-gateway: xds.cluster_name=outbound|8080||my-app-service.default.svc.cluster.local']);

		const sidecar = await logged(mesh, 'my-app', 'probe-my-app: ');
		t.true(sidecar.includes('probe-my-app: request GET /hello'), sidecar.join('\n'));
		t.true(sidecar.includes('probe-my-app: connection.mtls=true'), 'gateway → sidecar is mTLS (auto mTLS)');
		t.true(sidecar.some(line => /^probe-my-app: connection\.uri_san_peer_certificate=spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/[^/]+$/.test(line)), sidecar.join('\n'));
		t.true(sidecar.includes('probe-my-app: xds.cluster_name=inbound|8080||'), sidecar.join('\n'));
		t.true(sidecar.includes('probe-my-app: header x-probe-gateway=seen'), 'the sidecar\'s plugin sees the header the gateway\'s plugin set');

		const [recorded, ...more] = await mesh.workload('my-app').recordings.requests();
		t.is(more.length, 0);
		t.is(recorded?.path, '/hello');
		t.is(recorded?.headers['host'], 'my-app.example.com', 'the gateway keeps the Host the client sent');
		t.is(recorded?.headers['x-probe-gateway'], 'seen');
		t.is(recorded?.headers['x-forwarded-proto'], 'http');
		t.truthy(recorded?.headers['x-forwarded-for'], 'the gateway (use_remote_address) records the client in x-forwarded-for');
		t.truthy(recorded?.headers['x-request-id']);
		// The sidecar's inbound forwards the client certificate's details (istiod: APPEND_FORWARD with subject, dns, uri).
		t.regex(String(recorded?.headers['x-forwarded-client-cert']), /By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/my-app;.*URI=spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\//);
	});
}
