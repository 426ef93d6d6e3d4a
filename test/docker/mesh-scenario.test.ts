/**
 * The mesh scenario API (src/scenario/mesh.ts) on the docker runtime, end to end, each proxy its own container
 * on the mesh network: the hand-made bookinfo mesh of test/mesh/mesh-models.ts (gateway → productpage → reviews,
 * a plugin on the gateway and on reviews' inbound), and a mesh from its spec (istiod's routes, auto mTLS over SDS,
 * a WasmPlugin) whose containers answer to their Services' cluster DNS names.
 */
import { startMesh, startMeshFromModel } from '../../src/scenario/mesh.ts';
import { fixturePlugin, repoRoot } from '../helpers/paths.ts';
import { labelKeys } from '../../src/runtime/docker/labels.ts';
import { bookinfoMesh } from '../mesh/mesh-models.ts';
import { dockerTest } from './docker-test.ts';
import { docker, sessionLeftovers } from './docker-helpers.ts';

const test = await dockerTest();

/** This process's mesh networks, and the sessions of the containers on them (each proxy's sandbox). */
async function meshNetworksAndSessions(): Promise<{ networks: string[]; sessions: string[] }> {
	const client = await docker();
	const networks = await client.listNetworks({ filters: { label: [labelKeys.mesh, `${labelKeys.ownerPid}=${process.pid}`] } });
	const containers = await client.listContainers({ all: true, filters: { network: networks.map(network => network.Id) } });
	return { networks: networks.map(network => network.Name), sessions: [...new Set(containers.map(container => container.Labels[labelKeys.session]!))] };
}

test.serial('bookinfo on docker: through the gateway, productpage → reviews:9080 through its sidecar, plugins on each proxy, nothing left', async t => {
	const mesh = await startMeshFromModel(await bookinfoMesh({ gateway: ['rust-headers'], reviews: ['rust-headers'] }), { runtime: 'docker' });
	let running: { networks: string[]; sessions: string[] } = { networks: [], sessions: [] };
	try {
		const page = await mesh.request('/productpage', { host: 'bookinfo.example.com' });
		t.is(page.status, 200, page.body);
		t.is(page.body, 'productpage says hi\n');
		t.is(page.headers['x-chain'], 'istio-ingressgateway.rust-headers', 'the gateway\'s plugin ran in the gateway\'s container');

		const reviews = await mesh.workload('productpage').request('http://reviews:9080/reviews/1');
		t.is(reviews.status, 200, reviews.body);
		t.is(reviews.body, 'reviews says hi\n');
		const [received] = await mesh.workload('reviews').recordings.requests();
		t.is(received?.path, '/reviews/1');
		t.is(received?.headers.host, 'reviews:9080');
		t.true((await mesh.proxy('reviews').logs({ message: 'chain request reviews.rust-headers' })).length > 0);

		// productpage's cluster to reviews names reviews' container on the mesh network, at Istio's inbound port.
		const dump = JSON.stringify(await mesh.proxy('productpage').configDump());
		t.true(dump.includes('"address":"reviews","port_value":15006'), 'productpage reaches reviews:15006');
	} finally {
		running = await meshNetworksAndSessions();
		await mesh.stop();
	}

	// The process's spare (an idle network and upstream for its next docker sandbox) is not the mesh's: by session.
	t.is(running.networks.length, 1, 'one mesh network');
	t.is(running.sessions.length, 3, 'three proxies on it');
	for (const session of running.sessions) {
		const left = await sessionLeftovers(session);
		t.deepEqual([...left.containers.map(info => info.Names.join(',')), ...left.networks.map(info => info.Name)], [], `session ${session}`);
	}

	t.deepEqual((await meshNetworksAndSessions()).networks, [], 'the mesh network is gone');
});

const istio = `
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
---
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: reviews-headers, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  url: file://${fixturePlugin('rust-headers')}
`;

test.serial('a mesh from its spec on docker: the gateway routes by the VirtualService, productpage reaches reviews by name over mTLS, cluster DNS names', async t => {
	const mesh = await startMesh({
		runtime: 'docker',
		mesh: {
			workloads: [
				{ name: 'productpage', port: 9080, service: 'productpage', app: { body: 'productpage\n' } },
				{ name: 'reviews', port: 9080, service: 'reviews', app: { body: 'reviews\n' } },
			],
		},
		istio: { resources: [istio] },
		baseDir: repoRoot,
	});
	let running: { networks: string[]; sessions: string[] } = { networks: [], sessions: [] };
	try {
		const page = await mesh.request('/p', { host: 'bookinfo.example.com' });
		t.is(page.status, 200, page.body);
		t.is(page.body, 'productpage\n');

		const reviews = await mesh.workload('productpage').request('http://reviews:9080/reviews/0');
		t.is(reviews.status, 200, reviews.body);
		t.is(reviews.body, 'reviews\n');
		t.true((await mesh.proxy('reviews').logs({ message: 'chain request' })).length > 0, 'the WasmPlugin ran in reviews\' container');

		// The names src/compose/mesh.ts gives each proxy: what its container answers to on the mesh network.
		const client = await docker();
		const [network] = await client.listNetworks({ filters: { label: [labelKeys.mesh, `${labelKeys.ownerPid}=${process.pid}`] } });
		const info = await client.getNetwork(network!.Id).inspect() as { Name: string; Containers?: Record<string, unknown> };
		const aliases = await Promise.all(Object.keys(info.Containers ?? {}).map(async id => {
			const container = await client.getContainer(id).inspect() as { NetworkSettings: { Networks: Record<string, { Aliases?: string[] | null }> } };
			// Docker adds the container's short id.
			return (container.NetworkSettings.Networks[info.Name]?.Aliases ?? []).filter(alias => !id.startsWith(alias)).join(' ');
		}));
		t.deepEqual(aliases.sort(), [
			'istio-ingressgateway istio-ingressgateway.istio-system istio-ingressgateway.istio-system.svc.cluster.local',
			'productpage productpage.default productpage.default.svc.cluster.local',
			'reviews reviews.default reviews.default.svc.cluster.local',
		]);
	} finally {
		running = await meshNetworksAndSessions();
		await mesh.stop();
	}

	for (const session of running.sessions) {
		const left = await sessionLeftovers(session);
		t.deepEqual([...left.containers.map(info => info.Names.join(',')), ...left.networks.map(info => info.Name)], [], `session ${session}`);
	}

	t.deepEqual((await meshNetworksAndSessions()).networks, [], 'the mesh network is gone');
});
