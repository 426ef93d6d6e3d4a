/**
 * Which Istio Gateway servers a gateway proxy serves, on which of its ports, under which route configuration, and
 * which VirtualServices bind to each: istiod's merged gateway for one proxy.
 *
 * Follows istio/istio 1.29.6: pilot/pkg/model/push_context.go (mergeGateways(proxy): selection by selector or by the
 * `internal.istio.io/gateway-service` annotation of Gateway API gateways; VirtualServicesForGateway and
 * initVirtualServices for exportTo), pilot/pkg/model/gateway.go (mergeGateways, resolvePorts,
 * gatewayRDSRouteName, sanitizeServerHostNamespace, CheckDuplicates), pilot/pkg/model/config.go
 * (resolveGatewayName), pilot/pkg/networking/core/gateway.go (buildGatewayHTTPRouteConfig: server hosts ∩
 * VirtualService hosts, one virtual host `<host>:<server port>` per host), pkg/config/host (wildcard matching).
 * QUIC/HTTP3, `bind` addresses other than none, AUTO_PASSTHROUGH and TCP/TLS routes are not modelled (notes).
 */
import type { GatewayResource, VirtualServiceResource } from '../config-resources.ts';
import type { MeshService } from '../mesh/model.ts';
import type { VersionTraits } from '../version.ts';
import type { GatewayServer, ServerTls } from './types.ts';

// --- host names (pkg/config/host/name.go) -----------------------------------------------------------------

function wildcard(name: string): boolean {
	return name.startsWith('*');
}

/** host.Name.Matches: either one matches the other (wildcards on either side). */
export function hostMatches(a: string, b: string): boolean {
	if (wildcard(a)) {
		if (wildcard(b)) {
			return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
		}

		return b.endsWith(a.slice(1));
	}

	return wildcard(b) ? a.endsWith(b.slice(1)) : a === b;
}

/** host.Name.SubsetOf: every name `a` matches is matched by `b`. */
export function hostSubsetOf(a: string, b: string): boolean {
	if (wildcard(a)) {
		return wildcard(b) && a.length >= b.length && a.slice(1).endsWith(b.slice(1));
	}

	return wildcard(b) ? a.endsWith(b.slice(1)) : a === b;
}

/** host.Names.Intersection: for each pair, the narrower of the two when one contains the other (order of `a`). */
export function hostIntersection(a: readonly string[], b: readonly string[]): string[] {
	const result: string[] = [];
	for (const left of a) {
		for (const right of b) {
			const narrower = hostSubsetOf(left, right) ? left : (hostSubsetOf(right, left) ? right : undefined);
			if (narrower !== undefined && !result.includes(narrower)) {
				result.push(narrower);
			}
		}
	}

	return result;
}

// --- protocols (pkg/config/protocol) ----------------------------------------------------------------------

const httpProtocols = new Set(['HTTP', 'HTTP2', 'HTTP_PROXY', 'GRPC', 'GRPC-WEB']);

function isHttpProtocol(protocol: string): boolean {
	return httpProtocols.has(protocol.toUpperCase());
}

function isPassthrough(server: GatewayServer): boolean {
	return server.tls?.mode === 'PASSTHROUGH' || server.tls?.mode === 'AUTO_PASSTHROUGH';
}

/** gateway.IsTLSServer: TLS settings on a protocol that is not HTTP (an HTTP server's tls is httpsRedirect). */
function isTlsServer(server: GatewayServer): boolean {
	return server.tls !== undefined && !isHttpProtocol(server.port.protocol);
}

/** gateway.IsHTTPServer: HTTP, or HTTPS that terminates TLS. */
function isHttpServer(server: GatewayServer): boolean {
	return isHttpProtocol(server.port.protocol) || (server.port.protocol.toUpperCase() === 'HTTPS' && !isPassthrough(server));
}

// --- the merged gateway -----------------------------------------------------------------------------------

