/**
 * `mesh:` + `istio:` → the mesh model: the Istio resources read and validated as for a sidecar, the Gateway API
 * converted as istiod converts it, the service registry, then every proxy (gateways first, then the workloads'
 * sidecars) built as istiod builds its config, with the WasmPlugins that select it fetched as its istio-agent
 * fetches them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { noLocation, type Locator } from '../../config/fields.ts';
import type { MeshEndpointRef, ProxySecretModel, SandboxModel, SidecarFilter } from '../../config/model.ts';
import type { DestinationRuleResource, GatewayResource, HttpRouteResource, IstioConfigResource, KubeGatewayResource, ServiceEntryResource, VirtualServiceResource } from '../config-resources.ts';
import { findingsError } from '../findings.ts';
import { loadIstioResources, setIstioVersionField } from '../parse.ts';
import { placeExtension, podWasmCache, type PlaceContext } from '../place.ts';
import { IstioPod } from '../pod.ts';
import type { Extension } from '../resources.ts';
import { readIstio, type ResolvedIstioSpec } from '../spec.ts';
import { versionTraits } from '../version.ts';
import type { MeshModel, MeshService } from './model.ts';
import { MeshboxError } from '../../errors.ts';
import { convertGatewayApi, gatewayDeploymentService, type GatewayDeployment } from '../networking/gateway-api.ts';
import type { ServiceLookup } from '../security/filters.ts';
import { credentialCaSuffix, credentialResourceName } from './tls.ts';
import { gatewayProxy, sidecarProxy, type MeshContext } from './proxies.ts';
import { buildRegistry } from './registry.ts';
import { protocolOf, readMeshSpec, type ResolvedGatewayDeployment } from './spec.ts';

export type MeshResolveInput = {
	readonly mesh: unknown;
	readonly istio: unknown;
	/** Relative paths in the spec are relative to it (meshbox.yaml's directory). */
	readonly baseDir: string;
	readonly locate?: Locator;
	/** istio-agent's state (module cache, resourceVersions), kept across live updates of one mesh. */
	readonly pod?: IstioPod;
	/** The plain model every proxy starts from (Envoy version, log levels); default: meshbox's defaults. */
	readonly base: SandboxModel;
};

