/**
 * One proxy of the mesh as istiod builds it: a workload's sidecar (inbound `virtualInbound` + one outbound
 * listener per service port) or a gateway (`router`, one listener per server port), each with its filter
 * chains, routes, clusters and the WasmPlugins that select it, per listener as istiod selects them
 * (pilot/pkg/networking/core/listener_builder.go, gateway.go; pilot/pkg/model/extensions.go matchListener).
 */
import type { PluginModel, ProxyClusterModel, ProxyFilterChainModel, ProxyListenerModel, ProxySecretModel, SandboxModel, SidecarFilter } from '../../config/model.ts';
import type { BoundServer } from '../networking/gateway-servers.ts';
import { selectEnvoyFilters, withUnmatchedPatchNotes, type EnvoyFilterResource } from '../envoy-filter.ts';
import { gatewayTransportSocket, inboundFilterChainMatches, inboundListenerFilters, outboundMtlsTransportSocket, tlsInspectorFilter } from './tls.ts';
import type { JsonObject } from '../../util/json.ts';
import { gatewayHttpChain, inboundHttpChain, outboundHttpChain } from '../chain.ts';
import type { DestinationRuleResource, GatewayResource, IstioConfigResource, VirtualServiceResource } from '../config-resources.ts';
import { sidecarIdentity } from '../identity.ts';
import { redactText } from '../redact.ts';
import { displayName, type Extension, type Phase } from '../resources.ts';
import { selectExtensions, type ListenerClass, type SelectionOutcome } from '../select.ts';
import type { ResolvedIstioSpec, ResolvedWorkload } from '../spec.ts';
import type { VersionTraits } from '../version.ts';
import type { MeshProxyModel, MeshService } from './model.ts';
import { outboundClusters as networkingClusters } from '../networking/clusters.ts';
import { gatewayServers } from '../networking/gateway-servers.ts';
import { gatewayRouteConfig, outboundRouteConfig } from '../networking/routes.ts';
import { peerAuthenticationMode, securityFilters, type SecurityFilters, type ServiceLookup } from '../security/filters.ts';
import type { ResolvedGatewayDeployment, ResolvedWorkloadDeployment } from './spec.ts';

/** What every proxy of one mesh is built from. */
export type MeshContext = {
	readonly traits: VersionTraits;
	readonly istio: ResolvedIstioSpec;
	readonly trustDomain: string;
	readonly extensions: readonly Extension[];
	/** EnvoyFilters, applied to each proxy they select as istiod applies them (../envoy-filter.ts). */
	readonly envoyFilters: readonly EnvoyFilterResource[];
	readonly config: readonly IstioConfigResource[];
	readonly gateways: readonly GatewayResource[];
	readonly virtualServices: readonly VirtualServiceResource[];
	readonly destinationRules: readonly DestinationRuleResource[];
	readonly services: readonly MeshService[];
	/** An extension → its filter (translated, fetched by the pod's agent): once per extension and chain. */
	readonly place: (extension: Extension, network: boolean) => Promise<SidecarFilter | undefined>;
	/** The plain model every proxy starts from (Envoy version, log levels). */
	readonly base: SandboxModel;
	/** model.LookupCluster for ext_authz providers. */
	readonly lookupService: ServiceLookup;
	/** A proxy's SDS secrets (`default`, `ROOTCA`) from the mesh CA. */
	readonly secretsFor: (namespace: string, serviceAccount: string) => Promise<readonly ProxySecretModel[]>;
	/** A gateway credential's secrets (`kubernetes://<name>`, `-cacert`): the spec's files, else the mesh CA's certificate for `hosts`. */
	readonly credentialSecrets: (gateway: ResolvedGatewayDeployment, credentialName: string, hosts: readonly string[], notes: string[]) => Promise<readonly ProxySecretModel[]>;
};

/** What one proxy's listeners picked, for its notes and render header. */
type Selection = { readonly listener: string; readonly outcomes: readonly SelectionOutcome[] };

