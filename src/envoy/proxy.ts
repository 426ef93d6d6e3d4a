/**
 * One proxy of a mesh (`SandboxModel.proxy`, src/istio/mesh) → Envoy resources, as istiod serves them: its
 * listeners (a sidecar's `virtualInbound` and `0.0.0.0_<port>` outbound listeners, a gateway's ports), each
 * filter chain an HTTP connection manager with an inline route configuration, its clusters with the endpoints
 * the runtime resolved (`Placement.meshEndpoint`), and the secrets its istio-agent would serve over SDS.
 *
 * Where things bind and where endpoints are depends on the runtime (a local Envoy binds port 0 and learns the
 * others' ports after start; a container uses Istio's fixed ports), so the runtime passes a `Placement`.
 * Field names follow api/envoy/config/listener/v3/listener.proto, api/envoy/config/cluster/v3/cluster.proto and
 * api/envoy/extensions/transport_sockets/tls/v3/secret.proto.
 */
import type { MeshEndpointRef, ProxyClusterModel, ProxyFilterChainModel, ProxyListenerModel, ProxyModel, ProxySecretModel, SidecarFilter } from '../config/model.ts';
import { MeshboxError } from '../errors.ts';
import type { JsonObject } from '../util/json.ts';
import { listenerAddress } from './listeners.ts';
import type { Placement, SandboxResources, SocketAddress } from './placement.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';
import { socketAddress } from './wasm-config.ts';

/**
 * How a chain of `SidecarFilter`s becomes Envoy filters (./bootstrap.ts `sidecarFilters`, passed in so that
 * bootstrap.ts, which dispatches here, and this module do not import each other): with `ecdsConfigs`,
 * filters istiod delivers over ECDS become references and their configs are added there.
 */
export type ChainRenderer = (filters: readonly SidecarFilter[], placement: Placement, network: boolean, ecdsConfigs: JsonObject[] | undefined) => JsonObject[];

/** A proxy's resources; `secrets` are the Secret resources its SDS serves (`SandboxResources.secrets`). */
export type ProxyResources = SandboxResources & { readonly secrets: readonly JsonObject[] };

/**
 * istiod's endpoint metadata for an endpoint with a sidecar (`security.istio.io/tlsMode: istio`): auto mTLS's
 * `transport_socket_matches` pick the mTLS socket by it (pilot/pkg/networking/util/util.go,
 * `EnvoyTransportSocketMetadataKey`).
 */
const istioTlsModeMetadata: JsonObject = { filter_metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } };

export function proxyResources(proxy: ProxyModel, placement: Placement, options: { ecds: boolean }, renderChain: ChainRenderer): ProxyResources {
	const extensionConfigs: JsonObject[] = [];
	const ecdsConfigs = options.ecds ? extensionConfigs : undefined;
	const listeners = proxy.listeners.map(listener => proxyListener(listener, placement, filters => renderChain(filters.list, placement, filters.network, ecdsConfigs)));
	return {
		listeners,
		clusters: proxy.clusters.map(cluster => proxyCluster(cluster, placement)),
		// The same WasmPlugin on several chains (inbound and outbound) is one ECDS resource, as istiod sends it.
		extensionConfigs: uniqueByName(extensionConfigs),
		secrets: proxy.secrets.map(secret => proxySecret(secret)),
	};
}

/** Where a proxy's listener binds when the runtime does not say (`meshbox render`): istiod's port. */
function proxyListenerAddress(listener: ProxyListenerModel, placement: Placement): SocketAddress {
	return placement.proxyListener?.(listener) ?? { address: placement.listener.address, port: listener.port };
}

function proxyListener(listener: ProxyListenerModel, placement: Placement, chain: (filters: { list: readonly SidecarFilter[]; network: boolean }) => JsonObject[]): JsonObject {
	return {
		name: listener.name,
		...listenerAddress(proxyListenerAddress(listener, placement)),
		traffic_direction: listener.trafficDirection,
		...(listener.listenerFilters.length > 0 ? { listener_filters: [...listener.listenerFilters] } : {}),
		filter_chains: listener.filterChains.map(filterChain => proxyFilterChain(filterChain, chain)),
	};
}

function proxyFilterChain(filterChain: ProxyFilterChainModel, chain: (filters: { list: readonly SidecarFilter[]; network: boolean }) => JsonObject[]): JsonObject {
	const { http } = filterChain;
	const hcm: JsonObject = {
		name: 'envoy.filters.network.http_connection_manager',
		typed_config: {
			'@type': typeUrls.hcm,
			stat_prefix: http.statPrefix,
			codec_type: 'AUTO',
			...http.fields,
			route_config: http.routeConfig,
			http_filters: [...chain({ list: http.httpFilters, network: false }), { name: 'envoy.filters.http.router', typed_config: { '@type': typeUrls.router } }],
		},
	};
	return {
		name: filterChain.name,
		...(filterChain.match ? { filter_chain_match: filterChain.match } : {}),
		...(filterChain.transportSocket ? { transport_socket: filterChain.transportSocket } : {}),
		filters: [...chain({ list: filterChain.networkFilters, network: true }), hcm],
	};
}

