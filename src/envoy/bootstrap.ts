/**
 * SandboxModel → Envoy v3 bootstrap.
 *
 * One listener → http_connection_manager → one `envoy.filters.http.wasm` per plugin, in the model's order →
 * router → the `upstream` cluster. Admin on its own address. Where things are (addresses, ports, the path
 * under which Envoy sees each wasm file) depends on the runtime, so the runtime passes a `Placement`.
 * Field names follow api/envoy/extensions/wasm/v3/wasm.proto and
 * api/envoy/extensions/filters/http/wasm/v3/wasm.proto.
 */
import type { SandboxModel, SidecarFilter, SidecarModel } from '../config/model.ts';

import type { JsonObject } from '../util/json.ts';
import { listenerAddress, serviceBootstrap, withListeners } from './listeners.ts';
import { applyPatches } from './patches.ts';
import { proxyResources } from './proxy.ts';
import { appClusters, httpFilterChain, statsBootstrap, virtualHosts } from './routing.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';
import { socketAddress, wasmFilter } from './wasm-config.ts';

export type { JsonObject, JsonValue } from '../util/json.ts';
export type { Placement, SandboxResources, SocketAddress } from './placement.ts';
import type { Placement, SandboxResources, SocketAddress } from './placement.ts';

export const listenerName = 'meshbox_listener';
const upstreamClusterName = 'upstream';
export const statPrefix = 'ingress_http';
export function buildResources(model: SandboxModel, placement: Placement, options: { ecds: boolean } = { ecds: false }): SandboxResources {
	// A mesh proxy (src/istio/mesh): istiod's listeners, clusters and secrets (./proxy.ts).
	const resources = model.proxy ? proxyResources(model.proxy, placement, options, sidecarFilters) : model.sidecar ? sidecarResources(model, model.sidecar, placement, options) : plainResources(model, placement, options);
	// The Envoy around the plugins (issue #10): more listeners, then the patches, which see everything.
	return applyPatches(withListeners(resources, model, placement, options), model.patches ?? [], { istiodEcds: istiodEcdsFilters(model), gateway: model.proxy?.role === 'router' });
}

/**
 * The names of an Istio sidecar's filters that istiod delivers over ECDS (WasmPlugins and istio-agent's RBAC
 * filters in their place), whichever way meshbox delivers them: EnvoyFilter MERGE skips them (./patches.ts).
 */
export function istiodEcdsFilters(model: SandboxModel): ReadonlySet<string> {
	const names = new Set<string>();
	const proxyChains = model.proxy?.listeners.flatMap(listener => listener.filterChains) ?? [];
	const proxyFilters = proxyChains.flatMap(chain => [...chain.http.httpFilters, ...chain.networkFilters]);
	for (const filter of [...(model.sidecar?.httpFilters ?? []), ...(model.sidecar?.networkFilters ?? []), ...proxyFilters]) {
		if (filter.kind === 'wasm') {
			names.add(filter.plugin.filterName ?? filter.plugin.name);
		} else if (filter.kind === 'missing-config' || (filter.kind === 'typed' && filter.ecds === true)) {
			names.add(filter.name);
		}
	}

	return names;
}

function plainResources(model: SandboxModel, placement: Placement, options: { ecds: boolean }): SandboxResources {

	const plugins = model.plugins.map(plugin => wasmFilter(plugin, placement.wasmPath(plugin)));
	// RBAC too, as Istio's references do: a warm Envoy replaces a stopped sandbox's plugin configs by an RBAC
	// filter without rules, so that a listener still draining lets go of their VMs (src/runtime/local/warm-isolation.ts).
	const filters: JsonObject[] = options.ecds ? plugins.map(plugin => ecdsReference(String(plugin.name), plainEcdsSource, [typeUrls.httpWasm, typeUrls.httpRbac])) : plugins;
	return {
		listeners: [{
			name: listenerName,
			...listenerAddress(placement.listener),
			// Other HTTP filters around the plugins, routes and apps: ./routing.ts (`httpFilters:`, `routes:`, `apps:`).
			filter_chains: [{ filters: [httpConnectionManager(httpFilterChain(model.routing, filters), model)] }],
		}],
		clusters: [
			httpCluster(upstreamClusterName, placement.upstream),
			...appClusters(model, placement, httpCluster),
			...extraClusters(model, placement),
		],
		extensionConfigs: options.ecds ? plugins : [],
	};
}

