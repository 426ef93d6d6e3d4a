/**
 * Outbound clusters of a proxy, as istiod builds them from the Services, ServiceEntries and DestinationRules:
 * `outbound|<port>||<host>` per Service port and `outbound|<port>|<subset>|<host>` per DestinationRule subset,
 * with their endpoints named (MeshEndpointRef) for the runtime to resolve.
 *
 * Sources (istio/istio): pilot/pkg/networking/core/cluster.go buildOutboundClusters, cluster_builder.go
 * (buildCluster, buildSubsetCluster), cluster_traffic_policy.go (applyTrafficPolicy, applyConnectionPool,
 * getDefaultCircuitBreakerThresholds, applyLoadBalancer: LEAST_REQUEST by default, applyOutlierDetection),
 * cluster_tls.go (buildUpstreamTLSSettings: DestinationRule tls, else auto mTLS as transport_socket_matches on the
 * endpoints' `tlsMode: istio`), pilot/pkg/model/service.go BuildSubsetKey / BuildDNSSrvSubsetKey (names, SNI).
 */
import type { MeshEndpointRef, ProxyClusterModel } from '../../config/model.ts';
import type { JsonObject } from '../../util/json.ts';
import type { DestinationRuleResource } from '../config-resources.ts';
import type { MeshService, MeshServiceEndpoint, MeshServicePort } from '../mesh/model.ts';
import type { VersionTraits } from '../version.ts';
import { destinationRuleFor } from './hosts.ts';
import { protoDuration } from './routes.ts';
import type { ClientTls, Subset, TrafficPolicy } from './types.ts';

/** What the mesh CA engineer's tls.ts builds: the UpstreamTlsContext transport socket for ISTIO_MUTUAL. */
export type MtlsSocket = (service: MeshService, port: MeshServicePort, subset: string, tls: { readonly sni: string; readonly subjectAltNames: readonly string[] }) => JsonObject | undefined;

export type OutboundClusterOptions = {
	readonly services: readonly MeshService[];
	readonly destinationRules: readonly DestinationRuleResource[];
	readonly proxyNamespace: string;
	readonly traits: VersionTraits;
	/** `cluster.local` unless said (SANs are `spiffe://<trust domain>/ns/<ns>/sa/<sa>`). */
	readonly trustDomain?: string;
	/** The ISTIO_MUTUAL transport socket (src/istio/mesh/tls.ts outboundMtlsTransportSocket, wired by the lead). */
	readonly mtls: MtlsSocket;
};

export type OutboundClustersResult = {
	readonly clusters: readonly ProxyClusterModel[];
	/** `istiod: …` / `meshbox: …` lines for ProxyModel.notes. */
	readonly notes: readonly string[];
};

/** meshConfig.connectTimeout's default (pkg/config/mesh/mesh.go DefaultMeshConfig). */
const defaultConnectTimeout = '10s';
const maxUint32 = 4_294_967_295;
const rawBuffer: JsonObject = { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } };

/** cluster.go buildOutboundClusters: every Service port, then each subset of its DestinationRule. */
export function outboundClusters(options: OutboundClusterOptions): OutboundClustersResult {
	const notes: string[] = [];
	const clusters: ProxyClusterModel[] = [];
	for (const service of options.services) {
		const rule = destinationRuleFor(service, options.destinationRules, options.proxyNamespace);
		for (const port of service.ports) {
			clusters.push(buildCluster(service, port, undefined, rule, options, notes));
			for (const subset of rule?.spec.subsets ?? []) {
				clusters.push(buildCluster(service, port, subset, rule, options, notes));
			}
		}
	}

	return { clusters, notes };
}

/** `outbound|9080|v1|reviews.default.svc.cluster.local` (model.BuildSubsetKey). */
export function clusterName(port: number, subset: string, host: string): string {
	return `outbound|${port}|${subset}|${host}`;
}

/** `outbound_.9080_.v1_.reviews.default.svc.cluster.local` (model.BuildDNSSrvSubsetKey): the SNI of in-mesh mTLS. */
export function outboundSni(port: number, subset: string, host: string): string {
	return `outbound_.${port}_.${subset}_.${host}`;
}

