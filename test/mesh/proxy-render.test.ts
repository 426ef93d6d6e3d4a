/**
 * src/envoy/proxy.ts without Envoy: what a mesh proxy's resources hold before and after the mesh knows where the
 * others are, its SDS secrets as istio-agent serves them, one ECDS resource per WasmPlugin.
 */
import test from 'ava';
import { buildResources, type Placement } from '../../src/envoy/bootstrap.ts';
import type { JsonObject } from '../../src/util/json.ts';
import { bookinfoMesh } from './mesh-models.ts';

const basePlacement: Placement = { listener: { address: '127.0.0.1', port: 0 }, admin: { address: '127.0.0.1', port: 0 }, upstream: { address: '127.0.0.1', port: 5555 }, wasmPath: plugin => plugin.wasmPath };

function clusterNamed(resources: { clusters: readonly JsonObject[] }, name: string): JsonObject {
	return resources.clusters.find(cluster => cluster.name === name)!;
}

test('a cluster to another proxy has no endpoint until the mesh knows its port; the app is the upstream', async t => {
	const mesh = await bookinfoMesh();
	const productpage = mesh.proxies.find(proxy => proxy.name === 'productpage')!.sandbox;
	const before = buildResources(productpage, basePlacement, { ecds: true });
	t.deepEqual(clusterNamed(before, 'outbound|9080||reviews.default.svc.cluster.local').load_assignment, { cluster_name: 'outbound|9080||reviews.default.svc.cluster.local', endpoints: [] });
	t.deepEqual(clusterNamed(before, 'inbound|9080||').load_assignment, {
		cluster_name: 'inbound|9080||',
		endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 5555 } } } }] }],
	});

	const after = buildResources(productpage, { ...basePlacement, meshEndpoint: ref => (ref.kind === 'proxy' && ref.proxy === 'reviews' ? { address: '127.0.0.1', port: 41_000 } : undefined) }, { ecds: true });
	const toReviews = clusterNamed(after, 'outbound|9080||reviews.default.svc.cluster.local');
	t.is(toReviews.type, 'STATIC');
	t.is(toReviews.connect_timeout, '10s', 'the model\'s fields win over the defaults');
	t.deepEqual((toReviews.load_assignment as { endpoints: unknown[] }).endpoints, [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 41_000 } } }, metadata: { filter_metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } } }] }]);
});

test('listeners bind where the placement says, with istiod\'s names and direction', async t => {
	const mesh = await bookinfoMesh();
	const productpage = mesh.proxies.find(proxy => proxy.name === 'productpage')!.sandbox;
	const resources = buildResources(productpage, { ...basePlacement, proxyListener: listener => ({ address: '127.0.0.1', port: listener.role === 'inbound' ? 15_006 : 0 }) });
	t.deepEqual(resources.listeners.map(listener => [listener.name, listener.traffic_direction, (listener.address as { socket_address: { port_value: number } }).socket_address.port_value]), [
		['virtualInbound', 'INBOUND', 15_006],
		['0.0.0.0_9080', 'OUTBOUND', 0],
	]);
});

test('the same WasmPlugin on two chains is one ECDS resource; secrets are SDS Secrets with inline PEM', async t => {
	const mesh = await bookinfoMesh({ gateway: ['rust-headers'] });
	const gateway = mesh.proxies[0]!.sandbox;
	const proxy = gateway.proxy!;
	const [listener] = proxy.listeners;
	const doubled = {
		...gateway,
		proxy: {
			...proxy,
			listeners: [listener!, { ...listener!, name: '0.0.0.0_8443', port: 8443 }],
			secrets: [
				{ name: 'default', certificateChain: '-----BEGIN CERTIFICATE-----\nabc\n', privateKey: '-----BEGIN PRIVATE KEY-----\nxyz\n' },
				{ name: 'ROOTCA', trustedCa: '-----BEGIN CERTIFICATE-----\nroot\n' },
			],
		},
	};
	const resources = buildResources(doubled, basePlacement, { ecds: true }) as ReturnType<typeof buildResources> & { secrets?: JsonObject[] };
	t.deepEqual(resources.extensionConfigs.map(config => config.name), ['istio-ingressgateway.rust-headers']);
	t.is(resources.listeners.length, 2);
	const base64 = (text: string) => Buffer.from(text).toString('base64');
	t.deepEqual(resources.secrets, [
		{ name: 'default', tls_certificate: { certificate_chain: { inline_bytes: base64('-----BEGIN CERTIFICATE-----\nabc\n') }, private_key: { inline_bytes: base64('-----BEGIN PRIVATE KEY-----\nxyz\n') } } },
		{ name: 'ROOTCA', validation_context: { trusted_ca: { inline_bytes: base64('-----BEGIN CERTIFICATE-----\nroot\n') } } },
	]);
});

test('a secret with neither a certificate and key nor a CA is an error naming it', async t => {
	const mesh = await bookinfoMesh();
	const reviews = mesh.proxies[2]!.sandbox;
	const broken = { ...reviews, proxy: { ...reviews.proxy!, secrets: [{ name: 'default', certificateChain: '-----BEGIN CERTIFICATE-----\n' }] } };
	t.throws(() => buildResources(broken, basePlacement, { ecds: true }), { message: 'secret "default" has neither a certificate chain with its private key nor a trusted CA' });
});
