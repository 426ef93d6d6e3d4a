/**
 * A mesh on the docker runtime (issue #21): each proxy its own Envoy container on one network per mesh, under
 * the names a cluster's DNS answers for it, with its listeners at Istio's ports. A gateway and two sidecars:
 * a request through the gateway reaches the app behind the first sidecar, that sidecar's outbound reaches the
 * other by `reviews:9080`, the Services' names resolve to the proxy behind them, and nothing is left after stop
 * (also when one proxy fails to start).
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { labelKeys } from '../../src/runtime/docker/labels.ts';
import { startRuntime } from '../../src/runtime/start.ts';
import type { MeshPlacement, RunningSandbox } from '../../src/runtime/types.ts';
import type { MeshProxyModel } from '../../src/istio/mesh/model.ts';
import { RecordingUpstream, recordingsOf } from '../../src/upstream/recording-server.ts';
import { freePort } from '../helpers/ports.ts';
import { dockerTest } from './docker-test.ts';
import { docker, leftovers, ownerLeftovers } from './docker-helpers.ts';
import { gatewayProxy, meshProxies, productpageProxy, productpageWithExternal, reviewsProxy, tinyMesh } from './mesh-model.ts';

const test = await dockerTest();

/** Starts every proxy at once, as src/compose/mesh.ts does; the settled outcomes, by proxy name. */
async function startProxies(proxies: readonly MeshProxyModel[], mesh: MeshPlacement): Promise<Map<string, PromiseSettledResult<RunningSandbox>>> {
	const outcomes = await Promise.allSettled(proxies.map(async proxy => startRuntime('docker', { model: proxy.sandbox, mesh })));
	return new Map(outcomes.map((outcome, index) => [proxies[index]!.name, outcome]));
}

function running(outcomes: Map<string, PromiseSettledResult<RunningSandbox>>, name: string): RunningSandbox {
	const outcome = outcomes.get(name);
	if (outcome?.status !== 'fulfilled') {
		throw new Error(`proxy ${name} did not start: ${outcome?.status === 'rejected' ? String(outcome.reason) : 'not in the mesh'}`);
	}

	return outcome.value;
}

async function stopAll(outcomes: Map<string, PromiseSettledResult<RunningSandbox>>): Promise<void> {
	await Promise.all([...outcomes.values()].map(async outcome => (outcome.status === 'fulfilled' ? outcome.value.stop() : undefined)));
}

/** GET with a Host header of our choosing (fetch does not let a caller set it). */
async function get(url: string, host: string): Promise<{ status: number; body: string }> {
	return new Promise((resolve, reject) => {
		const request = http.get(url, { headers: { host }, timeout: 10_000 }, response => {
			let body = '';
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => {
				body += chunk;
			});
			response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
		});
		request.on('timeout', () => request.destroy(new Error(`no answer from ${url} in 10 s`)));
		request.on('error', reject);
	});
}

type ClustersJson = { cluster_statuses?: Array<{ name: string; host_statuses?: Array<{ address?: { socket_address?: { address?: string } } }> }> };

/** Each named cluster's host addresses as Envoy resolved them, once every one has a host (STRICT_DNS resolves in the background). */
async function resolvedHosts(box: RunningSandbox, names: readonly string[]): Promise<Record<string, string[]>> {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const status = JSON.parse(await box.admin.get('clusters?format=json')) as ClustersJson;
		const hosts = Object.fromEntries(names.map(name => [name, (status.cluster_statuses?.find(cluster => cluster.name === name)?.host_statuses ?? [])
			.map(host => host.address?.socket_address?.address ?? '')]));
		if (Object.values(hosts).every(list => list.length > 0) || Date.now() > deadline) {
			return hosts;
		}

		await new Promise(resolve => setTimeout(resolve, 200));
	}
}

/** The mesh network (by its mesh label) and each container's address and aliases on it. */
async function meshNetworkMembers(meshId: string): Promise<Array<{ name: string; address: string; aliases: string[] }>> {
	const { networks } = await leftovers(labelKeys.mesh, meshId);
	const client = await docker();
	const info = await client.getNetwork(networks[0]!.Id).inspect() as { Name: string; Containers?: Record<string, { Name: string; IPv4Address: string }> };
	return Promise.all(Object.entries(info.Containers ?? {}).map(async ([id, member]) => {
		const container = await client.getContainer(id).inspect() as { NetworkSettings: { Networks: Record<string, { Aliases?: string[] | null }> } };
		return { name: member.Name, address: member.IPv4Address.split('/')[0]!, aliases: container.NetworkSettings.Networks[info.Name]?.Aliases ?? [] };
	}));
}