export type GatewayServersInput = {
	/** The gateway proxy's pod labels and namespace. */
	readonly proxyLabels: Readonly<Record<string, string>>;
	readonly proxyNamespace: string;
	/** Every networking.istio.io Gateway of the mesh, including those convertGatewayApi generated. */
	readonly gateways: readonly GatewayResource[];
	/** Every VirtualService of the mesh (including generated ones); none: the servers alone. */
	readonly virtualServices?: readonly VirtualServiceResource[];
	/**
	 * The mesh's Services: those in the proxy's namespace that select it are its "service targets", which map a
	 * server port to the container port (80 → 8080 for istio-ingressgateway) and select Gateway API gateways.
	 */
	readonly services?: readonly MeshService[];
	readonly traits: VersionTraits;
	/** PILOT_SCOPE_GATEWAY_TO_NAMESPACE (off by default): only Gateways in the proxy's namespace select it. */
	readonly scopeGatewayToNamespace?: boolean;
	/** The cluster domain; default `cluster.local`. */
	readonly domainSuffix?: string;
};

/** One server of a Gateway that selects the proxy. */
export type BoundServer = {
	readonly gateway: GatewayResource;
	/** `<namespace>/<name>` of the Gateway: what VirtualServices name in `gateways`. */
	readonly gatewayName: string;
	/** The server with hosts sanitized as istiod does (`./h` → `<ns>/h`, `*\/h` → `h`, `*\/*` → `*`). */
	readonly server: GatewayServer;
	/** RDS name: `http.<container port>`, `https.<server port>.<port name>.<gateway>.<namespace>`; '' for none. */
	readonly routeName: string;
	readonly tls?: ServerTls;
	/** SNI hosts of a TLS server (hosts without namespace, sorted). */
	readonly sniHosts: readonly string[];
};

/** A virtual host of a route configuration: one host, the VirtualServices whose routes it carries, in order. */
export type GatewayVirtualHost = {
	/** `<host>:<server port>` (util.DomainName). */
	readonly name: string;
	readonly domains: readonly string[];
	/** The server port (what the VirtualServices' `match.port` compares with). */
	readonly port: number;
	readonly virtualServices: readonly VirtualServiceResource[];
	/**
	 * Whose routes the host carries, in istiod's order (a VirtualService reached through two Gateways twice): build
	 * each one's routes for `port` and `gatewayName` (its `match[].gateways` and `match[].port` are checked there).
	 */
	readonly bindings: ReadonlyArray<{ readonly virtualService: VirtualServiceResource; readonly gatewayName: string }>;
	/** `tls.httpsRedirect` on the server: Envoy answers plain HTTP with a redirect to https. */
	readonly requireTls: boolean;
};

export type GatewayRouteConfig = { readonly name: string; readonly virtualHosts: readonly GatewayVirtualHost[] };

/** A container port of the proxy and what it serves (one Envoy listener `0.0.0.0_<port>`). */
export type GatewayPort = {
	readonly port: number;
	readonly protocol: string;
	readonly servers: readonly BoundServer[];
	/** The route configurations of this port's HTTP servers (one for plain HTTP; one per HTTPS server). */
	readonly routeConfigs: readonly GatewayRouteConfig[];
};

export type GatewayServersResult = { readonly ports: readonly GatewayPort[]; readonly notes: readonly string[] };

type ServiceTarget = { readonly hostname: string; readonly namespace: string; readonly port: number; readonly targetPort: number };

/** The Gateway servers one gateway proxy serves, per container port, with the VirtualServices bound to each. */
export function gatewayServers(input: GatewayServersInput): GatewayServersResult {
	const notes: string[] = [];
	const domain = input.domainSuffix ?? 'cluster.local';
	const targets = serviceTargets(input);
	const selected = selectGateways(input, targets);
	const merged = mergeServers(selected, notes);
	const virtualServices = (input.virtualServices ?? []).map(virtualService => resolveShortnames(virtualService, domain));
	const ports = merged.map(port => ({
		port: port.port,
		protocol: port.protocol,
		servers: port.servers,
		routeConfigs: [...new Set(port.servers.filter(bound => isHttpServer(bound.server) && bound.routeName).map(bound => bound.routeName))]
			.map(routeName => routeConfig(routeName, merged.flatMap(entry => entry.servers).filter(bound => bound.routeName === routeName), virtualServices, input.proxyNamespace)),
	}));
	return { ports, notes };
}

