/**
 * A tiny hand-built mesh for the docker runtime's mesh tests (./mesh.test.ts): an ingress gateway routing to a
 * `productpage` sidecar, whose outbound reaches `reviews` (a Service backed by the `reviews-v1` sidecar), with
 * the names and ports istiod gives them (the shared mesh design). No ava here: plain data and one renderer.
 *
 * `asPatches` renders the proxies' listeners and clusters as `envoy.patches` ADDs, through the docker
 * runtime's own placement (src/runtime/docker/mesh.ts): the stand-in for src/envoy/proxy.ts until that renders
 * `model.proxy` (then buildResources renders it and the ADDs are left out, see `needsPatches`).
 */
import { modelFromSpec } from '../../src/compose/model.ts';
import type { PatchModel } from '../../src/config/patches.ts';
import type { ProxyClusterModel, ProxyListenerModel, ProxyModel, SandboxModel } from '../../src/config/model.ts';
import { buildResources } from '../../src/envoy/bootstrap.ts';
import type { MeshProxyModel, MeshService } from '../../src/istio/mesh/model.ts';
import { meshDirectory } from '../../src/runtime/docker/mesh-names.ts';
import { proxyPlacement } from '../../src/runtime/docker/mesh.ts';
import { containerPlacement, upstreamAlias, upstreamAppPort } from '../../src/runtime/docker/layout.ts';
import type { MeshPlacement } from '../../src/runtime/types.ts';
import type { SocketAddress } from '../../src/envoy/placement.ts';
import type { JsonObject } from '../../src/util/json.ts';
import { repoRoot } from '../helpers/paths.ts';

const hcmType = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const routerType = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

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

function service(name: string, proxy: string): MeshService {
	return {
		name,
		namespace: 'default',
		hostname: `${name}.default.svc.cluster.local`,
		ports: [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'HTTP' }],
		endpoints: [{ proxy, labels: { app: name }, namespace: 'default', serviceAccount: 'default', sidecar: true }],
		external: false,
		selector: { app: name },
	};
}

export const services: readonly MeshService[] = [service('productpage', 'productpage'), service('reviews', 'reviews-v1')];

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
 * The mesh placement src/compose/mesh.ts gives every proxy (the docker runtime needs no `endpoint` for proxies;
 * `externals`: where the external hosts' apps are, by `host:port`).
 */
export function placementFor(id: string, proxies: readonly MeshProxyModel[], externals: ReadonlyMap<string, SocketAddress> = new Map()): MeshPlacement {
	return {
		id,
		endpoint: ref => (ref.kind === 'external' ? externals.get(`${ref.host}:${ref.port}`) : undefined),
		...meshDirectory(() => ({ proxies, services })),
	};
}

/** The mesh's proxies and its placement; each proxy's resources as patches while buildResources does not render proxies. */
export async function tinyMesh(id: string, proxies: readonly ProxyModel[], extraPatches?: (proxy: ProxyModel) => unknown[], externals?: ReadonlyMap<string, SocketAddress>): Promise<{ proxies: MeshProxyModel[]; mesh: MeshPlacement }> {
	const built = await meshProxies(proxies, extraPatches);
	const mesh = placementFor(id, built, externals);
	return { proxies: built.map(entry => ({ ...entry, sandbox: withResources(entry.sandbox, mesh) })), mesh };
}

/** The sandbox with its proxy's resources as patches, while buildResources does not render proxies. */
export function withResources(sandbox: SandboxModel, mesh: MeshPlacement): SandboxModel {
	return needsPatches(sandbox) ? { ...sandbox, patches: [...asPatches(sandbox.proxy!, mesh), ...(sandbox.patches ?? [])] } : sandbox;
}

/** Whether buildResources renders `model.proxy` itself (src/envoy/proxy.ts); until then the tests add the resources as patches. */
export function needsPatches(model: SandboxModel): boolean {
	const placement = { ...containerPlacement(model), ...proxyPlacement(undefined, new Map()) };
	return !buildResources(model, placement).listeners.some(entry => entry.name === model.proxy?.listeners[0]?.name);
}

/** The proxy's listeners and clusters as `envoy.patches` ADDs, placed as the docker runtime places them. */
export function asPatches(proxy: ProxyModel, mesh: MeshPlacement): PatchModel[] {
	const placement = proxyPlacement(mesh, new Map());
	const listeners = proxy.listeners.map((entry): JsonObject => {
		const address = placement.proxyListener(entry);
		return {
			name: entry.name,
			address: { socket_address: { address: address.address, port_value: address.port } },
			traffic_direction: entry.trafficDirection,
			filter_chains: entry.filterChains.map(chain => ({
				name: chain.name,
				filters: [{
					name: 'envoy.filters.network.http_connection_manager',
					typed_config: { '@type': hcmType, stat_prefix: chain.http.statPrefix, route_config: chain.http.routeConfig, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': routerType } }] },
				}],
			})),
		};
	});
	const clusters = proxy.clusters.map((entry): JsonObject => {
		const addresses = entry.endpoints.map(ref => (ref.kind === 'app' ? { address: upstreamAlias, port: upstreamAppPort } : placement.meshEndpoint(ref)));
		return {
			name: entry.name,
			type: 'STRICT_DNS',
			...entry.fields,
			load_assignment: {
				cluster_name: entry.name,
				endpoints: [{ lb_endpoints: addresses.flatMap(address => (address ? [{ endpoint: { address: { socket_address: { address: address.address, port_value: address.port } } } }] : [])) }],
			},
		};
	});
	const add = (applyTo: 'LISTENER' | 'CLUSTER', value: JsonObject): PatchModel => ({
		applyTo, operation: 'ADD', match: { context: 'ANY' }, value, origin: 'test/docker/mesh-model.ts', ifUnmatched: 'error',
	});
	return [...listeners.map(value => add('LISTENER', value)), ...clusters.map(value => add('CLUSTER', value))];
}
