/**
 * WasmPlugins on a real Envoy sidecar: istiod's order (phase, then priority), pluginConfig and env vars reaching
 * the plugin, selector and match leaving plugins out, Istio's node identity and names seen by a plugin.
 */
import test from 'ava';
import { stories, wasmPlugin } from 'meshbox';

// Await the runtimes before declaring anything: ava wants every test and hook declared synchronously.
const story = await stories(test);

const headersWasm = 'file://fixtures/plugins/rust-headers/rust-headers.wasm';
const configWasm = 'file://fixtures/plugins/rust-config/rust-config.wasm';
const propertiesWasm = 'file://fixtures/plugins/rust-properties/rust-properties.wasm';
const workload = { name: 'my-app', namespace: 'shop', labels: { app: 'my-app', version: 'v1' }, port: 8080 };

// Every story below is told on every runtime (local, docker).
story('phase, then priority, then name: each plugin appends to x-chain in filter order', async (t, { sandbox }) => {
	const box = await sandbox({
		workload,
		istio: {
			resources: [
				wasmPlugin({ name: 'unspecified', namespace: 'shop', url: headersWasm }),
				wasmPlugin({ name: 'stats', namespace: 'shop', url: headersWasm, phase: 'STATS', priority: 1000 }),
				wasmPlugin({ name: 'authz-unset', namespace: 'shop', url: headersWasm, phase: 'AUTHZ' }),
				wasmPlugin({ name: 'authz-0', namespace: 'shop', url: headersWasm, phase: 'AUTHZ', priority: 0 }),
				wasmPlugin({ name: 'authz-10', namespace: 'shop', url: headersWasm, phase: 'AUTHZ', priority: 10 }),
				wasmPlugin({ name: 'authn', namespace: 'shop', url: headersWasm, phase: 'AUTHN', priority: -100 }),
				wasmPlugin({ name: 'mesh-wide', namespace: 'istio-system', url: headersWasm, phase: 'AUTHZ', priority: 10 }),
				// Left out: another app's selector, CLIENT-only match, a port the workload does not serve, another namespace.
				wasmPlugin({ name: 'other-app', namespace: 'shop', url: headersWasm, selector: { matchLabels: { app: 'reviews' } } }),
				wasmPlugin({ name: 'client-only', namespace: 'shop', url: headersWasm, match: [{ mode: 'CLIENT' }] }),
				wasmPlugin({ name: 'port-9090', namespace: 'shop', url: headersWasm, match: [{ ports: [{ number: 9090 }] }] }),
				wasmPlugin({ name: 'elsewhere', namespace: 'payments', url: headersWasm }),
			],
		},
	});
	const response = await box.request('/order');
	t.is(response.status, 200);
	t.is(await box.upstream.hits(), 1);
	const [recorded] = await box.upstream.requests();
	const chain = (recorded?.rawHeaders ?? []).flatMap((value, index, all) => (index % 2 === 0 && value.toLowerCase() === 'x-chain' ? [all[index + 1]] : []));
	t.deepEqual(chain, [
		'shop.authn',
		'shop.authz-10', 'istio-system.mesh-wide', 'shop.authz-0', 'shop.authz-unset',
		'shop.stats',
		'shop.unspecified',
	]);
	const notes = box.istioNotes.join('\n');
	for (const name of ['other-app', 'client-only', 'port-9090', 'elsewhere']) {
		t.regex(notes, new RegExp(`WasmPlugin \\w+/${name} does not apply`), name);
	}
});

story('pluginConfig arrives as istiod encodes it; INLINE and HOST env vars reach the VM', async (t, { sandbox }) => {
	const box = await sandbox({
		workload,
		istio: {
			env: { TEAM: 'payments' },
			resources: [wasmPlugin({
				name: 'config',
				namespace: 'shop',
				url: configWasm,
				pluginConfig: { env: 'TEAM', value: 'v<1>', header: 'x-from-config', nested: { b: 2, a: 1.5 } },
				vmConfig: { env: [{ name: 'TEAM', valueFrom: 'HOST' }, { name: 'MODE', value: 'demo' }, { name: 'POD_NAME', valueFrom: 'HOST' }] },
			})],
		},
	});
	const response = await box.request('/');
	t.is(response.headers['x-plugin-config'], '{"env":"TEAM","header":"x-from-config","nested":{"a":1.5,"b":2},"value":"v\\u003c1\\u003e"}');
	t.is(response.headers['x-from-config'], 'v<1>');
	t.is(response.headers['x-env'], 'payments', 'HOST value from istio.env');
	// TEAM, MODE, POD_NAME (the sidecar's own) and ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION (kept for file:// code).
	t.is(response.headers['x-env-count'], '4');
});

