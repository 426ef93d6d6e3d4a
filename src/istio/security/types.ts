/**
 * security.istio.io (v1) specs as meshbox reads them: field names as in the YAML (istio/api
 * security/v1beta1/*.proto, type/v1beta1/selector.proto), after validation.
 */
import type { TargetRef } from '../resources.ts';

export type WorkloadSelector = { readonly matchLabels?: Readonly<Record<string, string>> };

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export type PeerAuthenticationSpec = {
	readonly selector?: WorkloadSelector;
	readonly mtls?: { readonly mode?: MtlsMode };
	readonly portLevelMtls?: Readonly<Record<string, { readonly mode?: MtlsMode }>>;
};

export type JwtHeader = { readonly name: string; readonly prefix?: string };

export type JwtRule = {
	readonly issuer: string;
	readonly audiences?: readonly string[];
	readonly jwksUri?: string;
	readonly jwks?: string;
	readonly fromHeaders?: readonly JwtHeader[];
	readonly fromParams?: readonly string[];
	readonly fromCookies?: readonly string[];
	readonly outputPayloadToHeader?: string;
	readonly forwardOriginalToken?: boolean;
	readonly outputClaimToHeaders?: ReadonlyArray<{ readonly header: string; readonly claim: string }>;
	readonly timeout?: string;
	/** Claims whose space-separated value jwt_authn splits into a list (istio/api 1.25+; istiod adds `scope`, `permission`). */
	readonly spaceDelimitedClaims?: readonly string[];
};

export type RequestAuthenticationSpec = {
	readonly selector?: WorkloadSelector;
	readonly targetRefs?: readonly TargetRef[];
	readonly jwtRules?: readonly JwtRule[];
};

export type AuthorizationSource = {
	readonly principals?: readonly string[];
	readonly notPrincipals?: readonly string[];
	readonly requestPrincipals?: readonly string[];
	readonly notRequestPrincipals?: readonly string[];
	readonly namespaces?: readonly string[];
	readonly notNamespaces?: readonly string[];
	readonly ipBlocks?: readonly string[];
	readonly notIpBlocks?: readonly string[];
	readonly remoteIpBlocks?: readonly string[];
	readonly notRemoteIpBlocks?: readonly string[];
	readonly serviceAccounts?: readonly string[];
	readonly notServiceAccounts?: readonly string[];
};

export type AuthorizationOperation = {
	readonly hosts?: readonly string[];
	readonly notHosts?: readonly string[];
	readonly ports?: readonly string[];
	readonly notPorts?: readonly string[];
	readonly methods?: readonly string[];
	readonly notMethods?: readonly string[];
	readonly paths?: readonly string[];
	readonly notPaths?: readonly string[];
};

export type AuthorizationCondition = { readonly key: string; readonly values?: readonly string[]; readonly notValues?: readonly string[] };

export type AuthorizationRule = {
	readonly from?: ReadonlyArray<{ readonly source: AuthorizationSource }>;
	readonly to?: ReadonlyArray<{ readonly operation: AuthorizationOperation }>;
	readonly when?: readonly AuthorizationCondition[];
};

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export type AuthorizationPolicySpec = {
	readonly selector?: WorkloadSelector;
	readonly targetRefs?: readonly TargetRef[];
	/** Absent: `[]`; a policy without rules: ALLOW matches nothing, DENY nothing. */
	readonly rules?: readonly AuthorizationRule[];
	readonly action: AuthorizationAction;
	readonly provider?: { readonly name: string };
};

/** meshConfig.extensionProviders[] entries meshbox translates (mesh/v1alpha1/config.proto). */
export type ExtAuthzHttpProvider = {
	readonly service: string;
	readonly port: number;
	readonly timeout?: string;
	readonly pathPrefix?: string;
	readonly failOpen?: boolean;
	readonly statusOnError?: string;
	readonly includeRequestHeadersInCheck?: readonly string[];
	readonly includeAdditionalHeadersInCheck?: Readonly<Record<string, string>>;
	readonly headersToUpstreamOnAllow?: readonly string[];
	readonly headersToDownstreamOnDeny?: readonly string[];
	readonly headersToDownstreamOnAllow?: readonly string[];
	readonly includeRequestBodyInCheck?: { readonly maxRequestBytes?: number; readonly allowPartialMessage?: boolean; readonly packAsBytes?: boolean };
};

export type ExtAuthzGrpcProvider = {
	readonly service: string;
	readonly port: number;
	readonly timeout?: string;
	readonly failOpen?: boolean;
	readonly statusOnError?: string;
	readonly includeRequestBodyInCheck?: ExtAuthzHttpProvider['includeRequestBodyInCheck'];
};

export type ExtensionProvider =
	| { readonly name: string; readonly envoyExtAuthzHttp: ExtAuthzHttpProvider }
	| { readonly name: string; readonly envoyExtAuthzGrpc: ExtAuthzGrpcProvider }
	/** Other provider kinds (tracing, logging): kept by name only; an AuthorizationPolicy cannot use them. */
	| { readonly name: string; readonly other: string };

/** The part of MeshConfig the security filters read (`istio.meshConfig`). */
export type MeshConfigSpec = {
	readonly extensionProviders: readonly ExtensionProvider[];
	/** meshConfig.trustDomain. Default `cluster.local`. */
	readonly trustDomain: string;
};
