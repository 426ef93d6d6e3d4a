/**
 * WasmPlugins on a real Envoy sidecar: istiod's order (phase, then priority), pluginConfig and env vars reaching
 * the plugin, selector and match leaving plugins out, Istio's node identity and names seen by a plugin.
 */
import test from 'ava';
import { forEachRuntime, scenarioRuntimes } from '../src/index.ts';

// Await the runtimes before declaring anything: ava wants every test and hook declared synchronously.
const runtimes = await scenarioRuntimes();

const headersWasm = 'file://fixtures/plugins/rust-headers/rust-headers.wasm';
const configWasm = 'file://fixtures/plugins/rust-config/rust-config.wasm';
const propertiesWasm = 'file://fixtures/plugins/rust-properties/rust-properties.wasm';
const workload = { name: 'my-app', namespace: 'shop', labels: { app: 'my-app', version: 'v1' }, port: 8080 };

function wasmPlugin(name: string, spec: Record<string, unknown>, namespace = 'shop') {
	return { apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', metadata: { name, namespace }, spec };
}

// Every story below is told on every runtime (local, docker).
forEachRuntime(runtimes, ({ title, startSandbox }) => {
	test(title('phase, then priority, then name: each plugin appends to x-chain in filter order'), async t => {
		const box = await startSandbox({
			workload,
			istio: {
				resources: [
					wasmPlugin('unspecified', { url: headersWasm }),
					wasmPlugin('stats', { url: headersWasm, phase: 'STATS', priority: 1000 }),
					wasmPlugin('authz-unset', { url: headersWasm, phase: 'AUTHZ' }),
					wasmPlugin('authz-0', { url: headersWasm, phase: 'AUTHZ', priority: 0 }),
					wasmPlugin('authz-10', { url: headersWasm, phase: 'AUTHZ', priority: 10 }),
					wasmPlugin('authn', { url: headersWasm, phase: 'AUTHN', priority: -100 }),
					wasmPlugin('mesh-wide', { url: headersWasm, phase: 'AUTHZ', priority: 10 }, 'istio-system'),
					// Left out: another app's selector, CLIENT-only match, a port the workload does not serve, another namespace.
					wasmPlugin('other-app', { url: headersWasm, selector: { matchLabels: { app: 'reviews' } } }),
					wasmPlugin('client-only', { url: headersWasm, match: [{ mode: 'CLIENT' }] }),
					wasmPlugin('port-9090', { url: headersWasm, match: [{ ports: [{ number: 9090 }] }] }),
					wasmPlugin('elsewhere', { url: headersWasm }, 'payments'),
				],
			},
		});
		t.teardown(async () => box.stop());
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

	test(title('pluginConfig arrives as istiod encodes it; INLINE and HOST env vars reach the VM'), async t => {
		const box = await startSandbox({
			workload,
			istio: {
				env: { TEAM: 'payments' },
				resources: [wasmPlugin('config', {
					url: configWasm,
					pluginConfig: { env: 'TEAM', value: 'v<1>', header: 'x-from-config', nested: { b: 2, a: 1.5 } },
					vmConfig: { env: [{ name: 'TEAM', valueFrom: 'HOST' }, { name: 'MODE', value: 'demo' }, { name: 'POD_NAME', valueFrom: 'HOST' }] },
				})],
			},
		});
		t.teardown(async () => box.stop());
		const response = await box.request('/');
		t.is(response.headers['x-plugin-config'], '{"env":"TEAM","header":"x-from-config","nested":{"a":1.5,"b":2},"value":"v\\u003c1\\u003e"}');
		t.is(response.headers['x-from-config'], 'v<1>');
		t.is(response.headers['x-env'], 'payments', 'HOST value from istio.env');
		// TEAM, MODE, POD_NAME (the sidecar's own) and ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION (kept for file:// code).
		t.is(response.headers['x-env-count'], '4');
	});

	test(title('a plugin reads Istio node metadata, cluster and route names, and its Istio plugin name'), async t => {
		const box = await startSandbox({ workload, istio: { resources: [wasmPlugin('props', { url: propertiesWasm, pluginName: 'probe' })] } });
		t.teardown(async () => box.stop());
		const read = async (property: string) => (await box.request('/', { headers: { 'x-property': property } })).headers['x-property-value'];
		t.is(await read('xds.node.metadata.NAMESPACE'), 'shop');
		t.is(await read('xds.node.metadata.WORKLOAD_NAME'), 'my-app');
		t.is(await read('xds.node.metadata.CLUSTER_ID'), 'Kubernetes');
		t.is(await read('xds.node.metadata.ISTIO_VERSION'), '1.29.0');
		t.is(await read('xds.node.metadata.LABELS.app'), 'my-app');
		t.is(await read('xds.node.id'), 'sidecar~127.0.0.1~my-app-meshbox.shop~shop.svc.cluster.local');
		t.is(await read('xds.cluster_name'), 'inbound|8080||');
		t.is(await read('xds.route_name'), 'default');
		t.is(await read('plugin_name'), 'shop.props');
		t.is(await read('plugin_root_id'), 'probe');
	});

	test(title('type NETWORK: the plugin runs as a network filter and sees the connection\'s raw bytes'), async t => {
		const box = await startSandbox({
			workload,
			istio: { resources: [wasmPlugin('tcp', { url: 'file://fixtures/plugins/rust-network/rust-network.wasm', type: 'NETWORK' }), wasmPlugin('http', { url: headersWasm })] },
		});
		t.teardown(async () => box.stop());
		t.regex(box.bootstrapYaml, /envoy\.extensions\.filters\.network\.wasm\.v3\.Wasm/, 'a network wasm filter, before the HTTP connection manager');
		const response = await box.request('/raw?x=1', { headers: { host: 'my-app.shop' } });
		t.is(response.status, 200);
		t.is(response.headers['x-chain'], 'shop.http', 'the HTTP plugin still runs');
		const line = await box.waitForLog({ plugin: 'shop.tcp', message: /^downstream data: / }, 5000);
		t.is(line?.message, 'downstream data: GET /raw?x=1 HTTP/1.1', 'the network plugin saw the request line before HTTP parsing');
		t.truthy(await box.waitForLog({ plugin: 'shop.tcp', message: 'new connection' }, 1000));
	});

	test(title('outbound: CLIENT-mode plugins apply, names are outbound|<port>||<host>'), async t => {
		const box = await startSandbox({
			workload,
			istio: {
				direction: 'outbound',
				destination: { host: 'reviews.shop.svc.cluster.local', port: 9080 },
				resources: [wasmPlugin('props', { url: propertiesWasm, match: [{ mode: 'CLIENT', ports: [{ number: 9080 }] }] }), wasmPlugin('server-only', { url: headersWasm, match: [{ mode: 'SERVER' }] })],
			},
		});
		t.teardown(async () => box.stop());
		const response = await box.request('/', { headers: { 'x-property': 'xds.cluster_name', host: 'reviews.shop.svc.cluster.local:9080' } });
		t.is(response.headers['x-property-value'], 'outbound|9080||reviews.shop.svc.cluster.local');
		t.is(response.headers['x-chain'], undefined, 'the SERVER-only plugin is not on the outbound chain');
	});
});
