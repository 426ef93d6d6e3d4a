/**
 * Hostnames as istiod resolves them: a VirtualService's or DestinationRule's host, a route destination, a
 * Service's virtual host domains for a sidecar in some namespace.
 *
 * Sources: pilot/pkg/model/config.go ResolveShortnameToFQDN (a name without a dot gets `.<namespace>.svc.cluster.local`;
 * a name with a dot is taken as written), pkg/config/host/name.go (wildcard matching),
 * pilot/pkg/networking/core/httproute.go generateVirtualHostDomains and generateAltVirtualHostsForKubernetesService
 * (the Host headers a client in the cluster may send), pilot/pkg/model/destination_rule.go / sidecar.go (which
 * DestinationRule applies: the proxy's namespace, then the service's, then the root namespace).
 */
import type { DestinationRuleResource, VirtualServiceResource } from '../config-resources.ts';
import type { MeshService } from '../mesh/model.ts';
import type { VersionTraits } from '../version.ts';
import { hostMatches, isIpAddress } from './validate.ts';

/** The cluster's DNS domain (istiod's `--domain`, the trust domain's twin). */
export const clusterDomain = 'cluster.local';
/** istiod's root namespace: mesh-wide DestinationRules live there. */
export const rootNamespace = 'istio-system';

export type HostResolution = {
	/** As istiod keys it: `reviews.default.svc.cluster.local`, or the name as written when it has a dot. */
	readonly host: string;
	/** The Service (or ServiceEntry host) of that name, when the mesh has one. */
	readonly service?: MeshService;
	/** What a user should know: a dotted short name istiod does not expand, an unknown host. */
	readonly note?: string;
};

/** pilot/pkg/model/config.go ResolveShortnameToFQDN. */
export function resolveShortname(name: string, namespace: string): string {
	if (name === '*' || name === '' || isIpAddress(name) || name.includes('.')) {
		return name;
	}

	return `${name}.${namespace}.svc.${clusterDomain}`;
}

/**
 * `reviews` (in the resource's namespace), `reviews.default.svc.cluster.local`: the Service; `reviews.default`
 * is taken as a fully qualified name by istiod and matches no Service (a client's DNS would resolve it, but
 * routing and clusters are keyed by the FQDN), which the note says with the name to write instead.
 */
export function hostResolution(name: string, namespace: string, services: readonly MeshService[]): HostResolution {
	const host = resolveShortname(name.toLowerCase(), namespace);
	const service = services.find(candidate => candidate.hostname.toLowerCase() === host);
	if (service) {
		return { host, service };
	}

	const expanded = services.find(candidate => candidate.hostname.toLowerCase() === `${host}.svc.${clusterDomain}`);
	if (expanded) {
		return {
			host,
			note: `istiod: host "${name}" is taken as a fully qualified name (pilot/pkg/model/config.go ResolveShortnameToFQDN expands only names without a dot), so it matches no Service; write "${expanded.hostname}" (or "${expanded.name}" from namespace ${expanded.namespace})`,
		};
	}

	return host.includes('*') ? { host } : { host, note: `istiod: host "${host}" is not a Service or ServiceEntry host of this mesh` };
}

/** Whether an istiod minor release is at least `minor` (1.27 → 27). */
export function minorAtLeast(traits: VersionTraits, minor: number): boolean {
	return Number(traits.version.split('.')[1]) >= minor;
}

/**
 * The virtual host domains istiod builds for a Service seen from a sidecar in `proxyNamespace`
 * (generateVirtualHostDomains with IgnorePortInHostMatching: no `:port` variants). From 1.27 the absolute FQDN
 * (trailing dot) is one of them (PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN, istio/istio#56008).
 */
export function serviceDomains(service: MeshService, proxyNamespace: string, traits: VersionTraits): string[] {
	const hostname = service.hostname.toLowerCase();
	const domains = [hostname];
	if (minorAtLeast(traits, 27) && !isIpAddress(hostname)) {
		domains.push(`${hostname}.`);
	}

	const svc = hostname.indexOf('.svc.');
	if (svc > 0 && hostname.endsWith(`.svc.${clusterDomain}`)) {
		const dot = hostname.indexOf('.');
		const namespace = hostname.slice(dot + 1, svc);
		const short = hostname.slice(0, svc);
		domains.push(...(namespace === proxyNamespace ? [hostname.slice(0, dot), `${short}.svc`, short] : [short, `${short}.svc`]));
	}

	return domains;
}

/** Whether a resource's `exportTo` lets a proxy in `namespace` see it (default: every namespace). */
export function visibleTo(resource: { readonly namespace: string; readonly spec: { readonly exportTo?: readonly string[] } }, namespace: string): boolean {
	const exportTo = resource.spec.exportTo ?? [];
	return exportTo.length === 0 || exportTo.some(entry => entry === '*' || entry === namespace || (entry === '.' && resource.namespace === namespace));
}

/**
 * The VirtualServices a proxy uses for a host: bound to `gateway` (`mesh` for sidecars), visible to the proxy's
 * namespace, in creation (file) order. istiod does not merge two VirtualServices for one host (outside delegates):
 * the first one wins (pilot/pkg/model/push_context.go sortConfigByCreationTime + virtualservice.go).
 */
export function virtualServicesFor(virtualServices: readonly VirtualServiceResource[], gateway: string, proxyNamespace: string): VirtualServiceResource[] {
	return virtualServices.filter(resource => {
		const gateways = resource.spec.gateways ?? [];
		const bound = gateway === 'mesh'
			? gateways.length === 0 || gateways.includes('mesh')
			: gateways.some(name => gatewayReference(name, resource.namespace) === gateway);
		return bound && resource.spec.hosts.length > 0 && visibleTo(resource, proxyNamespace);
	});
}

/** A VirtualService's `gateways` entry as `<namespace>/<name>` (short names are in the VirtualService's namespace). */
export function gatewayReference(name: string, namespace: string): string {
	if (name === 'mesh') {
		return name;
	}

	if (name.includes('/')) {
		return name;
	}

	// The legacy `<name>.<namespace>[.svc.cluster.local]` form (validateGatewayNames warns about it).
	const parts = name.split('.');
	return parts.length >= 2 ? `${parts[1]}/${parts[0]}` : `${namespace}/${name}`;
}

/**
 * The DestinationRule for a Service as istiod picks it for a proxy: visible ones for the host (exact before the most
 * specific wildcard), preferring the proxy's namespace, then the Service's namespace, then the root namespace
 * (pilot/pkg/model/push_context.go destinationRule / getDestinationRulesForHost).
 */
export function destinationRuleFor(service: MeshService, destinationRules: readonly DestinationRuleResource[], proxyNamespace: string): DestinationRuleResource | undefined {
	const hostname = service.hostname.toLowerCase();
	const candidates = destinationRules.filter(rule => rule.spec.workloadSelector === undefined && visibleTo(rule, proxyNamespace)
		&& hostMatches(resolveShortname(rule.spec.host.toLowerCase(), rule.namespace), hostname));
	const specificity = (rule: DestinationRuleResource): number => {
		const host = resolveShortname(rule.spec.host.toLowerCase(), rule.namespace);
		return host === hostname ? Number.MAX_SAFE_INTEGER : host.length;
	};

	for (const namespace of [proxyNamespace, service.namespace, rootNamespace]) {
		const inNamespace = candidates.filter(rule => rule.namespace === namespace);
		if (inNamespace.length > 0) {
			return inNamespace.reduce((best, rule) => specificity(rule) > specificity(best) ? rule : best);
		}
	}

	return undefined;
}