/**
 * A cluster with the endpoints known so far: an endpoint the mesh does not know yet is left out (the mesh pushes
 * again once every proxy is up). STATIC when every address is an IP, STRICT_DNS otherwise (a container's name).
 */
function proxyCluster(cluster: ProxyClusterModel, placement: Placement): JsonObject {
	const endpoints = cluster.endpoints.flatMap(ref => {
		// The app is the sandbox's upstream (the workload's container, `inbound|<port>||`).
		const address = ref.kind === 'app' ? placement.upstream : placement.meshEndpoint?.(ref);
		return address ? [lbEndpoint(ref, address)] : [];
	});
	const allIps = endpoints.every(endpoint => isIp(endpoint.address));
	return {
		connect_timeout: '10s',
		typed_extension_protocol_options: {
			'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
				'@type': typeUrls.httpProtocolOptions,
				explicit_http_config: cluster.protocol === 'http2' ? { http2_protocol_options: {} } : { http_protocol_options: {} },
			},
		},
		...clusterFields(cluster.fields),
		name: cluster.name,
		// The type is where the runtime put the endpoints (an IP, or a container's name), never the model's.
		type: allIps ? 'STATIC' : 'STRICT_DNS',
		load_assignment: {
			cluster_name: cluster.name,
			endpoints: endpoints.length > 0 ? [{ lb_endpoints: endpoints.map(endpoint => endpoint.json) }] : [],
		},
	};
}

/**
 * The model's cluster fields Envoy can take for the cluster type meshbox gives it. istiod's inbound cluster is
 * ORIGINAL_DST with `lb_policy: CLUSTER_PROVIDED` (pilot/pkg/networking/core/cluster.go: the destination the
 * iptables redirect kept); without iptables the app's address is known, and Envoy refuses CLUSTER_PROVIDED for a
 * STATIC cluster ("cluster provided LB specified but cluster ... did not provide one"): Envoy's default policy then.
 */
function clusterFields(fields: JsonObject): JsonObject {
	const { type: _type, lb_policy: lbPolicy, ...rest } = fields;
	return lbPolicy === undefined || lbPolicy === 'CLUSTER_PROVIDED' ? rest : { ...rest, lb_policy: lbPolicy };
}

function lbEndpoint(ref: MeshEndpointRef, address: SocketAddress): { address: string; json: JsonObject } {
	return {
		address: address.address,
		json: {
			endpoint: { address: socketAddress(address) },
			// Another proxy: an endpoint with a sidecar, for auto mTLS; the app and external hosts have none.
			...(ref.kind === 'proxy' ? { metadata: istioTlsModeMetadata } : {}),
		},
	};
}

function isIp(address: string): boolean {
	return /^[\d.]+$|:/.test(address);
}

/**
 * A Secret as istio-agent's SDS server serves it (security/pkg/nodeagent/sds/sdsservice.go toEnvoySecret): the
 * workload certificate and key as `tls_certificate`, the trust bundle (`ROOTCA`) as `validation_context`, PEM
 * inline (`inline_bytes`: base64 in proto3 JSON). The same rule as the mesh CA's `envoySecret` (h-ca,
 * src/istio/mesh/tls.ts), which src/envoy cannot import (src/istio builds on src/envoy).
 */
export function proxySecret(secret: ProxySecretModel): JsonObject {
	const inline = (pem: string): JsonObject => ({ inline_bytes: Buffer.from(pem, 'utf8').toString('base64') });
	if (secret.certificateChain !== undefined && secret.privateKey !== undefined) {
		return { name: secret.name, tls_certificate: { certificate_chain: inline(secret.certificateChain), private_key: inline(secret.privateKey) } };
	}

	if (secret.trustedCa !== undefined) {
		return { name: secret.name, validation_context: { trusted_ca: inline(secret.trustedCa) } };
	}

	throw new MeshboxError('CONFIG_INVALID', `secret "${secret.name}" has neither a certificate chain with its private key nor a trusted CA`, 'give certificateChain and privateKey, or trustedCa (PEM)');
}

function uniqueByName(configs: readonly JsonObject[]): JsonObject[] {
	const seen = new Set<string>();
	return configs.filter(config => {
		const name = String(config.name);
		if (seen.has(name)) {
			return false;
		}

		seen.add(name);
		return true;
	});
}
