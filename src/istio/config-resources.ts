/**
 * The Istio (and Gateway API) configuration resources a mesh applies besides extensions: networking
 * (Gateway, VirtualService, DestinationRule, ServiceEntry; gateway.networking.k8s.io Gateway and HTTPRoute)
 * and security (PeerAuthentication, RequestAuthentication, AuthorizationPolicy). Each kind's validator lives
 * with its translation (./networking, ./security); this file is the one list of which kinds exist, so that
 * ./parse.ts dispatches without knowing them.
 */
import type { FindingCollector } from './findings.ts';
import type { ResourceOrigin } from './resources.ts';
import type { VersionTraits } from './version.ts';
import type { AuthorizationPolicySpec, PeerAuthenticationSpec, RequestAuthenticationSpec } from './security/types.ts';
import type { DestinationRuleSpec, GatewaySpec, HttpRouteSpec, KubeGatewaySpec, ServiceEntrySpec, VirtualServiceSpec } from './networking/types.ts';

/** A validated resource: Kubernetes metadata plus its spec with Istio's defaults applied. */
export type ConfigResource<Kind extends string, Spec> = {
	readonly kind: Kind;
	/** API group (`networking.istio.io`, `security.istio.io`, `gateway.networking.k8s.io`). */
	readonly group: string;
	readonly name: string;
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly annotations: Readonly<Record<string, string>>;
	/** metadata.creationTimestamp in ms since the epoch; undefined when absent (file order stands in). */
	readonly creationTimestamp: number | undefined;
	readonly origin: ResourceOrigin;
	readonly spec: Spec;
};

export type GatewayResource = ConfigResource<'Gateway', GatewaySpec>;
export type VirtualServiceResource = ConfigResource<'VirtualService', VirtualServiceSpec>;
export type DestinationRuleResource = ConfigResource<'DestinationRule', DestinationRuleSpec>;
export type ServiceEntryResource = ConfigResource<'ServiceEntry', ServiceEntrySpec>;
/** gateway.networking.k8s.io Gateway (its kind is `Gateway` too: told apart by `group`). */
export type KubeGatewayResource = ConfigResource<'KubeGateway', KubeGatewaySpec>;
export type HttpRouteResource = ConfigResource<'HTTPRoute', HttpRouteSpec>;
export type PeerAuthenticationResource = ConfigResource<'PeerAuthentication', PeerAuthenticationSpec>;
export type RequestAuthenticationResource = ConfigResource<'RequestAuthentication', RequestAuthenticationSpec>;
export type AuthorizationPolicyResource = ConfigResource<'AuthorizationPolicy', AuthorizationPolicySpec>;

export type IstioConfigResource = GatewayResource | VirtualServiceResource | DestinationRuleResource | ServiceEntryResource | KubeGatewayResource
| HttpRouteResource | PeerAuthenticationResource | RequestAuthenticationResource | AuthorizationPolicyResource;

export type ConfigValidationContext = {
	readonly collector: FindingCollector;
	readonly origin: ResourceOrigin;
	readonly traits: VersionTraits;
	readonly defaultNamespace: string;
	/** The document's API version (`v1`, `v1beta1`, `v1alpha3`). */
	readonly version: string;
};

/** A kind's validator: the resource, or undefined when it has errors (reported through the collector). */
export type ConfigValidator = (value: Readonly<Record<string, unknown>>, context: ConfigValidationContext) => IstioConfigResource | undefined;

/** `namespace/name` of a resource of one kind: what `kubectl apply` replaces. */
export function configKey(resource: Pick<IstioConfigResource, 'kind' | 'namespace' | 'name'>): string {
	return `${resource.kind}/${resource.namespace}/${resource.name}`;
}