/** After every proxy stopped: no container or network of this process, and no mesh network. */
async function assertNothingLeft(t: ExecutionContext, meshId: string): Promise<void> {
	const mine = await ownerLeftovers(process.pid);
	t.deepEqual(mine.containers.map(container => container.Names.join(',')), [], 'no container left');
	t.deepEqual(mine.networks.map(network => network.Name), [], 'no network left');
	t.deepEqual((await leftovers(labelKeys.mesh, meshId)).networks.map(network => network.Name), [], 'no mesh network left');
}

const dnsNames = ['reviews', 'reviews.default', 'reviews.default.svc.cluster.local', 'reviews-v1'];

/** The gateway gets one cluster per name a cluster's DNS would answer for reviews: where Envoy resolves each. */
function dnsProbeClusters(proxy: { name: string }): unknown[] {
	if (proxy.name !== gatewayProxy.name) {
		return [];
	}

	return dnsNames.map(name => ({
		applyTo: 'CLUSTER',
		patch: {
			operation: 'ADD',
			value: {
				name: `dns|${name}`, type: 'STRICT_DNS', connect_timeout: '1s',
				load_assignment: { cluster_name: `dns|${name}`, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: name, port_value: 15_006 } } } }] }] },
			},
		},
	}));
}

test.serial('a gateway and two sidecars on docker: gateway → app, sidecar → sidecar by reviews:9080, cluster DNS names, nothing left', async t => {
	const meshId = `mesh-test-${randomBytes(4).toString('hex')}`;
	const { proxies, mesh } = await tinyMesh(meshId, [gatewayProxy, productpageProxy, reviewsProxy], dnsProbeClusters);
	const outcomes = await startProxies(proxies, mesh);
	try {
		const gateway = running(outcomes, gatewayProxy.name);
		const productpage = running(outcomes, productpageProxy.name);
		const reviews = running(outcomes, reviewsProxy.name);

		// From outside: the gateway's published port → productpage's inbound (productpage:15006) → its app.
		const viaGateway = await get(`${gateway.url}/productpage`, 'bookinfo.example.com');
		t.is(viaGateway.status, 200, viaGateway.body);
		t.is(viaGateway.body, 'app of productpage');
		t.deepEqual((await productpage.upstream.requests()).map(request => request.path), ['/productpage']);

		// productpage's app calls reviews:9080: its outbound listener for port 9080 → reviews-v1:15006 → that app.
		const listeners = await productpage.proxyListeners!();
		const outbound = listeners.fromHost.find(entry => entry.listener.name === '0.0.0.0_9080');
		t.truthy(outbound, 'the outbound listener is published');
		const viaOutbound = await get(`${outbound!.url}/reviews/1`, 'reviews:9080');
		t.is(viaOutbound.status, 200, viaOutbound.body);
		t.is(viaOutbound.body, 'app of reviews-v1');
		t.deepEqual((await reviews.upstream.requests()).map(request => request.path), ['/reviews/1']);

		// Where other proxies reach each listener: the proxy's name on the mesh network, Istio's port.
		t.deepEqual(listeners.fromMesh, { virtualInbound: { address: 'productpage', port: 15_006 }, '0.0.0.0_9080': { address: 'productpage', port: 9080 } });
		t.deepEqual((await reviews.proxyListeners!()).fromMesh, { virtualInbound: { address: 'reviews-v1', port: 15_006 } });

		// The names a cluster's DNS answers for reviews resolve (in the gateway's container) to reviews-v1's container, and only to it.
		const members = await meshNetworkMembers(meshId);
		t.is(members.length, 3, 'each proxy\'s Envoy, and nothing else, is on the mesh network');
		const reviewsMember = members.find(member => member.aliases.includes('reviews-v1'));
		t.truthy(reviewsMember);
		t.true(['reviews', 'reviews.default', 'reviews.default.svc.cluster.local'].every(alias => reviewsMember!.aliases.includes(alias)), reviewsMember!.aliases.join(', '));
		const resolved = await resolvedHosts(gateway, dnsNames.map(name => `dns|${name}`));
		t.deepEqual(resolved, Object.fromEntries(dnsNames.map(name => [`dns|${name}`, [reviewsMember!.address]])));
	} finally {
		await stopAll(outcomes);
	}

	await assertNothingLeft(t, meshId);
});