export async function resolveMesh(input: MeshResolveInput): Promise<MeshModel> {
	const locate = input.locate ?? noLocation;
	const spec = readMeshSpec(input.mesh, locate);
	const istio = readIstio(input.istio, locate, { name: 'mesh', namespace: 'default', labels: {}, port: 8080, podName: 'mesh', ip: '127.0.0.1', serviceAccount: 'default' });
	const traits = versionTraits(istio.version, istio.patch);
	const loaded = await loadIstioResources(istio, input.baseDir, {
		traits,
		defaultNamespace: 'default',
		suggestion: { namespace: spec.workloads[0]?.namespace ?? 'default', labels: spec.workloads[0]?.labels ?? { app: 'my-app' } },
		howToSetVersion: setIstioVersionField,
	});
	if (loaded.findings.some(finding => finding.severity === 'error')) {
		throw findingsError(loaded.findings);
	}

	const pod = input.pod ?? new IstioPod();
	const extensions = pod.withResourceVersions(loaded.extensions);
	const notes: string[] = loaded.findings.filter(finding => finding.severity === 'warning')
		.map(finding => `${finding.where}: warning: ${finding.subject}: ${finding.field ? `${finding.field}: ` : ''}${finding.message}`);
	const ofKind = <T extends IstioConfigResource>(kind: T['kind']) => loaded.config.filter((resource): resource is T => resource.kind === kind);

	// The registry: Services and ServiceEntries, then what istiod makes of the Gateway API (Istio Gateways and
	// VirtualServices, and a gateway deployment with its Service each), then every gateway's Service.
	const registered = buildRegistry(spec, ofKind<ServiceEntryResource>('ServiceEntry'), notes);
	const converted = convertGatewayApi({ kubeGateways: ofKind<KubeGatewayResource>('KubeGateway'), httpRoutes: ofKind<HttpRouteResource>('HTTPRoute'), services: registered, traits });
	notes.push(...converted.notes);
	const gatewayDeployments = [...spec.gateways, ...converted.deployments.map(deployment => fromGatewayApi(deployment))];
	const services = [...registered, ...gatewayDeployments.map(gateway => gatewayService(gateway, converted.deployments))];
	const sources = new Set(istio.files.map(file => path.resolve(input.baseDir, file)));
	const place = placer(istio, input.baseDir, pod, notes, sources, traits);
	const trustDomain = istio.meshConfig.trustDomain ?? istio.meshId;
	const context: MeshContext = {
		traits,
		istio,
		trustDomain,
		extensions,
		envoyFilters: loaded.envoyFilters,
		config: loaded.config,
		gateways: [...ofKind<GatewayResource>('Gateway'), ...converted.gateways],
		virtualServices: [...ofKind<VirtualServiceResource>('VirtualService'), ...converted.virtualServices],
		destinationRules: ofKind<DestinationRuleResource>('DestinationRule'),
		services,
		place,
		base: input.base,
		lookupService: serviceLookup(services),
		secretsFor: await meshSecrets(trustDomain),
		credentialSecrets: credentialSecrets(input.baseDir, trustDomain),
	};
	// Proxies start at once; their modules are fetched once per extension (`place` remembers).
	const gateways = await Promise.all(gatewayDeployments.map(async gateway => gatewayProxy(gateway, context)));
	const sidecars = await Promise.all(spec.workloads.map(async workload => sidecarProxy(workload, context)));
	return {
		istioVersion: traits.fullVersion,
		trustDomain,
		proxies: [...gateways, ...sidecars],
		services,
		externals: spec.external.map(external => ({ host: external.host, port: external.port, upstream: external.app })),
		notes,
		sources: [...sources],
	};
}

/** Places each extension once per chain kind: every proxy of the mesh gets the same filter (and module). */
function placer(istio: ResolvedIstioSpec, baseDir: string, pod: IstioPod, notes: string[], sources: Set<string>, traits: ReturnType<typeof versionTraits>) {
	const cache = podWasmCache(pod, istio, baseDir, notes);
	const context: PlaceContext = { traits, istio, baseDir, cache, hostEnv: { ...process.env, ...istio.env }, notes, sources };
	const placed = new Map<string, Promise<SidecarFilter | undefined>>();
	return async (extension: Extension, network: boolean) => {
		const key = `${extension.kind}/${extension.namespace}/${extension.name}/${network}`;
		let filter = placed.get(key);
		if (!filter) {
			filter = placeExtension(extension, network, context);
			placed.set(key, filter);
		}

		return filter;
	};
}

/**
 * model.LookupCluster, for ext_authz providers (`service: ext-authz.foo.svc.cluster.local` or a ServiceEntry host):
 * the mesh's Service of that host and port, reached through istiod's outbound cluster name.
 */
function serviceLookup(services: readonly MeshService[]): ServiceLookup {
	return (host, port) => {
		const service = services.find(candidate => candidate.hostname === host && candidate.ports.some(entry => entry.port === port));
		if (!service) {
			return undefined;
		}

		const endpoints: MeshEndpointRef[] = service.external
			? [{ kind: 'external', host: service.hostname, port }]
			: service.endpoints.map(endpoint => ({ kind: 'proxy', proxy: endpoint.proxy, listener: 'virtualInbound' }));
		return { hostname: service.hostname, cluster: `outbound|${port}||${service.hostname}`, endpoints };
	};
}