/** The Services in the proxy's namespace whose selector matches its labels, one entry per port. */
function serviceTargets(input: GatewayServersInput): ServiceTarget[] {
	return (input.services ?? [])
		.filter(service => !service.external && service.namespace === input.proxyNamespace && Object.keys(service.selector).length > 0
			&& Object.entries(service.selector).every(([key, value]) => input.proxyLabels[key] === value))
		.flatMap(service => service.ports.map(port => ({ hostname: service.hostname, namespace: service.namespace, port: port.port, targetPort: port.targetPort })));
}

type Selected = { readonly gateway: GatewayResource; readonly legacySelector: boolean; readonly targets: readonly ServiceTarget[] };

/** push_context.go mergeGateways(proxy): by the gateway-service annotation, else by selector ⊆ labels. */
function selectGateways(input: GatewayServersInput, targets: readonly ServiceTarget[]): Selected[] {
	const candidates = input.scopeGatewayToNamespace ? input.gateways.filter(gateway => gateway.namespace === input.proxyNamespace) : input.gateways;
	const selected: Selected[] = [];
	// initGateways sorts by creation time; without one, file order stands in.
	for (const gateway of byCreation(candidates)) {
		const services = gateway.annotations['internal.istio.io/gateway-service'];
		if (services !== undefined) {
			const known = new Set(services.split(','));
			const namespace = gateway.annotations['internal.istio.io/parent-namespace'] || gateway.namespace;
			const matching = targets.filter(target => known.has(target.hostname) && target.namespace === namespace);
			if (matching.length > 0) {
				selected.push({ gateway, legacySelector: false, targets: matching });
			}
		} else if (Object.entries((gateway.spec.selector as GatewayResource['spec']['selector'] | undefined) ?? {}).every(([key, value]) => input.proxyLabels[key] === value)) {
			// No selector (or an empty one) applies to every gateway proxy (`gw.GetSelector() == nil`).
			selected.push({ gateway, legacySelector: true, targets });
		}
	}

	return selected;
}

/**
 * istiod's creation order (model.sortConfigByCreationTime: creationTimestamp, then namespace, then name) with
 * src/istio/README.md "Ordering ties": resources without a creationTimestamp count as created after those with
 * one, in the order read.
 */
export function byCreation<T extends { readonly creationTimestamp: number | undefined; readonly namespace: string; readonly name: string }>(items: readonly T[]): T[] {
	const text = (a: string, b: string): number => (a < b ? -1 : (a > b ? 1 : 0));
	return items.map((item, index) => ({ item, index })).sort((x, y) => {
		const a = x.item.creationTimestamp;
		const b = y.item.creationTimestamp;
		if (a !== undefined && b !== undefined) {
			return a - b || text(x.item.namespace, y.item.namespace) || text(x.item.name, y.item.name) || x.index - y.index;
		}

		return a === b ? x.index - y.index : (a === undefined ? 1 : -1);
	}).map(entry => entry.item);
}

/**
 * gateway.go resolvePorts: a legacy (selector) Gateway's port is a Service port, translated to the first matching
 * Service's targetPort, or used as-is when no Service has it; a Gateway API one must name a Service port.
 */
function resolvePorts(number: number, selected: Selected): number[] {
	const ports: number[] = [];
	for (const target of selected.targets) {
		if (target.port === number) {
			if (selected.legacySelector) {
				return [target.targetPort];
			}

			if (!ports.includes(target.targetPort)) {
				ports.push(target.targetPort);
			}
		}
	}

	return ports.length === 0 && selected.legacySelector ? [number] : ports;
}

