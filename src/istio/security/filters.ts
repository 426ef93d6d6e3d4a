/**
 * The security filters istiod puts in one proxy's HTTP chain, from the mesh's PeerAuthentication,
 * RequestAuthentication and AuthorizationPolicy resources: what src/istio/chain.ts places around the WasmPlugin
 * phases (CUSTOM ext_authz, then AUTHN plugins, jwt_authn, AUTHZ plugins, RBAC, STATS plugins), for a single
 * sidecar (src/istio/sidecar.ts) and for every proxy of a mesh (src/istio/mesh).
 */
import type { ProxyClusterModel, SidecarFilter } from '../../config/model.ts';
import type { AuthorizationPolicyResource, IstioConfigResource, PeerAuthenticationResource, RequestAuthenticationResource } from '../config-resources.ts';
import type { VersionTraits } from '../version.ts';
import { attachPolicies, type SecurityProxy } from './attach.ts';
import { fetchJwksOverHttp, jwtAuthnFilter, type JwksFetcher } from './authn.ts';
import { authorizationFilters, type ServiceLookup } from './authz.ts';
import { composePeerAuthentication, type EffectiveMtlsMode } from './peer-authentication.ts';
import type { MeshConfigSpec } from './types.ts';

export type { SecurityProxy } from './attach.ts';
export type { ServiceLookup } from './authz.ts';
export type { JwksFetcher } from './authn.ts';
export type { EffectiveMtlsMode } from './peer-authentication.ts';

export type SecurityFiltersInput = {
	readonly proxy: SecurityProxy;
	/** The listener's port (the workload port inbound, the gateway's container port); for notes. */
	readonly port: number;
	/** Every configuration resource of the mesh (or the sandbox's `istio:` files); the security kinds are picked out. */
	readonly resources: readonly IstioConfigResource[];
	readonly meshConfig: MeshConfigSpec;
	readonly traits: VersionTraits;
	readonly rootNamespace: string;
	/** model.LookupCluster for ext_authz providers: the service's hostname, cluster and endpoints, or undefined. */
	readonly lookupService: ServiceLookup;
	/** How istiod fetches a `jwksUri` (default: an HTTP GET from meshbox). */
	readonly fetchJwks?: JwksFetcher;
};

export type SecurityFilters = {
	/** CUSTOM: the shadow RBAC + ext_authz pairs (or a deny RBAC), first in the chain after metadata exchange. */
	readonly extAuthz: SidecarFilter[];
	/** jwt_authn from RequestAuthentication, between the AUTHN and AUTHZ phases. */
	readonly jwtAuthn?: SidecarFilter;
	/** AUDIT, DENY, ALLOW RBAC filters, between the AUTHZ and STATS phases. */
	readonly rbac: SidecarFilter[];
	/** Clusters the filters need (ext_authz providers). */
	readonly clusters: ProxyClusterModel[];
	/** `istiod: …` lines: which policies apply, which not and why, failures istiod would log. */
	readonly notes: string[];
	/** One line per security policy for `meshbox render`'s header: `+` applies, `-` does not (and why). */
	readonly summary: string[];
};

const isKind = <K extends IstioConfigResource['kind']>(kind: K) => (resource: IstioConfigResource): resource is Extract<IstioConfigResource, { kind: K }> => resource.kind === kind;

/** The security filters for one proxy's HTTP listener. */
export async function securityFilters(input: SecurityFiltersInput): Promise<SecurityFilters> {
	const notes: string[] = [];
	const summary: string[] = [];
	const authz = attachPolicies(input.resources.filter(isKind('AuthorizationPolicy')) as AuthorizationPolicyResource[], input.proxy, input.rootNamespace, 'root-first');
	const authn = attachPolicies(input.resources.filter(isKind('RequestAuthentication')) as RequestAuthenticationResource[], input.proxy, input.rootNamespace, 'workload-first');
	for (const outcome of [...authn, ...authz]) {
		const { resource } = outcome;
		const name = `${resource.kind} ${resource.namespace}/${resource.name} (${resource.origin.file}:${resource.origin.line})`;
		notes.push(`istiod: ${name} ${outcome.applied ? 'applies' : 'does not apply'} to ${input.proxy.name}: ${outcome.reason}`);
		const what = resource.kind === 'AuthorizationPolicy' ? `${resource.spec.action}${resource.spec.provider ? ` (provider ${resource.spec.provider.name})` : ''}, ${resource.spec.rules?.length ?? 0} rule(s)`
			: `${resource.kind === 'RequestAuthentication' ? resource.spec.jwtRules?.length ?? 0 : 0} jwtRule(s)`;
		summary.push(`${outcome.applied ? '+' : '-'} ${name}: ${outcome.applied ? what : outcome.reason}`);
	}

	const jwt = await jwtAuthnFilter(authn.filter(outcome => outcome.applied).map(outcome => outcome.resource), {
		traits: input.traits, clearRouteCache: input.proxy.kind === 'gateway', fetchJwks: input.fetchJwks ?? fetchJwksOverHttp,
	});
	const built = authorizationFilters(authz.filter(outcome => outcome.applied).map(outcome => outcome.resource), {
		traits: input.traits, meshConfig: input.meshConfig, lookupService: input.lookupService,
	});
	notes.push(...jwt.notes, ...built.notes);
	if (built.local.length === 0 && built.custom.length === 0 && authz.length > 0) {
		notes.push(`istiod: no AuthorizationPolicy applies to ${input.proxy.name}: every request is allowed`);
	}

	return { extAuthz: built.custom, ...(jwt.filter ? { jwtAuthn: jwt.filter } : {}), rbac: built.local, clusters: built.clusters, notes, summary };
}

/** The PeerAuthentication mode of a workload port (mesh → namespace → workload → port level). */
export function peerAuthenticationMode(input: {
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly port: number;
	readonly resources: readonly IstioConfigResource[];
	readonly rootNamespace: string;
}): EffectiveMtlsMode {
	return composePeerAuthentication({ ...input, resources: input.resources.filter(isKind('PeerAuthentication')) as PeerAuthenticationResource[] });
}

/** meshConfig defaults: no extension providers, trust domain cluster.local. */
export const defaultMeshConfig: MeshConfigSpec = { extensionProviders: [], trustDomain: 'cluster.local' };
