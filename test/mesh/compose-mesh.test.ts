/**
 * src/compose/mesh.ts on real Envoys with a hand-made MeshModel (./mesh-models.ts): a gateway and two sidecars
 * started at once, each on its own Envoy, reaching each other through the endpoints of the second push.
 */
import test from 'ava';
import { startMesh } from '../../src/compose/mesh.ts';
import { sendRequest } from '../../src/scenario/http-client.ts';
import { childEnvoys, ownWorkDirs } from '../helpers/leftovers.ts';
import { bookinfoMesh } from './mesh-models.ts';

async function get(url: string, headers: Record<string, string> = {}) {
	return sendRequest({ url: new URL(url), method: 'GET', headers, http2: false, timeoutMs: 10_000 });
}

test.serial('gateway → productpage sidecar → its app; productpage outbound → reviews inbound → reviews app; stop leaves nothing', async t => {
	const mesh = await startMesh(await bookinfoMesh({ gateway: ['rust-headers'], reviews: ['rust-headers'] }), { warm: false });
	try {
		t.regex(mesh.url ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
		const viaGateway = await get(`${mesh.url!}/productpage?u=1`, { host: 'bookinfo.example.com' });
		t.is(viaGateway.status, 200);
		t.is(viaGateway.body, 'productpage says hi\n');
		const productpage = mesh.proxy('productpage');
		const seen = await productpage.running.upstream.requests();
		t.is(seen.length, 1);
		t.is(seen[0]!.path, '/productpage?u=1');
		// The gateway's WasmPlugin ran on the way (its ECDS config, on the gateway's own Envoy).
		t.is(seen[0]!.headers['x-chain'], 'istio-ingressgateway.rust-headers');

		// productpage's app calls reviews: to its sidecar's outbound listener for port 9080, by service name.
		const outbound = productpage.listeners.find(listener => listener.listener.role === 'outbound' && listener.listener.port === 9080)!;
		const viaSidecar = await get(`${outbound.url}/reviews/0`, { host: 'reviews:9080' });
		t.is(viaSidecar.status, 200);
		t.is(viaSidecar.body, 'reviews says hi\n');
		const reviews = await mesh.proxy('reviews').running.upstream.requests();
		t.is(reviews.length, 1);
		t.is(reviews[0]!.path, '/reviews/0');
		t.is(reviews[0]!.headers['x-chain'], 'reviews.rust-headers', 'reviews\' own plugin ran on its inbound');
		t.is((await productpage.running.upstream.requests()).length, 1, 'the call did not go to productpage\'s own app');

		// A host no virtual host of the outbound listener names: Envoy's 404 (no route), not the app.
		const unknown = await get(`${outbound.url}/x`, { host: 'ratings:9080' });
		t.is(unknown.status, 404);
	} finally {
		await mesh.stop();
	}

	t.deepEqual(await childEnvoys(), [], 'no Envoy left');
	t.deepEqual(await ownWorkDirs(), [], 'no work directory left');
});

test.serial('a proxy that fails to start stops the others and is named in the error', async t => {
	const model = await bookinfoMesh();
	// reviews' listener on a port another listener holds: that proxy cannot start.
	const blocker = await import('node:net').then(async net => new Promise<import('node:net').Server>(resolve => {
		const server = net.createServer();
		server.listen(0, '127.0.0.1', () => resolve(server));
	}));
	const port = (blocker.address() as import('node:net').AddressInfo).port;
	const broken = { ...model, proxies: model.proxies.map(proxy => proxy.name === 'istio-ingressgateway' ? { ...proxy, sandbox: { ...proxy.sandbox, port } } : proxy) };
	try {
		const error = await t.throwsAsync(startMesh(broken, { warm: false }));
		t.regex(error?.message ?? '', /^proxy istio-ingressgateway: /);
		t.is((error as { code?: string }).code, 'PORT_IN_USE');
	} finally {
		blocker.close();
	}

	t.deepEqual(await childEnvoys(), [], 'the proxies that started were stopped');
	t.deepEqual(await ownWorkDirs(), []);
});

test.serial('reconfigure pushes to the proxies that changed; a new outbound port gets the others\' endpoints', async t => {
	const model = await bookinfoMesh();
	const mesh = await startMesh(model, { warm: false });
	try {
		const versions = () => Object.fromEntries(mesh.proxies.map(proxy => [proxy.name, proxy.running.configVersion?.()]));
		const before = versions();
		// reviews' app answers differently: only reviews is pushed.
		const reviewsV2 = model.proxies.map(proxy => (proxy.name === 'reviews' ? { ...proxy, sandbox: { ...proxy.sandbox, upstream: { ...proxy.sandbox.upstream, body: 'reviews v2\n' } } } : proxy));
		const first = await mesh.reconfigure({ ...model, proxies: reviewsV2 });
		t.deepEqual([...first.keys()], ['reviews']);
		t.is(versions()['istio-ingressgateway'], before['istio-ingressgateway']);
		t.is(versions().productpage, before.productpage);

		// productpage's sidecar gets an outbound listener for port 9091 → reviews: productpage is pushed, and the
		// gateway, which sends to productpage, gets new connections to it (its cluster's peer generation).
		const productpage = model.proxies[1]!.sandbox.proxy!;
		const outbound = productpage.listeners[1]!;
		const port9091 = { ...outbound, name: '0.0.0.0_9091', port: 9091, filterChains: outbound.filterChains.map(chain => ({ ...chain, name: '0.0.0.0_9091', http: { ...chain.http, routeConfig: { ...chain.http.routeConfig, name: '9091' } } })) };
		const withPort = reviewsV2.map(proxy => (proxy.name === 'productpage' ? { ...proxy, sandbox: { ...proxy.sandbox, proxy: { ...productpage, listeners: [...productpage.listeners, port9091] } } } : proxy));
		const second = await mesh.reconfigure({ ...model, proxies: withPort });
		t.deepEqual([...second.keys()].sort(), ['istio-ingressgateway', 'productpage']);
		t.true([...second.values()].every(result => result.rejections.length === 0));
		const gatewayDump = JSON.stringify(await mesh.proxy('istio-ingressgateway').running.admin.get('config_dump'));
		t.true(gatewayDump.includes('peer_generation'));

		const listener = mesh.proxy('productpage').listeners.find(entry => entry.listener.name === '0.0.0.0_9091');
		t.truthy(listener, 'the new listener\'s address was learned');
		const response = await get(`${listener!.url}/v2`, { host: 'reviews:9080' });
		t.is(response.status, 200);
		t.is(response.body, 'reviews v2\n');
		t.is((await get(`${mesh.url!}/p`, { host: 'bookinfo.example.com' })).body, 'productpage says hi\n');

		await t.throwsAsync(mesh.reconfigure({ ...model, proxies: model.proxies.slice(0, 2) }), { message: /cannot add or remove proxies/ });
	} finally {
		await mesh.stop();
	}
});
