/**
 * Hand-made MeshModels, as src/istio/mesh/resolve.ts will make them (istiod's names, mesh-design.md): an ingress
 * gateway → productpage's sidecar → its app; productpage's outbound for reviews:9080 → reviews' sidecar → its app.
 * Plugins on a proxy are SidecarFilters of its chain, as WasmPlugins become.
 */
import { modelFromSpec } from '../../src/compose/model.ts';
import type { PluginModel, ProxyClusterModel, ProxyListenerModel, ProxyModel, SandboxModel, SidecarFilter } from '../../src/config/model.ts';
import type { MeshModel, MeshProxyModel } from '../../src/istio/mesh/model.ts';
import { fixturePlugin, repoRoot } from '../helpers/paths.ts';

export type MeshPlugins = {
	/** Plugins (by fixture name) on the gateway's chain, on productpage's inbound, on reviews' inbound. */
	readonly gateway?: readonly string[];
	readonly productpage?: readonly string[];
	readonly reviews?: readonly string[];
};

const fqdn = (service: string) => `${service}.default.svc.cluster.local`;

/** A plugin model of a fixture, named `<proxy>.<fixture>` (istiod's ECDS name is `<namespace>.<WasmPlugin name>`). */
async function pluginOf(proxy: string, fixture: string): Promise<PluginModel> {
	const name = `${proxy}.${fixture}`;
	const model = await modelFromSpec({ plugins: [{ name, wasm: fixturePlugin(fixture) }] }, { baseDir: repoRoot });
	return { ...model.plugins[0]!, filterName: name };
}

async function filtersOf(proxy: string, fixtures: readonly string[] = []): Promise<{ plugins: PluginModel[]; filters: SidecarFilter[] }> {
	const plugins = await Promise.all(fixtures.map(async fixture => pluginOf(proxy, fixture)));
	return { plugins, filters: plugins.map(plugin => ({ kind: 'wasm', plugin, comment: `WasmPlugin default/${plugin.name} (test/mesh/mesh-models.ts)` })) };
}

function httpListener(input: { name: string; role: ProxyListenerModel['role']; port: number; statPrefix: string; routeName: string; vhost: string; domains: string[]; cluster: string; filters: SidecarFilter[] }): ProxyListenerModel {
	return {
		name: input.name,
		role: input.role,
		port: input.port,
		trafficDirection: input.role === 'outbound' ? 'OUTBOUND' : 'INBOUND',
		listenerFilters: [],
		filterChains: [{
			name: input.role === 'inbound' ? `0.0.0.0_${input.port}` : input.name,
			networkFilters: [],
			http: {
				statPrefix: input.statPrefix,
				routeConfig: { name: input.routeName, virtual_hosts: [{ name: input.vhost, domains: input.domains, routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: input.cluster } }] }] },
				httpFilters: input.filters,
			},
		}],
	};
}

function cluster(name: string, endpoints: ProxyClusterModel['endpoints'], comment: string): ProxyClusterModel {
	return { name, endpoints, fields: { connect_timeout: '10s' }, comment };
}

function proxyProxyModel(input: { name: string; role: ProxyModel['role']; namespace: string; listeners: ProxyListenerModel[]; clusters: ProxyClusterModel[] }): ProxyModel {
	const node = {
		id: `${input.role}~127.0.0.1~${input.name}-0.${input.namespace}~${input.namespace}.svc.cluster.local`,
		cluster: `${input.name}.${input.namespace}`,
		metadata: { NAME: `${input.name}-0`, NAMESPACE: input.namespace, CLUSTER_ID: 'Kubernetes' },
	};
	return { role: input.role, name: input.name, namespace: input.namespace, node, listeners: input.listeners, clusters: input.clusters, secrets: [], notes: [], summary: [`${input.role} ${input.name}.${input.namespace}`] };
}