/** A plain sandbox's plugins come over the ADS stream; Envoy's default initial fetch timeout (15 s) applies. */
const plainEcdsSource: JsonObject = { ads: {}, resource_api_version: 'V3' };

/** A filter that only names its config: Envoy subscribes to it (ECDS) and runs it once it arrives. */
function ecdsReference(name: string, configSource: JsonObject, typeUrlList: readonly string[]): JsonObject {
	return { name, config_discovery: { config_source: configSource, type_urls: [...typeUrlList] } };
}

function extraClusters(model: SandboxModel, placement: Placement): JsonObject[] {
	return model.clusters.map(cluster => httpCluster(cluster.name, placement.clusterAddress?.(cluster) ?? { address: cluster.host, port: cluster.port }, cluster.protocol));
}

/** A static bootstrap: every resource inline (`meshbox render`, and runtimes that cannot serve xDS). */
export function buildBootstrap(model: SandboxModel, placement: Placement): JsonObject {
	const { listeners, clusters } = buildResources(model, placement);
	return { ...bootstrapShell(model, placement), static_resources: { listeners: [...listeners], clusters: [...clusters] } };
}

/** Where an Envoy driven by xDS finds its control plane: the ADS server of src/xds. */
export const xdsClusterName = 'meshbox_xds';

/**
 * istio/istio pkg/model/authentication.go SDSClusterName: the bootstrap's static cluster to istio-agent's SDS
 * server, which the transport sockets of src/istio/mesh/tls.ts name. Here, where the cluster is written, so that
 * the renderer does not import the Istio emulation (which is above it: test/architecture.test.ts).
 */
export const sdsClusterName = 'sds-grpc';

/**
 * A bootstrap whose listeners, clusters and extension configs all come from the control plane at `ads` over
 * one ADS stream (gRPC, HTTP/2); only the control plane's own cluster is static.
 */
export function buildAdsBootstrap(model: SandboxModel, placement: Placement, ads: SocketAddress): JsonObject {
	const adsSource = { ads: {}, resource_api_version: 'V3' };
	return {
		...bootstrapShell(model, placement),
		dynamic_resources: {
			ads_config: {
				api_type: 'GRPC',
				transport_api_version: 'V3',
				grpc_services: [{ envoy_grpc: { cluster_name: xdsClusterName } }],
				set_node_on_first_message_only: true,
			},
			cds_config: adsSource,
			lds_config: adsSource,
		},
		static_resources: {
			clusters: [...(model.proxy ? [sdsCluster(ads)] : []), {
				name: xdsClusterName,
				type: 'STATIC',
				connect_timeout: '1s',
				load_assignment: { cluster_name: xdsClusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(ads) } }] }] },
				typed_extension_protocol_options: {
					'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
						'@type': typeUrls.httpProtocolOptions,
						explicit_http_config: { http2_protocol_options: {} },
					},
				},
			}],
		},
	};
}

/**
 * A mesh proxy's cluster to its SDS server, as istio-agent's bootstrap writes it (istio/istio
 * tools/packaging/common/envoy_bootstrap.json, `sds-grpc`): static, HTTP/2. There it is istio-agent's Unix socket
 * (./var/run/secrets/workload-spiffe-uds/socket); here the control plane, which serves SDS beside ADS (src/xds).
 */
function sdsCluster(server: SocketAddress): JsonObject {
	return {
		name: sdsClusterName,
		alt_stat_name: `${sdsClusterName};`,
		type: 'STATIC',
		typed_extension_protocol_options: {
			'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
				'@type': typeUrls.httpProtocolOptions,
				explicit_http_config: { http2_protocol_options: {} },
			},
		},
		connect_timeout: '1s',
		lb_policy: 'ROUND_ROBIN',
		load_assignment: { cluster_name: sdsClusterName, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(server) } }] }] },
	};
}

