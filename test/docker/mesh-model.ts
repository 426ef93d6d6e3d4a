/**
 * A tiny hand-built mesh for the docker runtime's mesh tests (./mesh.test.ts): an ingress gateway routing to a
 * `productpage` sidecar, whose outbound reaches `reviews` (a Service backed by the `reviews-v1` sidecar), with
 * the names and ports istiod gives them (the shared mesh design), rendered by src/envoy/proxy.ts with the docker
 * runtime's placement. No ava here: plain data.
 */
import { modelFromSpec } from '../../src/compose/model.ts';
import type { ProxyClusterModel, ProxyListenerModel, ProxyModel, SandboxModel } from '../../src/config/model.ts';
import type { MeshProxyModel } from '../../src/istio/mesh/model.ts';
import type { MeshPlacement } from '../../src/runtime/types.ts';
import type { SocketAddress } from '../../src/envoy/placement.ts';
import { repoRoot } from '../helpers/paths.ts';

/** One HTTP listener of `role` whose every request goes to `cluster`, answering `domains`. */
function listener(name: string, role: ProxyListenerModel['role'], port: number, cluster: string, domains: readonly string[]): ProxyListenerModel {
	return {
		name,
		role,
		port,
		trafficDirection: role === 'outbound' ? 'OUTBOUND' : 'INBOUND',
		listenerFilters: [],
		filterChains: [{
			name: role === 'inbound' ? `0.0.0.0_${port}` : name,
			networkFilters: [],
			http: {
				statPrefix: name,
				routeConfig: { name: `${port}`, virtual_hosts: [{ name: `${domains[0]}:${port}`, domains: [...domains], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] },
				httpFilters: [],
			},
		}],
	};
}

function cluster(name: string, endpoints: ProxyClusterModel['endpoints']): ProxyClusterModel {
	return { name, endpoints, fields: { connect_timeout: '5s' } };
}

const productpageHost = 'productpage.default.svc.cluster.local';
const reviewsHost = 'reviews.default.svc.cluster.local';

function proxyModel(name: string, role: ProxyModel['role'], listeners: ProxyListenerModel[], clusters: ProxyClusterModel[]): ProxyModel {
	const namespace = role === 'router' ? 'istio-system' : 'default';
	return {
		role,
		name,
		namespace,
		node: { id: `${role}~0.0.0.0~${name}.${namespace}~${namespace}.svc.cluster.local`, cluster: `${name}.${namespace}`, metadata: {} },
		listeners,
		clusters,
		secrets: [],
		notes: [],
		summary: [],
	};
}

export const gatewayProxy = proxyModel('istio-ingressgateway', 'router',
	[listener('0.0.0.0_8080', 'gateway', 8080, `outbound|9080||${productpageHost}`, ['*'])],
	[cluster(`outbound|9080||${productpageHost}`, [{ kind: 'proxy', proxy: 'productpage', listener: 'virtualInbound' }])]);

export const productpageProxy = proxyModel('productpage', 'sidecar',
	[
		listener('virtualInbound', 'inbound', 9080, 'inbound|9080||', ['*']),
		listener('0.0.0.0_9080', 'outbound', 9080, `outbound|9080||${reviewsHost}`, [reviewsHost, `${reviewsHost}:9080`, 'reviews', 'reviews:9080', 'reviews.default', 'reviews.default:9080']),
	],
	[
		cluster('inbound|9080||', [{ kind: 'app' }]),
		cluster(`outbound|9080||${reviewsHost}`, [{ kind: 'proxy', proxy: 'reviews-v1', listener: 'virtualInbound' }]),
	]);

/** productpage that also calls a host outside the mesh (a ServiceEntry's `api.example.com:80`) through its outbound for port 80. */
export const productpageWithExternal: ProxyModel = {
	...productpageProxy,
	listeners: [...productpageProxy.listeners, listener('0.0.0.0_80', 'outbound', 80, 'outbound|80||api.example.com', ['api.example.com', 'api.example.com:80'])],
	clusters: [...productpageProxy.clusters, cluster('outbound|80||api.example.com', [{ kind: 'external', host: 'api.example.com', port: 80 }])],
};

export const reviewsProxy = proxyModel('reviews-v1', 'sidecar',
	[listener('virtualInbound', 'inbound', 9080, 'inbound|9080||', ['*'])],
	[cluster('inbound|9080||', [{ kind: 'app' }])]);

/** Each proxy's sandbox: its app answers with the proxy's name, so a response says which app it came from. */
export async function meshProxies(proxies: readonly ProxyModel[], extraPatches: (proxy: ProxyModel) => unknown[] = () => []): Promise<MeshProxyModel[]> {
	return Promise.all(proxies.map(async proxy => {
		const base = await modelFromSpec({ upstream: { body: `app of ${proxy.name}` }, envoy: { patches: extraPatches(proxy) } }, { baseDir: repoRoot });
		const sandbox: SandboxModel = { ...base, node: proxy.node, proxy };
		return {
			name: proxy.name,
			kind: proxy.role === 'router' ? 'gateway' : 'sidecar',
			namespace: proxy.namespace,
			labels: { app: proxy.name },
			serviceAccount: 'default',
			principal: `spiffe://cluster.local/ns/${proxy.namespace}/sa/default`,
			sandbox,
		} satisfies MeshProxyModel;
	}));
}

/**
 * What src/compose/mesh.ts's directory answers for this mesh (a stand-in: that one is exercised end to end by
 * ./mesh-scenario.test.ts): the proxies as started, the Services' names as a cluster's DNS has them, and where
 * the external hosts' apps are (`externals`, by `host:port`).
 */
export function placementFor(id: string, proxies: readonly MeshProxyModel[], externals: ReadonlyMap<string, SocketAddress> = new Map()): MeshPlacement {
	const aliases: Readonly<Record<string, readonly string[]>> = {
		productpage: ['productpage', 'productpage.default', productpageHost],
		'reviews-v1': ['reviews', 'reviews.default', reviewsHost],
	};
	return {
		id,
		endpoint: ref => (ref.kind === 'external' ? externals.get(`${ref.host}:${ref.port}`) : undefined),
		proxy: name => proxies.find(entry => entry.name === name)?.sandbox.proxy,
		aliases: proxy => aliases[proxy] ?? [],
	};
}

/** The mesh's proxies and its placement. */
export async function tinyMesh(id: string, proxies: readonly ProxyModel[], extraPatches?: (proxy: ProxyModel) => unknown[], externals?: ReadonlyMap<string, SocketAddress>): Promise<{ proxies: MeshProxyModel[]; mesh: MeshPlacement }> {
	const built = await meshProxies(proxies, extraPatches);
	const mesh = placementFor(id, built, externals);
	return { proxies: built, mesh };
}