/** gateway.go sanitizeServerHostNamespace. */
function sanitizeHosts(hosts: readonly string[], namespace: string): string[] {
	const result: string[] = [];
	for (const host of hosts) {
		const [prefix, name] = host.includes('/') ? host.split('/', 2) as [string, string] : [undefined, host];
		if (prefix === '.') {
			result.push(`${namespace}/${name}`);
		} else if (prefix === '*') {
			if (name === '*') {
				return ['*'];
			}

			result.push(name);
		} else {
			result.push(host);
		}
	}

	return result;
}

/** gateway.go gatewayRDSRouteName. */
function routeName(server: GatewayServer, port: number, gateway: GatewayResource): string {
	const bind = server.bind ? `.${server.bind}` : '';
	if (isHttpProtocol(server.port.protocol)) {
		return `http.${port}${bind}`;
	}

	if (server.port.protocol.toUpperCase() === 'HTTPS' && !isPassthrough(server)) {
		return `https.${server.port.number}.${server.port.name}.${gateway.name}.${gateway.namespace}${bind}`;
	}

	return '';
}

type MutablePort = { port: number; protocol: string; plainText: boolean; servers: BoundServer[] };

/** gateway.go mergeGateways, for servers without `bind` (a bound server is noted and kept on its own port entry). */
function mergeServers(selected: readonly Selected[], notes: string[]): MutablePort[] {
	const ports: MutablePort[] = [];
	const tlsHostsByPort = new Map<number, Set<string>>();
	const routeNames = new Set<string>();
	for (const entry of selected) {
		const { gateway } = entry;
		const gatewayName = `${gateway.namespace}/${gateway.name}`;
		for (const original of gateway.spec.servers) {
			const server: GatewayServer = { ...original, hosts: sanitizeHosts(original.hosts, gateway.namespace) };
			if (server.bind) {
				notes.push(`meshbox: Gateway ${gatewayName}: server bind ${server.bind} is not modelled; it listens on 0.0.0.0`);
			}

			for (const resolved of resolvePorts(server.port.number, entry)) {
				const name = routeName(server, resolved, gateway);
				const bound: BoundServer = {
					gateway, gatewayName, server, routeName: name, ...(server.tls ? { tls: server.tls } : {}),
					sniHosts: server.tls ? [...new Set(server.hosts.map(host => host.includes('/') ? host.split('/')[1]! : host))].sort() : [],
				};
				if (server.tls) {
					// Envoy refuses two filter chains with the same SNI match (CheckDuplicates).
					const known = tlsHostsByPort.get(resolved) ?? new Set<string>();
					const duplicates = server.hosts.filter(host => known.has(host));
					if (duplicates.length > 0) {
						notes.push(`istiod: Gateway ${gatewayName}: skipping server on port ${resolved}, duplicate host names: ${duplicates.join(', ')}`);
						continue;
					}

					tlsHostsByPort.set(resolved, new Set([...known, ...server.hosts]));
					if (server.tls.mode === 'AUTO_PASSTHROUGH') {
						notes.push(`meshbox: Gateway ${gatewayName}: AUTO_PASSTHROUGH (multi-network SNI routing) is not modelled`);
					}
				}

				const existing = ports.find(port => port.port === resolved);
				if (!existing) {
					ports.push({ port: resolved, protocol: server.port.protocol, plainText: !isTlsServer(server), servers: [bound] });
					if (isHttpServer(server)) {
						routeNames.add(name);
					}

					continue;
				}

				if (existing.plainText) {
					// canMergeProtocols(new, existing): HTTP servers share one listener and one route config.
					if (!((isHttpProtocol(server.port.protocol) || server.port.protocol.toUpperCase() === existing.protocol.toUpperCase()) && isHttpProtocol(existing.protocol))) {
						notes.push(`istiod: Gateway ${gatewayName}: skipping server on port ${server.port.name}.${resolved}.${server.port.protocol}: conflict with existing server ${existing.port}.${existing.protocol}`);
						continue;
					}

					if (name === '') {
						notes.push(`istiod: Gateway ${gatewayName}: skipping server on port ${resolved}: could not build RDS name from server`);
						continue;
					}

					existing.servers.push(bound);
					continue;
				}

				if (!isTlsServer(server)) {
					notes.push(`meshbox: Gateway ${gatewayName}: a plain-text server on port ${resolved} after TLS servers on it is not modelled; skipped`);
					continue;
				}

				if (isHttpServer(server)) {
					if (name === '' || routeNames.has(name)) {
						notes.push(`istiod: Gateway ${gatewayName}: skipping server on port ${server.port.name}.${resolved}.${server.port.protocol}: non unique port name for HTTPS port`);
						continue;
					}

					routeNames.add(name);
				}

				existing.servers.push(bound);
			}
		}
	}

	return ports;
}