story('a plugin reads Istio node metadata, cluster and route names, and its Istio plugin name', async (t, { sandbox }) => {
	const box = await sandbox({ workload, istio: { resources: [wasmPlugin({ name: 'props', namespace: 'shop', url: propertiesWasm, pluginName: 'probe' })] } });
	const read = async (property: string) => (await box.request('/', { headers: { 'x-property': property } })).headers['x-property-value'];
	t.is(await read('xds.node.metadata.NAMESPACE'), 'shop');
	t.is(await read('xds.node.metadata.WORKLOAD_NAME'), 'my-app');
	t.is(await read('xds.node.metadata.CLUSTER_ID'), 'Kubernetes');
	// istio.version defaults to 1.29, which is its latest patch (src/istio/version.ts latestPatches).
	t.is(await read('xds.node.metadata.ISTIO_VERSION'), '1.29.6');
	t.is(await read('xds.node.metadata.LABELS.app'), 'my-app');
	t.is(await read('xds.node.id'), 'sidecar~127.0.0.1~my-app-meshbox.shop~shop.svc.cluster.local');
	t.is(await read('xds.cluster_name'), 'inbound|8080||');
	t.is(await read('xds.route_name'), 'default');
	t.is(await read('plugin_name'), 'shop.props');
	t.is(await read('plugin_root_id'), 'probe');
});

story('type NETWORK: the plugin runs as a network filter and sees the connection\'s raw bytes', async (t, { sandbox }) => {
	const box = await sandbox({
		workload,
		istio: { resources: [wasmPlugin({ name: 'tcp', namespace: 'shop', url: 'file://fixtures/plugins/rust-network/rust-network.wasm', type: 'NETWORK' }), wasmPlugin({ name: 'http', namespace: 'shop', url: headersWasm })] },
	});
	// The sidecar's listener comes over xDS, so what Envoy runs is in its config dump, not in the bootstrap.
	const configDump = await (await fetch(new URL('/config_dump', box.adminUrl))).text();
	t.regex(configDump, /envoy\.extensions\.filters\.network\.wasm\.v3\.Wasm/, 'a network wasm filter, before the HTTP connection manager');
	const response = await box.request('/raw?x=1', { headers: { host: 'my-app.shop' } });
	t.is(response.status, 200);
	t.is(response.headers['x-chain'], 'shop.http', 'the HTTP plugin still runs');
	const line = await box.waitForLog({ plugin: 'shop.tcp', message: /^downstream data: / }, 5000);
	t.is(line?.message, 'downstream data: GET /raw?x=1 HTTP/1.1', 'the network plugin saw the request line before HTTP parsing');
	t.truthy(await box.waitForLog({ plugin: 'shop.tcp', message: 'new connection' }, 1000));
});

story('outbound: CLIENT-mode plugins apply, names are outbound|<port>||<host>', async (t, { sandbox }) => {
	const box = await sandbox({
		workload,
		istio: {
			direction: 'outbound',
			destination: { host: 'reviews.shop.svc.cluster.local', port: 9080 },
			resources: [wasmPlugin({ name: 'props', namespace: 'shop', url: propertiesWasm, match: [{ mode: 'CLIENT', ports: [{ number: 9080 }] }] }), wasmPlugin({ name: 'server-only', namespace: 'shop', url: headersWasm, match: [{ mode: 'SERVER' }] })],
		},
	});
	const response = await box.request('/', { headers: { 'x-property': 'xds.cluster_name', host: 'reviews.shop.svc.cluster.local:9080' } });
	t.is(response.headers['x-property-value'], 'outbound|9080||reviews.shop.svc.cluster.local');
	t.is(response.headers['x-chain'], undefined, 'the SERVER-only plugin is not on the outbound chain');
});