function bootstrapShell(model: SandboxModel, placement: Placement): JsonObject {
	const istioNode = model.proxy?.node ?? model.sidecar?.node;
	if (istioNode) {
		// A sidecar's (or mesh proxy's) identity as istio-agent writes it (pkg/bootstrap/config.go), Envoy's default stats flush.
		const node = istioNode;
		return { node: { id: node.id, cluster: node.cluster, metadata: node.metadata }, admin: { address: socketAddress(placement.admin) }, ...serviceBootstrap(model, placement), ...statsBootstrap(model) };
	}

	return {
		node: { id: model.node.id, cluster: model.node.cluster, ...(Object.keys(model.node.metadata).length > 0 ? { metadata: model.node.metadata } : {}) },
		// Histograms reach admin /stats at each flush: every second rather than Envoy's 5 s.
		stats_flush_interval: '1s',
		admin: { address: socketAddress(placement.admin) },
		...serviceBootstrap(model, placement),
		...statsBootstrap(model),
	};
}

function httpConnectionManager(pluginFilters: readonly JsonObject[], model: SandboxModel): JsonObject {
	return {
		name: 'envoy.filters.network.http_connection_manager',
		typed_config: {
			'@type': typeUrls.hcm,
			stat_prefix: statPrefix,
			codec_type: 'AUTO',
			// HTTP/1.1 trailers (chunked) reach the plugins' on_*_trailers; Envoy drops them by default.
			http_protocol_options: { enable_trailers: true },
			route_config: {
				name: 'meshbox_route',
				virtual_hosts: virtualHosts(model.routing, { match: { prefix: '/' }, route: { cluster: upstreamClusterName } }),
			},
			http_filters: [
				...pluginFilters,
				{ name: 'envoy.filters.http.router', typed_config: { '@type': typeUrls.router } },
			],
		},
	};
}

/**
 * A cluster of one endpoint: the app, or a service plugins call. HTTP/1.1 with trailers enabled, or with
 * `protocol: 'http2'` HTTP/2 without TLS (prior knowledge, as Envoy's gRPC clusters are: `explicit_http_config`
 * of api/envoy/extensions/upstreams/http/v3/http_protocol_options.proto), where trailers are native.
 */
function httpCluster(name: string, endpoint: SocketAddress, protocol?: 'http2'): JsonObject {
	const isIp = /^[\d.]+$|:/.test(endpoint.address);
	return {
		name,
		type: isIp ? 'STATIC' : 'STRICT_DNS',
		connect_timeout: '2s',
		load_assignment: {
			cluster_name: name,
			endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(endpoint) } }] }],
		},
		typed_extension_protocol_options: {
			'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
				'@type': typeUrls.httpProtocolOptions,
				// Close idle upstream connections before the Node upstream does (its keep-alive is longer), so
				// Envoy never reuses a connection the upstream is closing: that race shows up as a random 503 UC.
				common_http_protocol_options: { idle_timeout: '4s' },
				explicit_http_config: protocol === 'http2' ? { http2_protocol_options: {} } : { http_protocol_options: { enable_trailers: true } },
			},
		},
	};
}

/**
 * The listener name a runtime asks admin for (Istio's `virtualInbound` / `0.0.0.0_<port>` for sidecars; a mesh
 * proxy's first listener: a gateway's first port, a sidecar's inbound).
 */
export function listenerNameOf(model: SandboxModel): string {
	return model.proxy?.listeners[0]?.name ?? model.sidecar?.listenerName ?? listenerName;
}