test.serial('a proxy that fails to start leaves nothing; the mesh network stays until the last proxy stops', async t => {
	const meshId = `mesh-test-${randomBytes(4).toString('hex')}`;
	// reviews-v1 gets a second listener on its inbound's port: Envoy refuses it, so that start fails after its
	// container joined the mesh network.
	const clash = (proxy: { name: string }) => (proxy.name === reviewsProxy.name ? [{
		applyTo: 'LISTENER',
		patch: {
			operation: 'ADD',
			value: {
				name: 'clash', address: { socket_address: { address: '0.0.0.0', port_value: 15_006 } },
				filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'clash', cluster: 'inbound|9080||' } }] }],
			},
		},
	}] : []);
	const { proxies, mesh } = await tinyMesh(meshId, [gatewayProxy, reviewsProxy], clash);
	const outcomes = await startProxies(proxies, mesh);
	try {
		const failed = outcomes.get(reviewsProxy.name);
		t.is(failed?.status, 'rejected', 'reviews-v1 did not start');
		const gateway = running(outcomes, gatewayProxy.name);

		// Only the gateway's containers are left, and the mesh network it is on.
		const gatewayPort = Number(new URL(gateway.url).port);
		const { containers } = await ownerLeftovers(process.pid);
		const gatewaySession = containers.find(container => container.Ports.some(port => port.PublicPort === gatewayPort))?.Labels[labelKeys.session];
		t.truthy(gatewaySession);
		t.deepEqual(containers.filter(container => container.Labels[labelKeys.session] !== gatewaySession).map(container => container.Names.join(',')), [], 'the failed proxy\'s containers are gone');
		t.is((await leftovers(labelKeys.mesh, meshId)).networks.length, 1, 'the mesh network stays while the gateway runs');
		t.deepEqual((await meshNetworkMembers(meshId)).map(member => member.aliases[0]), [gatewayProxy.name]);
	} finally {
		await stopAll(outcomes);
	}

	await assertNothingLeft(t, meshId);
});

test.serial('a host outside the mesh, served by an app on this machine\'s loopback, is reached from a proxy\'s container through a relay', async t => {
	const meshId = `mesh-test-${randomBytes(4).toString('hex')}`;
	// As src/compose/mesh.ts serves a ServiceEntry's host: a recording app on 127.0.0.1.
	const app = await RecordingUpstream.start({ host: '127.0.0.1', respond: () => ({ status: 200, headers: {}, body: 'api says hi' }) });
	const { proxies, mesh } = await tinyMesh(meshId, [productpageWithExternal, reviewsProxy], undefined, new Map([['api.example.com:80', { address: app.address.host, port: app.address.port }]]));
	const outcomes = await startProxies(proxies, mesh);
	try {
		const productpage = running(outcomes, productpageWithExternal.name);
		const outbound = (await productpage.proxyListeners!()).fromHost.find(entry => entry.listener.name === '0.0.0.0_80');
		const response = await get(`${outbound!.url}/v1/things`, 'api.example.com');
		t.is(response.status, 200, response.body);
		t.is(response.body, 'api says hi');
		t.deepEqual((await recordingsOf(app).requests()).map(request => `${request.headers.host} ${request.path}`), ['api.example.com /v1/things']);
	} finally {
		await stopAll(outcomes);
		await app.stop();
	}

	await assertNothingLeft(t, meshId);
});

test.serial('a live update that adds a listener: the mesh reaches it by name; this machine cannot (ports are published at start)', async t => {
	const meshId = `mesh-test-${randomBytes(4).toString('hex')}`;
	const { proxies, mesh } = await tinyMesh(meshId, [productpageProxy, reviewsProxy]);
	const outcomes = await startProxies(proxies, mesh);
	try {
		const productpage = running(outcomes, productpageProxy.name);
		const [next] = await meshProxies([productpageWithExternal]);
		const result = await productpage.reconfigure!(next!.sandbox);
		t.deepEqual(result.rejections, []);
		const listeners = await productpage.proxyListeners!();
		t.deepEqual(listeners.fromMesh['0.0.0.0_80'], { address: 'productpage', port: 80 });
		t.deepEqual(listeners.fromHost.map(entry => entry.listener.name), ['virtualInbound', '0.0.0.0_9080'], 'the new listener is not published');
		t.true((await productpage.admin.get('listeners')).includes('0.0.0.0_80::0.0.0.0:80'), 'Envoy binds it in the container');
	} finally {
		await stopAll(outcomes);
	}

	await assertNothingLeft(t, meshId);
});

test.serial('the spec\'s port (every proxy has it in its model) is the gateway\'s: the sidecars start on free ports beside it', async t => {
	const meshId = `mesh-test-${randomBytes(4).toString('hex')}`;
	const port = await freePort();
	const { proxies, mesh } = await tinyMesh(meshId, [gatewayProxy, productpageProxy, reviewsProxy]);
	const outcomes = await startProxies(proxies.map(proxy => ({ ...proxy, sandbox: { ...proxy.sandbox, port } })), mesh);
	try {
		const gateway = running(outcomes, gatewayProxy.name);
		t.is(gateway.url, `http://127.0.0.1:${port}`);
		t.is((await get(`${gateway.url}/`, 'bookinfo.example.com')).body, 'app of productpage');
		t.not(new URL(running(outcomes, productpageProxy.name).url).port, String(port));
	} finally {
		await stopAll(outcomes);
	}

	await assertNothingLeft(t, meshId);
});