export async function sidecarProxy(workload: ResolvedWorkloadDeployment, context: MeshContext): Promise<MeshProxyModel> {
	const pod = podOf(workload.name, workload.namespace, workload.labels, workload.serviceAccount, workload.port);
	const identity = sidecarIdentity(pod, context.istio);
	const notes: string[] = [];
	const selections: Selection[] = [];
	const plugins = new Map<string, PluginModel>();
	const view = { name: workload.name, namespace: workload.namespace, labels: workload.labels };

	// Inbound: virtualInbound, the workload's port (listener_inbound.go), in the TLS mode PeerAuthentication sets.
	const inboundPlugins = await pluginsFor(view, 'SERVER', workload.port, context, selections, 'virtualInbound', plugins);
	const security = await securityFor(view, 'sidecar', workload.port, context);
	notes.push(...security.notes);
	const mode = peerAuthenticationMode({ namespace: workload.namespace, labels: workload.labels, port: workload.port, resources: context.config, rootNamespace: context.istio.rootNamespace });
	const chains = inboundFilterChainMatches(mode);
	const listenerFilters = inboundListenerFilters(chains);
	const inboundCluster = `inbound|${workload.port}||`;
	const inboundRoute: JsonObject = {
		name: inboundCluster,
		virtual_hosts: [{ name: `inbound|http|${workload.port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: inboundCluster, timeout: '0s', max_stream_duration: { max_stream_duration: '0s', grpc_timeout_header_max: '0s' } }, decorator: { operation: `${workload.name}.${workload.namespace}.svc.cluster.local:${workload.port}/*` } }] }],
		validate_clusters: false,
	};
	const inbound: ProxyListenerModel = {
		name: 'virtualInbound',
		role: 'inbound',
		port: workload.port,
		trafficDirection: 'INBOUND',
		listenerFilters,
		filterChains: chains.map(chain => ({
			// listener_inbound.go: every chain of a port has the port's name (the TLS and the plain-text one alike).
			name: `0.0.0.0_${workload.port}`,
			match: chain.match,
			...(chain.transportSocket ? { transportSocket: chain.transportSocket } : {}),
			networkFilters: inboundPlugins.network,
			http: { statPrefix: `inbound_0.0.0.0_${workload.port}`, routeConfig: inboundRoute, httpFilters: inboundHttpChain(inboundPlugins.inPhase, security),
				fields: { forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { subject: true, dns: true, uri: true }, use_remote_address: false } },
		})),
	};

	const outbound = await outboundListeners(view, context, selections, plugins, notes);
	const clusters: ProxyClusterModel[] = [
		{ name: inboundCluster, endpoints: [{ kind: 'app' }], fields: { connect_timeout: '10s', lb_policy: 'CLUSTER_PROVIDED' }, comment: `the app's container port ${workload.port}` },
		...outbound.clusters,
		...security.clusters,
	];
	return proxyModel({
		kind: 'sidecar',
		name: workload.name,
		namespace: workload.namespace,
		labels: workload.labels,
		serviceAccount: workload.serviceAccount,
		node: { id: identity.id, cluster: identity.cluster, metadata: identity.metadata },
		listeners: [inbound, ...outbound.listeners],
		clusters,
		plugins: [...plugins.values()],
		notes,
		summary: [`Istio ${context.traits.fullVersion} sidecar of ${workload.namespace}/${workload.name} (sa ${workload.serviceAccount}); inbound mTLS ${mode}.`, ...describeSelections(selections), ...security.summary],
		upstream: workload.app,
	}, context);
}

export async function gatewayProxy(gateway: ResolvedGatewayDeployment, context: MeshContext): Promise<MeshProxyModel> {
	const pod = podOf(gateway.name, gateway.namespace, gateway.labels, gateway.serviceAccount, gateway.ports[0]?.targetPort ?? 8080);
	const identity = sidecarIdentity(pod, context.istio);
	const notes: string[] = [];
	const selections: Selection[] = [];
	const plugins = new Map<string, PluginModel>();
	const view = { name: gateway.name, namespace: gateway.namespace, labels: gateway.labels };
	const servers = gatewayServers({ proxyLabels: gateway.labels, proxyNamespace: gateway.namespace, gateways: context.gateways, virtualServices: context.virtualServices,
		services: context.services, traits: context.traits });
	notes.push(...servers.notes);
	if (servers.ports.length === 0) {
		notes.push(`istiod: no Gateway selects ${gateway.namespace}/${gateway.name} (labels ${Object.entries(gateway.labels).map(([key, value]) => `${key}=${value}`).join(', ')}): it has no listeners`);
	}

	const listeners: ProxyListenerModel[] = [];
	const clusters = outboundClusters({ services: context.services, destinationRules: context.destinationRules, proxyNamespace: gateway.namespace, traits: context.traits, trustDomain: context.trustDomain });
	notes.push(...clusters.notes);
	const securityClusters: ProxyClusterModel[] = [];
	/** credentialName → the hosts of the servers using it (a certificate the mesh CA makes covers them). */
	const credentials = new Map<string, string[]>();
	for (const gatewayPort of servers.ports) {
		const name = `0.0.0.0_${gatewayPort.port}`;
		const selected = await pluginsFor(view, 'CLIENT', gatewayPort.port, context, selections, name, plugins);
		const security = await securityFor(view, 'gateway', gatewayPort.port, context);
		notes.push(...security.notes);
		securityClusters.push(...security.clusters);
		const chains: ProxyFilterChainModel[] = [];
		for (const routeConfig of gatewayPort.routeConfigs) {
			const bound = gatewayPort.servers.filter(server => server.routeName === routeConfig.name);
			const first = bound[0];
			if (!first) {
				continue;
			}

			const route = gatewayRouteConfig({ routeConfigName: routeConfig.name, port: first.server.port.number, servers: bound.map(server => ({ gateway: server.gatewayName, server: server.server })),
				virtualServices: context.virtualServices, services: context.services, destinationRules: context.destinationRules, gatewayNamespace: gateway.namespace, proxyLabels: gateway.labels, traits: context.traits });
			notes.push(...route.notes);
			const tls = gatewayTls(first, gateway, context, credentials, notes);
			chains.push({
				// gateway.go: an HTTPS server's chain is named after its route, a plain HTTP one has no name.
				name: tls ? routeConfig.name : '',
				...(tls ? { match: tls.match, transportSocket: tls.transportSocket } : {}),
				networkFilters: selected.network,
				http: { statPrefix: `outbound_0.0.0.0_${gatewayPort.port}`, routeConfig: route.routeConfig, httpFilters: gatewayHttpChain(selected.inPhase, security),
					fields: { use_remote_address: true, forward_client_cert_details: 'SANITIZE_SET', normalize_path: true, merge_slashes: true, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' } },
			});
		}

		for (const server of gatewayPort.servers.filter(entry => !entry.routeName)) {
			notes.push(`meshbox: Gateway ${server.gatewayName} server port ${server.server.port.number} (${server.server.port.protocol}${server.tls?.mode ? `, TLS ${server.tls.mode}` : ''}) is not HTTP: not modelled (no listener chain)`);
		}

		if (chains.length > 0) {
			listeners.push({
				name,
				role: 'gateway',
				port: gatewayPort.port,
				trafficDirection: 'OUTBOUND',
				listenerFilters: chains.some(chain => chain.transportSocket) ? [tlsInspectorFilter] : [],
				filterChains: chains,
			});
		}
	}

	const credentialSecrets: ProxySecretModel[] = [];
	for (const [credentialName, hosts] of credentials) {
		credentialSecrets.push(...await context.credentialSecrets(gateway, credentialName, hosts, notes));
	}

	return proxyModel({
		kind: 'gateway',
		name: gateway.name,
		namespace: gateway.namespace,
		labels: gateway.labels,
		serviceAccount: gateway.serviceAccount,
		node: { id: identity.id.replace(/^sidecar~/, 'router~'), cluster: `${gateway.name}.${gateway.namespace}`, metadata: identity.metadata },
		listeners,
		clusters: [...clusters.clusters, ...securityClusters],
		extraSecrets: credentialSecrets,
		hostPort: gateway.hostPort,
		plugins: [...plugins.values()],
		notes,
		summary: [`Istio ${context.traits.fullVersion} gateway ${gateway.namespace}/${gateway.name} (labels ${Object.entries(gateway.labels).map(([key, value]) => `${key}=${value}`).join(', ')}).`, ...describeSelections(selections)],
		upstream: context.base.upstream,
	}, context);
}

/** A sidecar's outbound side: one listener per HTTP service port of the mesh (there is no iptables capture). */
async function outboundListeners(view: ProxyView, context: MeshContext, selections: Selection[], plugins: Map<string, PluginModel>, notes: string[]): Promise<{ listeners: ProxyListenerModel[]; clusters: readonly ProxyClusterModel[] }> {
	const ports = [...new Set(context.services.flatMap(service => service.ports.filter(port => port.protocol !== 'TCP' && port.protocol !== 'TLS' && port.protocol !== 'HTTPS').map(port => port.port)))].sort((a, b) => a - b);
	const listeners: ProxyListenerModel[] = [];
	for (const port of ports) {
		const name = `0.0.0.0_${port}`;
		const selected = await pluginsFor(view, 'CLIENT', port, context, selections, name, plugins);
		const route = outboundRouteConfig({ port, services: context.services, virtualServices: context.virtualServices, destinationRules: context.destinationRules, proxyNamespace: view.namespace, proxyLabels: view.labels, traits: context.traits });
		notes.push(...route.notes);
		listeners.push({
			name,
			role: 'outbound',
			port,
			trafficDirection: 'OUTBOUND',
			listenerFilters: [],
			filterChains: [{ name: '', networkFilters: selected.network, http: { statPrefix: `outbound_0.0.0.0_${port}`, routeConfig: route.routeConfig, httpFilters: outboundHttpChain(selected.inPhase) } }],
		});
	}

	const clusters = outboundClusters({ services: context.services, destinationRules: context.destinationRules, proxyNamespace: view.namespace, traits: context.traits, trustDomain: context.trustDomain });
	notes.push(...clusters.notes);
	return { listeners, clusters: clusters.clusters };
}

type ProxyView = { readonly name: string; readonly namespace: string; readonly labels: Readonly<Record<string, string>> };

/** The WasmPlugins of one listener, placed (translated and fetched), grouped as the chain builders take them. */
async function pluginsFor(view: ProxyView, listenerClass: ListenerClass, port: number, context: MeshContext, selections: Selection[], listener: string, plugins: Map<string, PluginModel>) {
	const outcomes = selectExtensions(context.extensions, { namespace: view.namespace, labels: view.labels, rootNamespace: context.istio.rootNamespace, listenerClass, port, traits: context.traits });
	selections.push({ listener, outcomes });
	const placed: Array<{ outcome: SelectionOutcome; filter: SidecarFilter }> = [];
	for (const outcome of outcomes.filter(entry => entry.applied)) {
		const filter = await context.place(outcome.extension, outcome.chain === 'network');
		if (filter) {
			placed.push({ outcome, filter });
			if (filter.kind === 'wasm') {
				plugins.set(filter.plugin.name, filter.plugin);
			}
		}
	}

	const inPhase = (chain: 'http' | 'network', phase: Phase) => placed.filter(entry => entry.outcome.chain === chain && entry.outcome.extension.phase === phase).map(entry => entry.filter);
	const network = [...inPhase('network', 'AUTHN'), ...inPhase('network', 'AUTHZ'), ...inPhase('network', 'STATS'), ...inPhase('network', 'UNSPECIFIED_PHASE')];
	return { inPhase, network };
}

/**
 * An HTTPS server's TLS (gateway.go buildGatewayListeners, listener.go BuildListenerTLSContext): the chain matches
 * the server's SNI hosts, and terminates TLS with the credential istiod serves as `kubernetes://<credentialName>`.
 * Undefined for a plain HTTP server. Only SIMPLE and MUTUAL with a credentialName are modelled (a note otherwise).
 */
function gatewayTls(bound: BoundServer, gateway: ResolvedGatewayDeployment, context: MeshContext, credentials: Map<string, string[]>, notes: string[]): { match: JsonObject; transportSocket: JsonObject } | undefined {
	const tls = bound.tls;
	if (!tls || tls.httpsRedirect === true && tls.mode === undefined) {
		return undefined;
	}

	const mode = tls.mode ?? 'SIMPLE';
	if ((mode !== 'SIMPLE' && mode !== 'MUTUAL') || !tls.credentialName) {
		notes.push(`meshbox: Gateway ${bound.gatewayName} on ${gateway.namespace}/${gateway.name}: TLS mode ${mode}${tls.credentialName ? '' : ' without credentialName'} is not modelled; the server is served without TLS`);
		return undefined;
	}

	const hosts = bound.sniHosts.filter(host => host !== '*');
	credentials.set(tls.credentialName, [...new Set([...(credentials.get(tls.credentialName) ?? []), ...hosts])]);
	void context;
	return { match: hosts.length > 0 ? { server_names: hosts } : {}, transportSocket: gatewayTransportSocket(tls.credentialName, mode) };
}

/** istiod's outbound clusters (../networking/clusters.ts) for a proxy in `proxyNamespace`, ISTIO_MUTUAL by ./tls.ts. */
function outboundClusters(input: { readonly services: readonly MeshService[]; readonly destinationRules: readonly DestinationRuleResource[]; readonly proxyNamespace: string;
	readonly traits: VersionTraits; readonly trustDomain: string }) {
	return networkingClusters({ ...input, mtls: (_service, port, _subset, tls) => outboundMtlsTransportSocket({ ...tls, http2: port.protocol === 'HTTP2' || port.protocol === 'GRPC' }) });
}

/** The security filters of one listener (../security/filters.ts), with the mesh's services for ext_authz providers. */
async function securityFor(view: ProxyView, kind: 'sidecar' | 'gateway', port: number, context: MeshContext): Promise<SecurityFilters> {
	return securityFilters({ proxy: { ...view, kind }, port, resources: context.config, meshConfig: context.istio.meshConfig, traits: context.traits,
		rootNamespace: context.istio.rootNamespace, lookupService: context.lookupService });
}

function describeSelections(selections: readonly Selection[]): string[] {
	const lines: string[] = [];
	for (const { listener, outcomes } of selections) {
		for (const outcome of outcomes) {
			const where = `${outcome.extension.origin.file}:${outcome.extension.origin.line}`;
			lines.push(`${outcome.applied ? '+' : '-'} ${listener}: ${displayName(outcome.extension)} (${where}): ${outcome.applied ? `${outcome.chain} chain, phase ${outcome.extension.phase}` : outcome.reason}`);
		}
	}

	return lines;
}

function podOf(name: string, namespace: string, labels: Readonly<Record<string, string>>, serviceAccount: string, port: number): ResolvedWorkload {
	return { name, namespace, labels, port, podName: `${name}-meshbox`, ip: '127.0.0.1', serviceAccount };
}

type ProxyParts = {
	readonly kind: 'gateway' | 'sidecar';
	readonly name: string;
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly serviceAccount: string;
	readonly node: SandboxModel['node'];
	readonly listeners: readonly ProxyListenerModel[];
	readonly clusters: readonly ProxyClusterModel[];
	readonly plugins: readonly PluginModel[];
	readonly notes: readonly string[];
	readonly summary: readonly string[];
	readonly upstream: SandboxModel['upstream'];
	readonly hostPort?: number;
	/** A gateway's TLS credentials (`kubernetes://<credentialName>`), served besides `default` and `ROOTCA`. */
	readonly extraSecrets?: readonly ProxySecretModel[];
};

async function proxyModel(parts: ProxyParts, context: MeshContext): Promise<MeshProxyModel> {
	const secrets = [...await context.secretsFor(parts.namespace, parts.serviceAccount), ...(parts.extraSecrets ?? [])];
	// EnvoyFilters that select this proxy, in istiod's order (push_context.go EnvoyFilters); the renderer applies
	// their patches in the proxy's context (SIDECAR_INBOUND / SIDECAR_OUTBOUND, or GATEWAY for a router).
	const envoyFilters = selectEnvoyFilters(context.envoyFilters, { namespace: parts.namespace, labels: parts.labels, rootNamespace: context.istio.rootNamespace,
		traits: context.traits, nodeMetadata: parts.node.metadata });
	const principal = `spiffe://${context.trustDomain}/ns/${parts.namespace}/sa/${parts.serviceAccount}`;
	const model: MeshProxyModel = {
		name: parts.name,
		kind: parts.kind,
		namespace: parts.namespace,
		labels: parts.labels,
		serviceAccount: parts.serviceAccount,
		principal,
		sandbox: {
			...context.base,
			upstream: parts.upstream,
			node: parts.node,
			plugins: parts.plugins,
			// `hostPort` of a gateway: where its first listener binds on this machine (`meshbox up --port` overrides it).
			port: parts.hostPort ?? 0,
			adminPort: 0,
			proxy: {
				role: parts.kind === 'gateway' ? 'router' : 'sidecar',
				name: parts.name,
				namespace: parts.namespace,
				node: parts.node,
				listeners: parts.listeners,
				clusters: parts.clusters,
				secrets,
				notes: [...parts.notes, ...envoyFilters.notes].map(note => redactText(note)),
				summary: [...parts.summary, ...envoyFilters.summary],
			},
			...(envoyFilters.patches.length > 0 ? { patches: envoyFilters.patches } : {}),
		},
	};
	// A patch that matches nothing in this proxy's config: istiod ignores it; the proxy's notes say so.
	return { ...model, sandbox: withUnmatchedPatchNotes(model.sandbox) };
}