function buildCluster(service: MeshService, port: MeshServicePort, subset: Subset | undefined, rule: DestinationRuleResource | undefined, options: OutboundClusterOptions, notes: string[]): ProxyClusterModel {
	const subsetName = subset?.name ?? '';
	const name = clusterName(port.port, subsetName, service.hostname);
	const endpoints = service.endpoints.filter(endpoint => Object.entries(subset?.labels ?? {}).every(([key, value]) => endpoint.labels[key] === value));
	if (subset && endpoints.length === 0 && !service.external) {
		notes.push(`istiod: subset ${subsetName} of ${service.hostname} (DestinationRule ${rule?.namespace}/${rule?.name}) selects no endpoint (labels ${JSON.stringify(subset.labels ?? {})}): requests routed to ${name} get 503 (no healthy upstream)`);
	}

	// cluster_builder.go buildSubsetCluster: the subset's policy merged over the rule's, then the port's level.
	const policy = portPolicy(mergePolicies(rule?.spec.trafficPolicy, subset?.trafficPolicy), port.port);
	const fields: JsonObject = {
		connect_timeout: defaultConnectTimeout,
		lb_policy: 'LEAST_REQUEST',
		common_lb_config: {},
		circuit_breakers: { thresholds: [circuitBreakers(policy)] },
		metadata: { filter_metadata: { istio: clusterMetadata(service, port, rule, subsetName) } },
	};
	const tcp = (policy?.connectionPool as { readonly tcp?: { readonly connectTimeout?: string } } | undefined)?.tcp;
	if (tcp?.connectTimeout) {
		fields.connect_timeout = protoDuration(tcp.connectTimeout);
	}

	applyLoadBalancer(fields, policy?.loadBalancer, notes, name);
	applyOutlierDetection(fields, policy?.outlierDetection);
	const sni = outboundSni(port.port, subsetName, service.hostname);
	const subjectAltNames = [...new Set(endpoints.map(endpoint => spiffeId(endpoint, options.trustDomain ?? 'cluster.local')))].sort();
	applyTls(fields, { service, port, subsetName, sni, subjectAltNames, endpoints, tls: policy?.tls, options, notes, name });
	const h2 = port.protocol === 'HTTP2' || port.protocol === 'GRPC'
		|| (policy?.connectionPool as { readonly http?: { readonly h2UpgradePolicy?: string } } | undefined)?.http?.h2UpgradePolicy === 'UPGRADE';
	return {
		name,
		endpoints: endpointRefs(service, port, endpoints),
		fields,
		...(h2 ? { protocol: 'http2' as const } : {}),
		comment: `${service.external ? 'ServiceEntry host' : 'Service'} ${service.hostname} port ${port.port}${subset ? `, subset ${subsetName} of DestinationRule ${rule?.namespace}/${rule?.name} at ${rule?.origin.file}:${rule?.origin.line}` : (rule ? `, DestinationRule ${rule.namespace}/${rule.name} at ${rule.origin.file}:${rule.origin.line}` : '')}`,
	};
}

function endpointRefs(service: MeshService, port: MeshServicePort, endpoints: readonly MeshServiceEndpoint[]): MeshEndpointRef[] {
	if (service.external) {
		return [{ kind: 'external', host: service.hostname, port: port.port }];
	}

	// A workload is reached through its sidecar's inbound listener (istiod's EDS sends the pod IP and targetPort,
	// which iptables redirects to 15006 = virtualInbound); a gateway (no sidecar) listens on the targetPort itself.
	return endpoints.map(endpoint => ({ kind: 'proxy', proxy: endpoint.proxy, listener: endpoint.sidecar ? 'virtualInbound' : `0.0.0.0_${port.targetPort}` }));
}

function spiffeId(endpoint: MeshServiceEndpoint, trustDomain: string): string {
	return `spiffe://${trustDomain}/ns/${endpoint.namespace}/sa/${endpoint.serviceAccount}`;
}

