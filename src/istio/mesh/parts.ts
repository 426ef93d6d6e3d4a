/**
 * The translations a mesh proxy is assembled from, each owned by its own module (networking, Gateway API,
 * security, TLS): this adapter is the one place ./resolve.ts reaches them through.
 */
import type { ProxyClusterModel } from '../../config/model.ts';
import type { JsonObject } from '../../util/json.ts';
import type { DestinationRuleResource } from '../config-resources.ts';
import type { VersionTraits } from '../version.ts';
import type { MeshService } from './model.ts';
import { inboundFilterChainMatches, inboundListenerFilters, outboundMtlsTransportSocket, type InboundChainMatch, type PeerAuthenticationMode } from './tls.ts';
import { outboundClusters as networkingClusters } from '../networking/clusters.ts';

export { outboundRouteConfig } from '../networking/routes.ts';

export { gatewayServers } from '../networking/gateway-servers.ts';
export { gatewayRouteConfig } from '../networking/routes.ts';
export { convertGatewayApi, gatewayDeploymentService } from '../networking/gateway-api.ts';

/** istiod's outbound clusters (../networking/clusters.ts), with the mesh's TLS sockets. */
export function outboundClusters(input: { readonly services: readonly MeshService[]; readonly destinationRules: readonly DestinationRuleResource[]; readonly proxyNamespace: string; readonly traits: VersionTraits; readonly trustDomain: string }): { clusters: readonly ProxyClusterModel[]; notes: readonly string[] } {
	return networkingClusters({ ...input, mtls: (_service, port, _subset, tls) => outboundMtlsTransportSocket({ ...tls, http2: port.protocol === 'HTTP2' || port.protocol === 'GRPC' }) });
}

export { peerAuthenticationMode, securityFilters, type SecurityFilters } from '../security/filters.ts';
export type { ServiceLookup } from '../security/filters.ts';

/** An inbound listener's filter chains for a TLS mode (../mesh/tls.ts): each chain's match and transport socket. */
export function inboundChains(mode: PeerAuthenticationMode): { chains: InboundChainMatch[]; listenerFilters: JsonObject[] } {
	const chains = inboundFilterChainMatches(mode);
	return { chains, listenerFilters: inboundListenerFilters(chains) };
}