/**
 * A sidecar's resources: Istio's listener/route/cluster names and filter chain, so that plugins reading
 * `xds.node`, `xds.cluster_name`, `xds.route_name` or `xds.listener_direction` see what they would see in a
 * pod. Over xDS (`ecds`) each WasmPlugin is what istiod sends (pilot/pkg/networking/core/extension/wasmplugin.go):
 * a filter that only names its ECDS resource, with `initial_fetch_timeout: 0s` (the listener waits for it) and
 * the Wasm and RBAC type URLs (istio-agent may put an RBAC filter in the module's place), and the resource itself.
 */
function sidecarResources(model: SandboxModel, sidecar: SidecarModel, placement: Placement, options: { ecds: boolean }): SandboxResources {
	const extensionConfigs: JsonObject[] = [];
	const chain = (filters: readonly SidecarFilter[], network: boolean) => sidecarFilters(filters, placement, network, options.ecds ? extensionConfigs : undefined);
	const routerFilter: JsonObject = { name: 'envoy.filters.http.router', typed_config: { '@type': typeUrls.router } };
	const hcm: JsonObject = {
		name: 'envoy.filters.network.http_connection_manager',
		typed_config: {
			'@type': typeUrls.hcm,
			stat_prefix: sidecar.statPrefix,
			codec_type: 'AUTO',
			route_config: {
				name: sidecar.routeConfigName,
				virtual_hosts: [{
					name: sidecar.virtualHostName,
					domains: [...sidecar.virtualHostDomains],
					routes: [{ name: sidecar.routeName, match: { prefix: '/' }, route: { cluster: sidecar.clusterName } }],
				}],
			},
			http_filters: [...chain(sidecar.httpFilters, false), routerFilter],
		},
	};
	return {
		listeners: [{
			name: sidecar.listenerName,
			...listenerAddress(placement.listener),
			traffic_direction: sidecar.trafficDirection,
			filter_chains: [{
				name: sidecar.filterChainName,
				filters: [...chain(sidecar.networkFilters, true), hcm],
			}],
		}],
		clusters: [httpCluster(sidecar.clusterName, placement.upstream), ...extraClusters(model, placement)],
		extensionConfigs,
	};
}

/** istiod's ECDS config source for WasmPlugins (wasmplugin.go): ADS, and the listener waits for the config. */
const istioEcdsSource: JsonObject = { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' };

/**
 * The chain's filters as Envoy takes them. With `ecdsConfigs`, filters istiod delivers over ECDS become
 * references and their configs are added there; without, they are inlined (a static bootstrap, `meshbox render`).
 */
export function sidecarFilters(filters: readonly SidecarFilter[], placement: Placement, network: boolean, ecdsConfigs: JsonObject[] | undefined): JsonObject[] {
	const ecdsTypes = network ? [typeUrls.networkWasm, typeUrls.networkRbac] : [typeUrls.httpWasm, typeUrls.httpRbac];
	const deliver = (config: JsonObject): JsonObject => {
		if (!ecdsConfigs) {
			return config;
		}

		ecdsConfigs.push(config);
		return ecdsReference(String(config.name), istioEcdsSource, ecdsTypes);
	};

	const result: JsonObject[] = [];
	for (const filter of filters) {
		switch (filter.kind) {
			case 'wasm': {
				const entry = wasmFilter(filter.plugin, placement.wasmPath(filter.plugin));
				result.push(deliver({ ...entry, typed_config: { ...(entry.typed_config as JsonObject), '@type': network ? typeUrls.networkWasm : typeUrls.httpWasm } }));
				break;
			}

			case 'typed': {
				const entry = { name: filter.name, typed_config: filter.typedConfig };
				result.push(filter.ecds ? deliver(entry) : entry);
				break;
			}

			case 'missing-config': {
				// An ECDS filter whose only config was rejected: Envoy keeps it without config and answers
				// every request with 500 (the filter's config is missing). /dev/null exists on every runtime and
				// never yields a resource, so Envoy reaches exactly that state.
				result.push({
					name: filter.name,
					config_discovery: {
						config_source: { path_config_source: { path: '/dev/null' }, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
						type_urls: [...filter.typeUrls],
					},
				});
				break;
			}

			case 'placeholder': {
				break;
			}
		}
	}

	return result;
}
