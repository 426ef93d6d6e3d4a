/**
 * The translations a mesh proxy is assembled from, each owned by its own module (networking, Gateway API,
 * security, TLS): this adapter is the one place ./resolve.ts reaches them through.
 * INTERIM: minimal fallbacks until the owners' modules land (default routes, plaintext, no policies).
 */
import type { ProxyClusterModel } from '../../config/model.ts';
import type { JsonObject } from '../../util/json.ts';
import type { DestinationRuleResource, GatewayResource, HttpRouteResource, KubeGatewayResource, VirtualServiceResource } from '../config-resources.ts';
import type { GatewayServer } from '../networking/types.ts';
import type { VersionTraits } from '../version.ts';
import type { MeshService } from './model.ts';
import { inboundFilterChainMatches, inboundListenerFilters, outboundMtlsTransportSocket, type InboundChainMatch, type PeerAuthenticationMode } from './tls.ts';
import { outboundClusters as networkingClusters } from '../networking/clusters.ts';
import type { ResolvedGatewayDeployment } from './spec.ts';

export { outboundRouteConfig } from '../networking/routes.ts';

/** A gateway port's servers (./networking/gateway-servers.ts). */
export type GatewayPort = {
	/** The container port the listener binds (`0.0.0.0_<port>`). */
	readonly port: number;
	readonly routeConfigName: string;
	readonly servers: readonly GatewayServer[];
	/** `<ns>/<name>` of the Gateways with servers here. */
	readonly gatewayNames: readonly string[];
	readonly tls?: GatewayServer['tls'];
};

export function gatewayServers(input: { readonly proxy: ResolvedGatewayDeployment; readonly gateways: readonly GatewayResource[]; readonly traits: VersionTraits }): { ports: GatewayPort[]; notes: string[] } {
	const byPort = new Map<number, { servers: GatewayServer[]; names: Set<string> }>();
	for (const gateway of input.gateways) {
		const selected = Object.entries(gateway.spec.selector ?? {}).every(([key, value]) => input.proxy.labels[key] === value);
		if (!selected) {
			continue;
		}

		for (const server of gateway.spec.servers ?? []) {
			const target = input.proxy.ports.find(port => port.port === server.port.number)?.targetPort ?? server.port.number;
			const entry = byPort.get(target) ?? { servers: [], names: new Set() };
			entry.servers.push(server);
			entry.names.add(`${gateway.namespace}/${gateway.name}`);
			byPort.set(target, entry);
		}
	}

	return { ports: [...byPort].map(([port, entry]) => ({ port, routeConfigName: `http.${port}`, servers: entry.servers, gatewayNames: [...entry.names] })), notes: [] };
}

export function gatewayRouteConfig(input: { readonly gatewayPort: GatewayPort; readonly virtualServices: readonly VirtualServiceResource[]; readonly services: readonly MeshService[];
	readonly destinationRules: readonly DestinationRuleResource[]; readonly gatewayNamespace: string; readonly traits: VersionTraits }): { routeConfig: JsonObject; notes: string[] } {
	const { gatewayPort } = input;
	const bound = input.virtualServices.filter(vs => (vs.spec.gateways ?? []).some(name => gatewayPort.gatewayNames.includes(name.includes('/') ? name : `${vs.namespace}/${name}`)));
	const virtualHosts = bound.flatMap(vs => vs.spec.hosts.map(host => ({
		name: `${host}:${gatewayPort.servers[0]?.port.number ?? gatewayPort.port}`,
		domains: [host, `${host}:*`],
		routes: (vs.spec.http ?? []).map((route, index) => {
			const destination = route.route?.[0]?.destination;
			const service = destination ? findService(input.services, destination.host, vs.namespace) : undefined;
			const port = destination?.port?.number ?? service?.ports[0]?.port ?? 80;
			return { name: route.name ?? `${vs.namespace}.${vs.name}.${index}`, match: { prefix: '/' }, route: { cluster: `outbound|${port}||${service?.hostname ?? destination?.host ?? 'unknown'}`, timeout: '0s' } };
		}),
	})));
	return { routeConfig: { name: gatewayPort.routeConfigName, virtual_hosts: virtualHosts, validate_clusters: false }, notes: [] };
}

/** istiod's outbound clusters (../networking/clusters.ts), with the mesh's TLS sockets. */
export function outboundClusters(input: { readonly services: readonly MeshService[]; readonly destinationRules: readonly DestinationRuleResource[]; readonly proxyNamespace: string; readonly traits: VersionTraits; readonly trustDomain: string }): { clusters: readonly ProxyClusterModel[]; notes: readonly string[] } {
	return networkingClusters({ ...input, mtls: (_service, port, _subset, tls) => outboundMtlsTransportSocket({ ...tls, http2: port.protocol === 'HTTP2' || port.protocol === 'GRPC' }) });
}

export function convertGatewayApi(input: { readonly kubeGateways: readonly KubeGatewayResource[]; readonly httpRoutes: readonly HttpRouteResource[]; readonly traits: VersionTraits }): {
	gateways: GatewayResource[]; virtualServices: VirtualServiceResource[]; deployments: ResolvedGatewayDeployment[]; notes: string[];
} {
	const notes = input.kubeGateways.length + input.httpRoutes.length > 0 ? ['meshbox: Gateway API resources are not converted yet'] : [];
	return { gateways: [], virtualServices: [], deployments: [], notes };
}

export { peerAuthenticationMode, securityFilters, type SecurityFilters } from '../security/filters.ts';
export type { ServiceLookup } from '../security/filters.ts';

/** An inbound listener's filter chains for a TLS mode (../mesh/tls.ts): each chain's match and transport socket. */
export function inboundChains(mode: PeerAuthenticationMode): { chains: InboundChainMatch[]; listenerFilters: JsonObject[] } {
	const chains = inboundFilterChainMatches(mode);
	return { chains, listenerFilters: inboundListenerFilters(chains) };
}

function findService(services: readonly MeshService[], host: string, namespace: string): MeshService | undefined {
	return services.find(service => service.hostname === host || (service.name === host && service.namespace === namespace) || `${service.name}.${service.namespace}` === host);
}