/** cluster_builder.go: metadata.filter_metadata.istio (services, config, subset), what `istioctl pc cluster -o json` shows. */
function clusterMetadata(service: MeshService, port: MeshServicePort, rule: DestinationRuleResource | undefined, subset: string): JsonObject {
	return {
		services: [{ host: service.hostname, name: service.name, namespace: service.namespace }],
		default_original_port: port.port,
		...(rule ? { config: `/apis/networking.istio.io/v1/namespaces/${rule.namespace}/destination-rule/${rule.name}` } : {}),
		...(subset ? { subset } : {}),
	};
}

/** cluster_traffic_policy.go MergeTrafficPolicy: a subset's policy replaces the rule's field by field. */
function mergePolicies(base: TrafficPolicy | undefined, subset: TrafficPolicy | undefined): TrafficPolicy | undefined {
	if (!subset) {
		return base;
	}

	if (!base) {
		return subset;
	}

	const merged: Record<string, unknown> = { ...base };
	for (const [key, value] of Object.entries(subset)) {
		if (value !== undefined) {
			merged[key] = value;
		}
	}

	return merged as TrafficPolicy;
}

/** selectTrafficPolicyComponents: a portLevelSettings entry for this port overrides its parts. */
function portPolicy(policy: TrafficPolicy | undefined, port: number): TrafficPolicy | undefined {
	const level = policy?.portLevelSettings?.find(setting => setting.port?.number === port);
	if (!level || !policy) {
		return policy;
	}

	const { port: _port, ...parts } = level;
	return { ...policy, ...parts } as TrafficPolicy;
}

/** cluster_traffic_policy.go applyConnectionPool over getDefaultCircuitBreakerThresholds. */
function circuitBreakers(policy: TrafficPolicy | undefined): JsonObject {
	const pool = (policy?.connectionPool ?? {}) as {
		readonly http?: { readonly http2MaxRequests?: number; readonly http1MaxPendingRequests?: number; readonly maxRetries?: number };
		readonly tcp?: { readonly maxConnections?: number };
	};
	const positive = (value: number | undefined): number => value !== undefined && value > 0 ? value : maxUint32;
	return {
		max_connections: positive(pool.tcp?.maxConnections),
		max_pending_requests: positive(pool.http?.http1MaxPendingRequests),
		max_requests: positive(pool.http?.http2MaxRequests),
		max_retries: positive(pool.http?.maxRetries),
		track_remaining: true,
	};
}

/** cluster_traffic_policy.go applyLoadBalancer (simple policies and consistent hashing). */
function applyLoadBalancer(fields: JsonObject, loadBalancer: Readonly<Record<string, unknown>> | undefined, notes: string[], name: string): void {
	switch (loadBalancer?.simple) {
		case 'RANDOM':
			fields.lb_policy = 'RANDOM';
			return;
		case 'ROUND_ROBIN':
			fields.lb_policy = 'ROUND_ROBIN';
			return;
		case 'PASSTHROUGH':
			notes.push(`meshbox: ${name}: loadBalancer PASSTHROUGH (ORIGINAL_DST) needs iptables; meshbox keeps the Service's endpoints`);
			return;
		default:
			break;
	}

	const hash = loadBalancer?.consistentHash as { readonly maglev?: { readonly tableSize?: number }; readonly ringHash?: { readonly minimumRingSize?: number }; readonly minimumRingSize?: number } | undefined;
	if (!hash) {
		return;
	}

	// ApplyRingHashLoadBalancer
	if (hash.maglev) {
		fields.lb_policy = 'MAGLEV';
		if (hash.maglev.tableSize) {
			fields.maglev_lb_config = { table_size: hash.maglev.tableSize };
		}

		return;
	}

	fields.lb_policy = 'RING_HASH';
	fields.ring_hash_lb_config = { minimum_ring_size: hash.ringHash?.minimumRingSize ?? hash.minimumRingSize ?? 1024 };
}