/** push_context.go resolveVirtualServiceShortnames (not for Gateway API routes) + resolveGatewayName. */
function resolveShortnames(virtualService: VirtualServiceResource, domain: string): VirtualServiceResource {
	if (virtualService.annotations['internal.istio.io/route-semantics'] === 'gateway') {
		return virtualService;
	}

	const { namespace } = virtualService;
	const host = (name: string): string => name === '*' || name.includes('.') ? name : `${name}.${namespace}.svc.${domain}`;
	const gateway = (name: string): string => {
		if (name === 'mesh') {
			return name;
		}

		if (!name.includes('/')) {
			if (!name.includes('.')) {
				return `${namespace}/${name}`;
			}

			// Legacy FQDN form name.ns.svc.cluster.local → ns/name.
			const [short, gatewayNamespace] = name.split('.');
			return `${gatewayNamespace}/${short}`;
		}

		return name.startsWith('./') ? `${namespace}/${name.slice(2)}` : name;
	};
	return { ...virtualService, spec: { ...virtualService.spec, hosts: virtualService.spec.hosts.map(host), ...(virtualService.spec.gateways ? { gateways: virtualService.spec.gateways.map(gateway) } : {}) } };
}

/**
 * push_context.go VirtualServicesForGateway: private to the proxy's namespace, exported to it, then public ones
 * (Gateway API routes of the proxy's namespace first). exportTo absent is public (defaultVirtualServiceExportTo `*`).
 */
function virtualServicesForGateway(virtualServices: readonly VirtualServiceResource[], proxyNamespace: string, gatewayName: string): VirtualServiceResource[] {
	const privateOnes: VirtualServiceResource[] = [];
	const exported: VirtualServiceResource[] = [];
	const publicOnes: VirtualServiceResource[] = [];
	for (const virtualService of byCreation(virtualServices)) {
		const gateways = virtualService.spec.gateways && virtualService.spec.gateways.length > 0 ? virtualService.spec.gateways : ['mesh'];
		if (!gateways.includes(gatewayName)) {
			continue;
		}

		const exportTo = virtualService.spec.exportTo ?? [];
		if (exportTo.length === 0 || exportTo.includes('*')) {
			publicOnes.push(virtualService);
		} else if (!exportTo.includes('~')) {
			if ((exportTo.includes('.') || exportTo.includes(virtualService.namespace)) && virtualService.namespace === proxyNamespace) {
				privateOnes.push(virtualService);
			} else if (exportTo.includes(proxyNamespace)) {
				exported.push(virtualService);
			}
		}
	}

	const gatewaySemantics = (virtualService: VirtualServiceResource): boolean => virtualService.annotations['internal.istio.io/route-semantics'] === 'gateway'
		&& virtualService.namespace === proxyNamespace;
	return [...privateOnes, ...exported, ...publicOnes.filter(gatewaySemantics), ...publicOnes.filter(virtualService => !gatewaySemantics(virtualService))];
}

type VirtualHostDraft = {
	name: string;
	domains: string[];
	port: number;
	virtualServices: VirtualServiceResource[];
	/** Each (gateway, VirtualService) whose routes the host carries, in order: istiod caches routes per pair. */
	bindings: Array<{ virtualService: VirtualServiceResource; gatewayName: string }>;
	requireTls: boolean;
};

