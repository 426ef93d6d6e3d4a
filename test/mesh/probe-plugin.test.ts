/**
 * fixtures/plugins/rust-probe, the mesh scenarios' plugin, on a real Envoy in a plain sandbox: what it logs
 * (properties typed as Envoy serializes them, request headers), the headers it adds on both ways, its
 * short-circuit, and a configuration it refuses. The mesh scenarios (scenarios/mesh-*.ts) rely on each line.
 */
import test from 'ava';
import { assertReachedUpstream, assertShortCircuit, MeshboxError, sandboxFor, startSandbox } from '../../src/index.ts';
import { fixturePlugin } from '../helpers/paths.ts';

const probeWasm = fixturePlugin('rust-probe');
const issuer = 'https://issuer.example.com';
const jwtNamespace = 'envoy.filters.http.jwt_authn';

/** The messages one plugin logged, in order. */
async function messages(box: { logs: (filter: { plugin: string }) => Promise<Array<{ message: string }>> }, plugin: string): Promise<string[]> {
	return (await box.logs({ plugin })).map(entry => entry.message);
}

test('the probe logs typed properties and request headers, and adds request and response headers', async t => {
	const box = await sandboxFor(t, {
		routes: [{ name: 'probe-route', match: { prefix: '/' } }],
		// What Istio's jwt_authn filter writes for a verified token (payload_in_metadata: the issuer), by hand.
		httpFilters: [{
			name: 'envoy.filters.http.set_metadata',
			before: 'probe',
			typedConfig: {
				'@type': 'type.googleapis.com/envoy.extensions.filters.http.set_metadata.v3.Config',
				metadata: [{ metadata_namespace: jwtNamespace, value: { [issuer]: { sub: 'alice', iss: issuer } } }],
			},
		}],
		plugins: [{
			name: 'probe',
			wasm: probeWasm,
			configuration: {
				name: 'probe-a',
				log: [
					['connection', 'uri_san_peer_certificate'],
					['connection', 'mtls'],
					['source', 'port'],
					['xds', 'cluster_name'],
					['xds', 'route_name'],
					['metadata', 'filter_metadata', jwtNamespace, issuer],
					['metadata', 'filter_metadata', jwtNamespace, issuer, 'sub'],
				],
				log_request_headers: ['x-user', 'authorization'],
				request_headers: { 'x-probe-a': 'seen' },
				property_headers: { 'x-route': ['xds', 'route_name'], 'x-peer-principal': ['connection', 'uri_san_peer_certificate'] },
				response_headers: { 'x-probe-a-response': 'seen' },
				property_response_headers: { 'x-probe-a-mtls': ['connection', 'mtls'] },
			},
		}],
	});

	const response = await box.request('/hello?x=1', { headers: { 'x-user': 'alice' } });
	await assertReachedUpstream(t, response, box);
	t.is(response.headers['x-probe-a-response'], 'seen');
	t.is(response.headers['x-probe-a-mtls'], 'false', 'a boolean property as true/false');

	const [recorded] = (await box.upstream.requests()).filter(request => request.headers['x-meshbox-request-id'] === response.requestId);
	t.is(recorded?.headers['x-probe-a'], 'seen', 'request_headers reach the app');
	t.is(recorded?.headers['x-route'], 'probe-route', 'property_headers carry the property\'s value');
	t.false(Boolean(recorded && 'x-peer-principal' in recorded.headers), 'a property without a value adds no header');

	const logged = await messages(box, 'probe');
	const sourcePort = logged.find(line => line.startsWith('probe-a: source.port='));
	t.regex(sourcePort ?? '', /^probe-a: source\.port=\d+$/, 'an integer property as a decimal number');
	t.deepEqual(logged.filter(line => line !== sourcePort && line !== 'probe-a: configured'), [
		'probe-a: request GET /hello?x=1',
		'probe-a: connection.uri_san_peer_certificate=(none)',
		'probe-a: connection.mtls=false',
		'probe-a: xds.cluster_name=upstream',
		'probe-a: xds.route_name=probe-route',
		`probe-a: metadata.filter_metadata.${jwtNamespace}.${issuer}={iss: ${issuer}, sub: alice}`,
		`probe-a: metadata.filter_metadata.${jwtNamespace}.${issuer}.sub=alice`,
		'probe-a: header x-user=alice',
		'probe-a: header authorization=(none)',
		'probe-a: response 200',
	]);
});