/** Each proxy's `default` and `ROOTCA` from the mesh CA (./ca.ts, loaded only for meshes: @peculiar/x509 takes a while to load). */
async function meshSecrets(trustDomain: string): Promise<(namespace: string, serviceAccount: string) => Promise<readonly ProxySecretModel[]>> {
	const { MeshCa, workloadSecrets } = await import('./ca.ts');
	const ca = await MeshCa.shared(trustDomain);
	return async (namespace, serviceAccount) => workloadSecrets(ca, namespace, serviceAccount);
}

/** istiod's deployment for a Gateway API Gateway (../networking/gateway-api.ts) as a gateway of the mesh. */
function fromGatewayApi(deployment: GatewayDeployment): ResolvedGatewayDeployment {
	return {
		name: deployment.name,
		namespace: deployment.namespace,
		labels: deployment.labels,
		ports: deployment.ports.map(port => ({ name: port.name, port: port.port, targetPort: port.targetPort, protocol: protocolOf(port.name, port.appProtocol) })),
		serviceAccount: deployment.serviceAccount,
		hostPort: 0,
		credentials: {},
		gatewayApiName: deployment.gatewayName,
	};
}

/** A gateway's Kubernetes Service (the chart's `istio-ingressgateway`, or istiod's `<gw>-istio`), its pod behind it. */
function gatewayService(gateway: ResolvedGatewayDeployment, deployments: readonly GatewayDeployment[]): MeshService {
	const deployment = deployments.find(entry => entry.name === gateway.name && entry.namespace === gateway.namespace);
	const base: MeshService = deployment ? gatewayDeploymentService(deployment) : {
		name: gateway.name,
		namespace: gateway.namespace,
		hostname: `${gateway.name}.${gateway.namespace}.svc.cluster.local`,
		ports: gateway.ports,
		endpoints: [],
		external: false,
		selector: gateway.labels,
	};
	return { ...base, endpoints: [{ proxy: gateway.name, labels: gateway.labels, namespace: gateway.namespace, serviceAccount: gateway.serviceAccount, sidecar: false }] };
}

/**
 * A gateway credential (a kubernetes.io/tls Secret istiod serves as `kubernetes://<name>`): the PEM files the mesh
 * spec names (`credentials:`), else a certificate of the mesh CA for the servers' hosts, with a note.
 */
function credentialSecrets(baseDir: string, trustDomain: string) {
	return async (gateway: ResolvedGatewayDeployment, credentialName: string, hosts: readonly string[], notes: string[]): Promise<readonly ProxySecretModel[]> => {
		const name = credentialResourceName(credentialName);
		const files = gateway.credentials[credentialName];
		if (files) {
			const read = async (file: string) => readFile(path.resolve(baseDir, file), 'utf8').catch((error: unknown) => {
				throw new MeshboxError('CONFIG_INVALID', `gateway ${gateway.namespace}/${gateway.name}: credentials.${credentialName}: cannot read ${file}: ${(error as Error).message}`,
					'paths in mesh.gateways[].credentials are relative to meshbox.yaml');
			});
			const secrets: ProxySecretModel[] = [{ name, certificateChain: await read(files.cert), privateKey: await read(files.key) }];
			if (files.ca) {
				secrets.push({ name: `${name}${credentialCaSuffix}`, trustedCa: await read(files.ca) });
			}

			return secrets;
		}

		const { MeshCa } = await import('./ca.ts');
		const ca = await MeshCa.shared(trustDomain);
		const issued = await ca.issueServer({ dnsNames: hosts.length > 0 ? [...hosts] : [`${gateway.name}.${gateway.namespace}.svc.cluster.local`] });
		notes.push(`meshbox: Gateway credential ${credentialName} is not in mesh.gateways[].credentials: the mesh CA issued a certificate for ${hosts.join(', ') || 'the gateway'} (clients trust it with the mesh's root: mesh.rootCertificate)`);
		return [{ name, certificateChain: issued.certificateChain, privateKey: issued.privateKey }, { name: `${name}${credentialCaSuffix}`, trustedCa: ca.rootCertificate }];
	};
}