/** host.MoreSpecific: wildcards last; longer first; then alphabetical. */
function moreSpecificFirst(a: string, b: string): number {
	if (wildcard(a) !== wildcard(b)) {
		return wildcard(a) ? 1 : -1;
	}

	return a.length === b.length ? (a < b ? -1 : (a > b ? 1 : 0)) : b.length - a.length;
}

/**
 * core/gateway.go buildGatewayHTTPRouteConfig: server hosts ∩ VirtualService hosts → one virtual host per host;
 * hosts with the very same routes collapsed into one (collapseDuplicateRoutes, PILOT_ENABLE_ROUTE_COLLAPSE_OPTIMIZATION
 * on by default); sorted by name; none: the `blackhole:<port>` host that answers 404.
 */
function routeConfig(name: string, servers: readonly BoundServer[], virtualServices: readonly VirtualServiceResource[], proxyNamespace: string): GatewayRouteConfig {
	const virtualHosts = new Map<string, VirtualHostDraft>();
	for (const bound of servers) {
		const port = bound.server.port.number;
		const redirect = bound.server.tls?.httpsRedirect === true;
		for (const virtualService of virtualServicesForGateway(virtualServices, proxyNamespace, bound.gatewayName)) {
			// host.NamesForNamespace: a server host `ns/h` applies to VirtualServices of namespace ns only.
			const serverHosts = bound.server.hosts.flatMap(host => {
				if (!host.includes('/')) {
					return [host];
				}

				const [namespace, hostname] = host.split('/', 2) as [string, string];
				return namespace === virtualService.namespace || namespace === '*' ? [hostname] : [];
			});
			const binding = { virtualService, gatewayName: bound.gatewayName };
			for (const host of hostIntersection(serverHosts, virtualService.spec.hosts)) {
				const hostname = host.toLowerCase();
				const existing = virtualHosts.get(hostname);
				if (existing) {
					if (!existing.virtualServices.includes(virtualService)) {
						existing.virtualServices.push(virtualService);
					}

					existing.bindings.push(binding);
					existing.requireTls ||= redirect;
				} else {
					virtualHosts.set(hostname, { name: `${hostname}:${port}`, domains: [hostname], port, virtualServices: [virtualService], bindings: [binding], requireTls: redirect });
				}
			}
		}

		// An https-redirect server's hosts get a virtual host even without any VirtualService.
		if (redirect) {
			for (const host of bound.server.hosts) {
				const hostname = host.toLowerCase();
				const existing = virtualHosts.get(hostname);
				if (existing) {
					existing.requireTls = true;
				} else {
					virtualHosts.set(hostname, { name: `${hostname}:${port}`, domains: [hostname], port, virtualServices: [], bindings: [], requireTls: true });
				}
			}
		}
	}

	if (virtualHosts.size === 0) {
		const port = servers[0]?.server.port.number ?? 0;
		return { name, virtualHosts: [{ name: `blackhole:${port}`, domains: ['*'], port, virtualServices: [], bindings: [], requireTls: false }] };
	}

	const collapsed: VirtualHostDraft[] = [];
	for (const hostname of [...virtualHosts.keys()].sort(moreSpecificFirst)) {
		const draft = virtualHosts.get(hostname)!;
		const same = collapsed.find(other => other.requireTls === draft.requireTls && other.bindings.length === draft.bindings.length
			&& other.bindings.every((binding, index) => binding.virtualService === draft.bindings[index]?.virtualService && binding.gatewayName === draft.bindings[index]?.gatewayName));
		if (same) {
			same.domains.push(...draft.domains);
		} else {
			collapsed.push(draft);
		}
	}

	return {
		name,
		virtualHosts: collapsed.sort((a, b) => (a.name < b.name ? -1 : (a.name > b.name ? 1 : 0)))
			.map(({ name: hostName, domains, port, virtualServices: bound, bindings, requireTls }) => ({ name: hostName, domains, port, virtualServices: bound, bindings, requireTls })),
	};
}