test('with respond, the probe answers itself and the app sees nothing', async t => {
	const box = await sandboxFor(t, {
		plugins: [{
			name: 'probe',
			wasm: probeWasm,
			configuration: { name: 'probe-b', respond: { status: 403, body: 'denied by probe-b\n', headers: { 'x-answered-by': 'probe-b' } } },
		}],
	});
	const response = await box.request('/secret');
	t.is(response.body, 'denied by probe-b\n');
	t.is(response.headers['x-answered-by'], 'probe-b');
	await assertShortCircuit(t, response, box, 403);
	const logged = await messages(box, 'probe');
	t.true(logged.includes('probe-b: request GET /secret'), logged.join('\n'));
	t.true(logged.includes('probe-b: respond 403'), logged.join('\n'));
});

test('a configuration with an unknown field or a wrong type: Envoy refuses the plugin, naming the field', async t => {
	const unknown = await t.throwsAsync(startSandbox({ plugins: [{ name: 'probe', wasm: probeWasm, configuration: { name: 'p', logs: [] } }] }), { instanceOf: MeshboxError });
	t.is(unknown?.code, 'ENVOY_REJECTED_CONFIG');
	t.regex(unknown?.message ?? '', /invalid plugin configuration: "logs": unknown field \(known: name, log, /);
	const badPath = await t.throwsAsync(startSandbox({ plugins: [{ name: 'probe', wasm: probeWasm, configuration: { log: [['connection', 7]] } }] }), { instanceOf: MeshboxError });
	t.regex(badPath?.message ?? '', /invalid plugin configuration: "log\[0\]\[1\]": expected a string/);
});

// The probe WasmPlugins of fixtures/mesh/ on today's single Istio sidecar: their pluginConfig (YAML → the JSON
// istiod sends) is one the probe accepts, and their selectors and modes pick the proxies the mesh scenarios expect.
test('fixtures/mesh/mtls/probes.yaml: probe-server on httpbin\'s inbound, probe-client on sleep\'s outbound', async t => {
	const server = await sandboxFor(t, {
		workload: { name: 'httpbin', namespace: 'default', labels: { app: 'httpbin', version: 'v1' }, serviceAccount: 'httpbin', port: 8080 },
		istio: { files: ['fixtures/mesh/mtls/probes.yaml'] },
	});
	const response = await server.request('/headers');
	await assertReachedUpstream(t, response, server);
	// on_configure runs once per VM (one per worker thread): `configured` lines are left out.
	t.deepEqual((await messages(server, 'default.probe-server')).filter(line => line !== 'probe-server: configured'), [
		'probe-server: request GET /headers',
		'probe-server: connection.mtls=false',
		'probe-server: connection.uri_san_peer_certificate=(none)',
		'probe-server: connection.uri_san_local_certificate=(none)',
		'probe-server: source.principal=(none)',
		'probe-server: xds.cluster_name=inbound|8080||',
		'probe-server: header x-probe-client=(none)',
		'probe-server: response 200',
	]);
	t.is(response.headers['x-probe-server-peer'], undefined, 'plain text: no peer, no header');

	const client = await sandboxFor(t, {
		workload: { name: 'sleep', namespace: 'default', labels: { app: 'sleep' }, serviceAccount: 'sleep', port: 8080 },
		istio: { files: ['fixtures/mesh/mtls/probes.yaml'], direction: 'outbound', destination: { host: 'httpbin.default.svc.cluster.local', port: 8000 } },
	});
	await client.request('/headers');
	const [recorded] = await client.upstream.requests();
	t.is(recorded?.headers['x-probe-client'], 'sleep');
	const clientLines = await messages(client, 'default.probe-client');
	t.true(clientLines.includes('probe-client: xds.cluster_name=outbound|8000||httpbin.default.svc.cluster.local'), clientLines.join('\n'));
});

test('fixtures/mesh/bookinfo/probe.yaml: probe-reviews on a reviews inbound logs the end-user header', async t => {
	const box = await sandboxFor(t, {
		workload: { name: 'reviews-v2', namespace: 'default', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'bookinfo-reviews', port: 9080 },
		istio: { files: ['fixtures/mesh/bookinfo/probe.yaml'] },
	});
	await box.request('/reviews/0', { headers: { 'end-user': 'jason' } });
	const logged = await messages(box, 'default.probe-reviews');
	t.true(logged.includes('probe-reviews: header end-user=jason'), logged.join('\n'));
	t.true(logged.includes('probe-reviews: xds.cluster_name=inbound|9080||'), logged.join('\n'));
});
