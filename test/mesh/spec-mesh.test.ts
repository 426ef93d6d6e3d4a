/**
 * A mesh from its spec (`startMesh({ mesh, istio })`, src/istio/mesh/resolve.ts → src/compose/mesh.ts) on real
 * Envoys: the default ingress gateway routing by an Istio Gateway + VirtualService, sidecars reaching Services
 * by name over auto mTLS, and `applyIstio` pushing a new WasmPlugin to the one proxy it selects.
 */
import test from 'ava';
import { meshFor } from '../../src/scenario/mesh.ts';
import { fixturePlugin, repoRoot } from '../helpers/paths.ts';

const gateway = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-gateway, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: [ "bookinfo.example.com" ]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo, namespace: default }
spec:
  hosts: [ "bookinfo.example.com" ]
  gateways: [ bookinfo-gateway ]
  http:
    - route: [ { destination: { host: productpage, port: { number: 9080 } } } ]
`;

const reviewsPlugin = `
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: reviews-headers, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  url: file://${fixturePlugin('rust-headers')}
`;

const spec = {
	mesh: {
		workloads: [
			{ name: 'productpage', port: 9080, service: 'productpage', serviceAccount: 'bookinfo-productpage', app: { body: 'productpage\n' } },
			{ name: 'reviews', port: 9080, service: 'reviews', serviceAccount: 'bookinfo-reviews', app: { body: 'reviews\n' } },
		],
	},
	istio: { resources: [gateway] },
	baseDir: repoRoot,
};

test.serial('a mesh from its spec: the gateway routes by the VirtualService, a sidecar reaches a Service by name', async t => {
	const mesh = await meshFor(t, spec);
	t.deepEqual(mesh.model.proxies.map(proxy => proxy.name), ['istio-ingressgateway', 'productpage', 'reviews']);
	const page = await mesh.request('/p', { host: 'bookinfo.example.com' });
	t.is(page.status, 200);
	t.is(page.body, 'productpage\n');
	t.is((await mesh.request('/p', { host: 'elsewhere.example.com' })).status, 404);

	const reviews = await mesh.workload('productpage').request('http://reviews:9080/reviews/0');
	t.is(reviews.body, 'reviews\n');
	const [received] = await mesh.workload('reviews').recordings.requests();
	t.is(received?.path, '/reviews/0');
	// Auto mTLS between the sidecars (the endpoint's `tlsMode: istio`): reviews' inbound saw productpage's SPIFFE id.
	t.regex(received?.headers['x-forwarded-client-cert'] ?? '', /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews;.*URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-productpage$/);
});

test.serial('applyIstio: a WasmPlugin selecting reviews reaches reviews\' Envoy only', async t => {
	const mesh = await meshFor(t, spec);
	await mesh.workload('productpage').request('http://reviews:9080/before');
	await mesh.applyIstio(reviewsPlugin);
	await mesh.workload('productpage').request('http://reviews:9080/after');
	const [before, after] = await mesh.workload('reviews').recordings.requests();
	t.is(before?.headers['x-chain'], undefined);
	t.is(after?.headers['x-chain'], 'default.reviews-headers', 'the WasmPlugin ran on reviews\' inbound (ECDS name <namespace>.<name>)');
	t.deepEqual(await mesh.proxy('productpage').logs({ message: 'chain request' }), [], 'not on productpage');
});

test.serial('applyIstio calls made at once apply in call order; after stop() one is refused', async t => {
	const mesh = await meshFor(t, spec);
	const second = reviewsPlugin.replace('name: reviews-headers', 'name: reviews-headers-2');
	await Promise.all([mesh.applyIstio(reviewsPlugin), mesh.applyIstio(second)]);
	await mesh.workload('productpage').request('http://reviews:9080/both');
	const [received] = await mesh.workload('reviews').recordings.requests();
	t.deepEqual(received?.headers['x-chain']?.split(', ').sort(), ['default.reviews-headers', 'default.reviews-headers-2'], 'neither change was lost');
	const stopped = mesh.stop();
	await t.throwsAsync(mesh.applyIstio(reviewsPlugin), { code: 'SANDBOX_STOPPED' });
	await stopped;
});

test.serial('a mesh whose gateway no Gateway resource selects starts; requests to that gateway say why they cannot go', async t => {
	const mesh = await meshFor(t, { mesh: spec.mesh, baseDir: repoRoot });
	t.deepEqual(mesh.proxy('istio-ingressgateway').listeners, [], 'istiod gives it no listeners');
	t.is((await mesh.workload('productpage').request('http://reviews:9080/r')).body, 'reviews\n');
	await t.throwsAsync(mesh.request('/'), { message: /^gateway istio-ingressgateway has no listeners: no Gateway resource selects it \(labels app=istio-ingressgateway, istio=ingressgateway\)$/ });
});
