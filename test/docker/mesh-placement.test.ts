/**
 * Where the docker runtime puts a mesh proxy's listeners and finds the others, and which names its container
 * answers to (src/runtime/docker/mesh.ts). No daemon needed: what is decided before any container.
 */
import test from 'ava';
import { MeshboxError } from '../../src/errors.ts';
import { meshAliases, meshListenerPorts, peersOf, proxyPlacement, relayExternals } from '../../src/runtime/docker/mesh.ts';
import { gatewayProxy, meshProxies, placementFor, productpageProxy, productpageWithExternal, reviewsProxy } from './mesh-model.ts';

test('listeners bind 0.0.0.0 at Istio\'s ports: inbound 15006, outbound the service port, gateway its container port', t => {
	const placement = proxyPlacement(undefined, new Map());
	t.deepEqual(productpageProxy.listeners.map(listener => placement.proxyListener(listener)), [{ address: '0.0.0.0', port: 15_006 }, { address: '0.0.0.0', port: 9080 }]);
	t.deepEqual(gatewayProxy.listeners.map(listener => placement.proxyListener(listener)), [{ address: '0.0.0.0', port: 8080 }]);
});

test('another proxy\'s listener is <proxy name>:<its port>, known up front; an external host is where the mesh says, relayed when on loopback', async t => {
	const proxies = await meshProxies([gatewayProxy, productpageProxy, reviewsProxy]);
	const mesh = placementFor('m', proxies, new Map([['api.example.com:80', { address: '127.0.0.1', port: 4000 }]]));
	const placement = proxyPlacement(mesh, new Map([['api.example.com:80', { address: '172.18.0.1', port: 5555 }]]));
	t.deepEqual(placement.meshEndpoint({ kind: 'proxy', proxy: 'reviews-v1', listener: 'virtualInbound' }), { address: 'reviews-v1', port: 15_006 });
	t.deepEqual(placement.meshEndpoint({ kind: 'proxy', proxy: 'productpage', listener: '0.0.0.0_9080' }), { address: 'productpage', port: 9080 });
	t.deepEqual(placement.meshEndpoint({ kind: 'external', host: 'api.example.com', port: 80 }), { address: '172.18.0.1', port: 5555 }, 'the relay');
	t.is(placement.meshEndpoint({ kind: 'proxy', proxy: 'nobody', listener: 'virtualInbound' }), undefined);
});

test('the container\'s names: the proxy\'s own first, then those the mesh gives it; peers are the proxies its clusters name', async t => {
	const proxies = await meshProxies([gatewayProxy, productpageProxy, reviewsProxy]);
	const mesh = placementFor('m', proxies);
	t.deepEqual(meshAliases(reviewsProxy, mesh), ['reviews-v1', 'reviews', 'reviews.default', 'reviews.default.svc.cluster.local']);
	t.deepEqual(meshAliases(gatewayProxy, mesh), [gatewayProxy.name]);
	t.deepEqual(meshAliases(reviewsProxy, undefined), ['reviews-v1'], 'a proxy started alone');
	t.deepEqual(peersOf(productpageProxy, mesh), ['reviews-v1']);
	t.deepEqual(peersOf(gatewayProxy, { ...mesh, proxy: () => undefined }), [], 'a proxy the mesh does not have is never waited for');
});

test('a listener on a port another listener or the admin interface binds: a clear error before anything starts', t => {
	const clash = { ...productpageProxy, listeners: [...productpageProxy.listeners, { ...productpageProxy.listeners[1]!, name: '0.0.0.0_9901', port: 9901 }] };
	const error = t.throws(() => meshListenerPorts(clash));
	t.true(error instanceof MeshboxError && error.code === 'CONFIG_INVALID');
	t.regex(error?.message ?? '', /mesh proxy productpage: listener 0\.0\.0\.0_9901 \(outbound\) would bind port 9901 in its container, which Envoy's admin interface binds already/);
	const twice = { ...reviewsProxy, listeners: [...reviewsProxy.listeners, { ...reviewsProxy.listeners[0]!, name: 'second' }] };
	t.regex(t.throws(() => meshListenerPorts(twice))?.message ?? '', /listener second \(inbound\) would bind port 15006 .* listener virtualInbound binds already/);
});

test('an external host\'s app on this machine\'s loopback with a remote daemon: a clear error, no relay', async t => {
	const proxies = await meshProxies([productpageWithExternal]);
	const mesh = placementFor('m', proxies, new Map([['api.example.com:80', { address: '127.0.0.1', port: 4000 }]]));
	const error = await t.throwsAsync(relayExternals(productpageWithExternal, mesh, false, '172.18.0.1', async () => true));
	t.true(error instanceof MeshboxError && error.code === 'DOCKER_FAILED');
	t.regex(error?.message ?? '', /mesh proxy productpage: the app of api\.example\.com:80 \(outside the mesh\) is on this machine's loopback, which Envoy cannot reach on a remote Docker daemon/);
});
