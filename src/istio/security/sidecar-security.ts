/**
 * The security filters of a single sidecar (`workload:` + `istio:`): there is no service registry, so the sandbox's
 * `clusters:` stand in for the mesh's services an ext_authz provider or a `jwksUri` names (by host or short name).
 * Networking kinds (Gateway, VirtualService, …) are noted as applying in a mesh (`mesh:`).
 */
import type { ClusterModel, MeshEndpointRef, ProxyClusterModel } from '../../config/model.ts';
import type { IstioConfigResource } from '../config-resources.ts';
import type { ResolvedIstioSpec, ResolvedWorkload } from '../spec.ts';
import type { VersionTraits } from '../version.ts';
import { fetchJwksOverHttp, type JwksFetcher } from './authn.ts';
import type { ServiceLookup } from './authz.ts';
import { securityFilters, type SecurityFilters } from './filters.ts';

const networkingKinds = new Set(['Gateway', 'VirtualService', 'DestinationRule', 'ServiceEntry', 'KubeGateway', 'HTTPRoute']);

/** A sandbox cluster named after the host (`ext-authz.default.svc.cluster.local`) or its first label (`ext-authz`). */
function clusterFor(host: string, clusters: readonly ClusterModel[]): ClusterModel | undefined {
	return clusters.find(cluster => cluster.name === host) ?? clusters.find(cluster => cluster.name === host.split('.')[0]);
}

export async function sidecarSecurity(input: {
	readonly workload: ResolvedWorkload;
	readonly istio: ResolvedIstioSpec;
	readonly traits: VersionTraits;
	readonly config: readonly IstioConfigResource[];
	readonly clusters: readonly ClusterModel[];
}): Promise<SecurityFilters> {
	const { workload, istio, clusters } = input;
	// pilot/pkg/model LookupCluster: `service` is a hostname, or `namespace/hostname`; the cluster is outbound|<port>||<hostname>.
	const lookupService: ServiceLookup = (service, port) => {
		const hostname = service.includes('/') ? service.slice(service.indexOf('/') + 1) : service;
		const found = clusterFor(hostname, clusters);
		if (!found) {
			return undefined;
		}

		const endpoint: MeshEndpointRef = { kind: 'external', host: found.host, port: found.port };
		return { hostname, cluster: `outbound|${port}||${hostname}`, endpoints: [endpoint] };
	};
	// istiod fetches the JWKS itself; a host that names a sandbox cluster is fetched from that cluster's address.
	const fetchJwks: JwksFetcher = async (uri, timeoutMs) => {
		const url = new URL(uri);
		const found = clusterFor(url.hostname, clusters);
		if (found) {
			url.protocol = 'http:';
			url.hostname = found.host;
			url.port = String(found.port);
		}

		return fetchJwksOverHttp(url.toString(), timeoutMs);
	};
	const built = await securityFilters({
		proxy: { namespace: workload.namespace, labels: workload.labels, kind: 'sidecar', name: workload.name },
		port: workload.port,
		resources: input.config,
		meshConfig: istio.meshConfig,
		traits: input.traits,
		rootNamespace: istio.rootNamespace,
		lookupService,
		fetchJwks,
	});
	const networking = input.config.filter(resource => networkingKinds.has(resource.kind));
	const notes = [...built.notes];
	if (networking.length > 0) {
		notes.push(`meshbox: ${networking.map(resource => `${resource.kind === 'KubeGateway' ? 'Gateway (gateway.networking.k8s.io)' : resource.kind} ${resource.namespace}/${resource.name}`).join(', ')} `
			+ 'apply to a mesh of proxies (`mesh:` in meshbox.yaml); a single sidecar applies WasmPlugins, EnvoyFilters, RequestAuthentications and AuthorizationPolicies');
	}

	if (input.config.some(resource => resource.kind === 'PeerAuthentication')) {
		notes.push('meshbox: PeerAuthentication sets the mTLS mode between proxies of a mesh (`mesh:`); a single sidecar serves plaintext');
	}

	return { ...built, notes };
}

/** The sandbox clusters for the filters' clusters (ext_authz providers), under istiod's names. */
export function sidecarClusters(needed: readonly ProxyClusterModel[]): ClusterModel[] {
	return needed.flatMap(cluster => cluster.endpoints.flatMap(endpoint => (endpoint.kind === 'external'
		? [{ name: cluster.name, host: endpoint.host, port: endpoint.port, ...(cluster.protocol ? { protocol: cluster.protocol } : {}) }]
		: [])));
}