function meshProxy(base: SandboxModel, kind: MeshProxyModel['kind'], proxy: ProxyModel, plugins: PluginModel[], body: string): MeshProxyModel {
	const labels: Record<string, string> = kind === 'gateway' ? { istio: 'ingressgateway' } : { app: proxy.name };
	return {
		name: proxy.name,
		kind,
		namespace: proxy.namespace,
		labels,
		serviceAccount: 'default',
		principal: `spiffe://cluster.local/ns/${proxy.namespace}/sa/default`,
		sandbox: { ...base, node: proxy.node, plugins, proxy, upstream: { ...base.upstream, body } },
	};
}

/** The gateway, productpage and reviews, as MeshModel; `options.fresh`-independent (the runtime decides). */
export async function bookinfoMesh(plugins: MeshPlugins = {}): Promise<MeshModel> {
	const base = await modelFromSpec({}, { baseDir: repoRoot });
	const gatewayFilters = await filtersOf('istio-ingressgateway', plugins.gateway);
	const productpageFilters = await filtersOf('productpage', plugins.productpage);
	const reviewsFilters = await filtersOf('reviews', plugins.reviews);
	const inbound = (port: number, filters: SidecarFilter[]) => httpListener({ name: 'virtualInbound', role: 'inbound', port, statPrefix: 'inbound_0.0.0.0_9080', routeName: `inbound|${port}||`, vhost: `inbound|http|${port}`, domains: ['*'], cluster: `inbound|${port}||`, filters });
	const toReviews = cluster(`outbound|9080||${fqdn('reviews')}`, [{ kind: 'proxy', proxy: 'reviews', listener: 'virtualInbound' }], 'Service default/reviews port 9080');
	const toProductpage = cluster(`outbound|9080||${fqdn('productpage')}`, [{ kind: 'proxy', proxy: 'productpage', listener: 'virtualInbound' }], 'Service default/productpage port 9080');

	const gateway = proxyProxyModel({
		name: 'istio-ingressgateway',
		role: 'router',
		namespace: 'istio-system',
		listeners: [httpListener({ name: '0.0.0.0_8080', role: 'gateway', port: 8080, statPrefix: 'outbound_0.0.0.0_8080', routeName: 'http.8080', vhost: 'bookinfo.example.com:80', domains: ['bookinfo.example.com', 'bookinfo.example.com:*'], cluster: toProductpage.name, filters: gatewayFilters.filters })],
		clusters: [toProductpage],
	});
	const productpage = proxyProxyModel({
		name: 'productpage',
		role: 'sidecar',
		namespace: 'default',
		listeners: [
			inbound(9080, productpageFilters.filters),
			httpListener({ name: '0.0.0.0_9080', role: 'outbound', port: 9080, statPrefix: 'outbound_0.0.0.0_9080', routeName: '9080', vhost: `${fqdn('reviews')}:9080`, domains: [fqdn('reviews'), `${fqdn('reviews')}:9080`, 'reviews', 'reviews:9080', 'reviews.default', 'reviews.default:9080'], cluster: toReviews.name, filters: [] }),
		],
		clusters: [cluster('inbound|9080||', [{ kind: 'app' }], 'inbound of productpage'), toReviews],
	});
	const reviews = proxyProxyModel({
		name: 'reviews',
		role: 'sidecar',
		namespace: 'default',
		listeners: [inbound(9080, reviewsFilters.filters)],
		clusters: [cluster('inbound|9080||', [{ kind: 'app' }], 'inbound of reviews')],
	});
	return {
		istioVersion: '1.29.0',
		trustDomain: 'cluster.local',
		proxies: [
			meshProxy(base, 'gateway', gateway, gatewayFilters.plugins, 'gateway app: never reached\n'),
			meshProxy(base, 'sidecar', productpage, productpageFilters.plugins, 'productpage says hi\n'),
			meshProxy(base, 'sidecar', reviews, reviewsFilters.plugins, 'reviews says hi\n'),
		],
		services: [],
		externals: [],
		notes: [],
		sources: [],
	};
}