/** cluster_traffic_policy.go applyOutlierDetection. */
function applyOutlierDetection(fields: JsonObject, outlier: Readonly<Record<string, unknown>> | undefined): void {
	if (!outlier) {
		return;
	}

	const out: JsonObject = { enforcing_success_rate: 0 };
	const number = (key: string): number | undefined => typeof outlier[key] === 'number' ? outlier[key] : undefined;
	const consecutive5xx = number('consecutive5xxErrors');
	if (consecutive5xx !== undefined) {
		out.consecutive_5xx = consecutive5xx;
		out.enforcing_consecutive_5xx = consecutive5xx > 0 ? 100 : 0;
	}

	const gateway = number('consecutiveGatewayErrors');
	if (gateway !== undefined) {
		out.consecutive_gateway_failure = gateway;
		out.enforcing_consecutive_gateway_failure = gateway > 0 ? 100 : 0;
	}

	if (typeof outlier.interval === 'string') {
		out.interval = protoDuration(outlier.interval);
	}

	if (typeof outlier.baseEjectionTime === 'string') {
		out.base_ejection_time = protoDuration(outlier.baseEjectionTime);
	}

	const maxEjection = number('maxEjectionPercent');
	if (maxEjection !== undefined && maxEjection > 0) {
		out.max_ejection_percent = maxEjection;
	}

	if (outlier.splitExternalLocalOriginErrors === true) {
		out.split_external_local_origin_errors = true;
		const local = number('consecutiveLocalOriginFailures');
		if (local !== undefined && local > 0) {
			out.consecutive_local_origin_failure = local;
			out.enforcing_consecutive_local_origin_failure = 100;
		}

		out.enforcing_local_origin_success_rate = 0;
	}

	fields.outlier_detection = out;
	// "Disable panic threshold by default as its not typically applicable in k8s environments with few pods per service."
	fields.common_lb_config = { healthy_panic_threshold: { value: number('minHealthPercent') ?? 0 } };
}

type TlsInput = {
	readonly service: MeshService;
	readonly port: MeshServicePort;
	readonly subsetName: string;
	readonly sni: string;
	readonly subjectAltNames: readonly string[];
	readonly endpoints: readonly MeshServiceEndpoint[];
	readonly tls: ClientTls | undefined;
	readonly options: OutboundClusterOptions;
	readonly notes: string[];
	readonly name: string;
};

/** cluster_tls.go buildUpstreamTLSSettings + applyUpstreamTLSSettings. */
function applyTls(fields: JsonObject, input: TlsInput): void {
	const { tls, service, port, subsetName, options, notes, name } = input;
	if (tls) {
		switch (tls.mode) {
			case 'DISABLE':
				return;
			case 'ISTIO_MUTUAL': {
				// A user SNI / SANs win over the computed ones.
				const socket = options.mtls(service, port, subsetName, { sni: tls.sni ?? input.sni, subjectAltNames: tls.subjectAltNames ?? input.subjectAltNames });
				if (socket) {
					fields.transport_socket = socket;
				}

				return;
			}

			case 'SIMPLE':
				fields.transport_socket = {
					name: 'envoy.transport_sockets.tls',
					typed_config: {
						'@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
						...(tls.sni ? { sni: tls.sni } : {}),
						common_tls_context: {},
					},
				};
				notes.push(`meshbox: ${name}: tls SIMPLE originates TLS without verifying the server (istiod would verify against the system roots or caCertificates / credentialName, not modelled)`);
				return;
			case 'MUTUAL':
				notes.push(`meshbox: ${name}: tls MUTUAL with client certificates is not modelled; the cluster sends plaintext`);
				return;
		}
	}

	// Auto mTLS: only to endpoints whose pod has a sidecar (label security.istio.io/tlsMode=istio), never to MESH_EXTERNAL.
	if (service.external || !input.endpoints.some(endpoint => endpoint.sidecar)) {
		return;
	}

	const socket = options.mtls(service, port, subsetName, { sni: input.sni, subjectAltNames: input.subjectAltNames });
	if (socket) {
		fields.transport_socket_matches = [
			{ name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transport_socket: socket },
			{ name: 'tlsMode-disabled', match: {}, transport_socket: rawBuffer },
		];
	}
}
