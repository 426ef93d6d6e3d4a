/**
 * A sidecar's identity and names, as istio-agent writes them into Envoy's bootstrap and istiod names its
 * listeners, routes and clusters, so plugins reading `xds.node`, `xds.cluster_name`, `xds.route_name` or
 * `xds.listener_direction` see a pod's values.
 *
 * Sources: pilot/cmd/pilot-agent/app/cmd.go and pkg/model/proxy.go (node id `<type>~<ip>~<pod>.<ns>~<ns>.svc.<domain>`),
 * pkg/bootstrap/config.go (node metadata from ISTIO_META_* and the pod), pkg/model/proxy.go `NodeMetadata` (JSON names),
 * pilot/pkg/networking/core/listener_inbound.go (`virtualInbound`, filter chain `0.0.0.0_<port>`,
 * stat prefix `inbound_0.0.0.0_<port>`), pilot/pkg/networking/core/route/route.go and
 * pilot/pkg/model/service.go BuildInboundSubsetKey / BuildSubsetKey (`inbound|<port>||`, `outbound|<port>||<host>`),
 * pilot/pkg/networking/core/httproute.go (inbound virtual host `inbound|http|<port>`, route `default`).
 */
import type { SidecarModel } from '../config/model.ts';
import type { JsonObject } from '../util/json.ts';
import type { ResolvedIstioSpec, ResolvedWorkload } from './spec.ts';
import { versionTraits } from './version.ts';

/** The names a sidecar's listener, route and cluster have (SidecarModel's), plus the port match.ports is compared with. */
export type SidecarNames = Pick<SidecarModel, 'trafficDirection' | 'listenerName' | 'filterChainName' | 'statPrefix' | 'routeConfigName'
| 'virtualHostName' | 'virtualHostDomains' | 'routeName' | 'clusterName'> & {
	/** The port `match.ports` is compared with (extensions.go matchListener). */
	readonly matchPort: number;
};

export function sidecarNames(workload: ResolvedWorkload, istio: ResolvedIstioSpec): SidecarNames {
	if (istio.direction === 'inbound') {
		const port = workload.port;
		return {
			trafficDirection: 'INBOUND',
			listenerName: 'virtualInbound',
			filterChainName: `0.0.0.0_${port}`,
			statPrefix: `inbound_0.0.0.0_${port}`,
			routeConfigName: `inbound|${port}||`,
			virtualHostName: `inbound|http|${port}`,
			virtualHostDomains: ['*'],
			routeName: 'default',
			clusterName: `inbound|${port}||`,
			matchPort: port,
		};
	}

	const { host, port } = istio.destination;
	const shortName = host.split('.')[0] ?? host;
	return {
		trafficDirection: 'OUTBOUND',
		listenerName: `0.0.0.0_${port}`,
		filterChainName: '',
		statPrefix: `outbound_0.0.0.0_${port}`,
		routeConfigName: String(port),
		virtualHostName: `${host}:${port}`,
		// The sandbox's clients send whatever Host they like; Istio's own domains come first for reference.
		virtualHostDomains: [...new Set([host, `${host}:${port}`, shortName, `${shortName}:${port}`, '*'])],
		routeName: 'default',
		clusterName: `outbound|${port}||${host}`,
		matchPort: port,
	};
}

export type SidecarIdentity = {
	readonly id: string;
	readonly cluster: string;
	readonly metadata: JsonObject;
	/** The istio-proxy container's environment (what `valueFrom: HOST` can copy). */
	readonly containerEnv: Readonly<Record<string, string>>;
};

/** Labels the injector adds to every injected pod (pkg/kube/inject, istio-sidecar-injector template). */
function injectedLabels(workload: ResolvedWorkload): Record<string, string> {
	return {
		'security.istio.io/tlsMode': 'istio',
		'service.istio.io/canonical-name': workload.labels['service.istio.io/canonical-name'] ?? workload.labels.app ?? workload.name,
		'service.istio.io/canonical-revision': workload.labels['service.istio.io/canonical-revision'] ?? workload.labels.version ?? 'latest',
		...workload.labels,
	};
}

export function sidecarIdentity(workload: ResolvedWorkload, istio: ResolvedIstioSpec): SidecarIdentity {
	const domain = `${workload.namespace}.svc.cluster.local`;
	const labels = injectedLabels(workload);
	const istioVersion = versionTraits(istio.version, istio.patch).fullVersion;
	const owner = `kubernetes://apis/apps/v1/namespaces/${workload.namespace}/deployments/${workload.name}`;
	const podPorts = JSON.stringify([{ containerPort: workload.port, protocol: 'TCP' }]);
	const metadata: JsonObject = {
		ANNOTATIONS: {
			'kubectl.kubernetes.io/default-container': workload.name,
			'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}',
		},
		APP_CONTAINERS: workload.name,
		CLUSTER_ID: istio.clusterId,
		ENVOY_PROMETHEUS_PORT: 15090,
		ENVOY_STATUS_PORT: 15021,
		INSTANCE_IPS: workload.ip,
		INTERCEPTION_MODE: 'REDIRECT',
		ISTIO_VERSION: istioVersion,
		LABELS: labels,
		MESH_ID: istio.meshId,
		NAME: workload.podName,
		NAMESPACE: workload.namespace,
		NODE_NAME: 'meshbox-node',
		OWNER: owner,
		PILOT_SAN: [`istiod.${istio.rootNamespace}.svc`],
		POD_PORTS: podPorts,
		SERVICE_ACCOUNT: workload.serviceAccount,
		WORKLOAD_NAME: workload.name,
	};
	const containerEnv: Record<string, string> = {
		POD_NAME: workload.podName,
		POD_NAMESPACE: workload.namespace,
		INSTANCE_IP: workload.ip,
		SERVICE_ACCOUNT: workload.serviceAccount,
		HOST_IP: '127.0.0.1',
		ISTIO_CPU_LIMIT: '0',
		PILOT_CERT_PROVIDER: 'istiod',
		CA_ADDR: `istiod.${istio.rootNamespace}.svc:15012`,
		ISTIO_META_POD_PORTS: podPorts,
		ISTIO_META_APP_CONTAINERS: workload.name,
		ISTIO_META_CLUSTER_ID: istio.clusterId,
		ISTIO_META_NODE_NAME: 'meshbox-node',
		ISTIO_META_INTERCEPTION_MODE: 'REDIRECT',
		ISTIO_META_WORKLOAD_NAME: workload.name,
		ISTIO_META_OWNER: owner,
		ISTIO_META_MESH_ID: istio.meshId,
		TRUST_DOMAIN: istio.meshId,
	};
	return {
		id: `sidecar~${workload.ip}~${workload.podName}.${workload.namespace}~${domain}`,
		// pkg/bootstrap: the app label (else the workload name) dot namespace.
		cluster: `${workload.labels.app ?? workload.name}.${workload.namespace}`,
		metadata,
		containerEnv,
	};
}
