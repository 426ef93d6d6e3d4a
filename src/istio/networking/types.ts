/**
 * networking.istio.io (v1) and gateway.networking.k8s.io (v1) specs as meshbox reads them: field names as in
 * the YAML (istio/api networking/v1alpha3/*.proto, sigs.k8s.io/gateway-api apis/v1), after validation.
 * Optional fields stay optional when Istio treats "absent" differently from a default.
 */

export type StringMatch = { readonly exact?: string; readonly prefix?: string; readonly regex?: string };

export type PortSelector = { readonly number?: number };

export type Destination = { readonly host: string; readonly subset?: string; readonly port?: PortSelector };

export type HeaderOperations = {
	readonly set?: Readonly<Record<string, string>>;
	readonly add?: Readonly<Record<string, string>>;
	readonly remove?: readonly string[];
};

export type Headers = { readonly request?: HeaderOperations; readonly response?: HeaderOperations };

export type HttpMatchRequest = {
	readonly name?: string;
	readonly uri?: StringMatch;
	readonly scheme?: StringMatch;
	readonly method?: StringMatch;
	readonly authority?: StringMatch;
	readonly headers?: Readonly<Record<string, StringMatch>>;
	readonly port?: number;
	readonly sourceLabels?: Readonly<Record<string, string>>;
	readonly gateways?: readonly string[];
	readonly queryParams?: Readonly<Record<string, StringMatch>>;
	readonly ignoreUriCase?: boolean;
	readonly withoutHeaders?: Readonly<Record<string, StringMatch>>;
	readonly sourceNamespace?: string;
};

export type HttpRouteDestination = { readonly destination: Destination; readonly weight?: number; readonly headers?: Headers };

export type HttpRedirect = {
	readonly uri?: string;
	readonly authority?: string;
	readonly port?: number;
	readonly derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
	readonly scheme?: string;
	readonly redirectCode?: number;
};

export type HttpDirectResponse = { readonly status: number; readonly body?: { readonly string?: string; readonly bytes?: string } };

export type HttpRewrite = { readonly uri?: string; readonly authority?: string; readonly uriRegexRewrite?: { readonly match: string; readonly rewrite: string } };

export type HttpRetry = { readonly attempts: number; readonly perTryTimeout?: string; readonly retryOn?: string; readonly retryRemoteLocalities?: boolean };

export type HttpFaultInjection = {
	readonly delay?: { readonly fixedDelay?: string; readonly percentage?: { readonly value: number } };
	readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: string; readonly percentage?: { readonly value: number } };
};

export type HttpRoute = {
	readonly name?: string;
	readonly match?: readonly HttpMatchRequest[];
	readonly route?: readonly HttpRouteDestination[];
	readonly redirect?: HttpRedirect;
	readonly directResponse?: HttpDirectResponse;
	readonly rewrite?: HttpRewrite;
	readonly timeout?: string;
	readonly retries?: HttpRetry;
	readonly fault?: HttpFaultInjection;
	readonly headers?: Headers;
	readonly mirror?: Destination;
	readonly corsPolicy?: Readonly<Record<string, unknown>>;
};

export type VirtualServiceSpec = {
	readonly hosts: readonly string[];
	/** Absent or empty: `mesh` only. */
	readonly gateways?: readonly string[];
	readonly http?: readonly HttpRoute[];
	readonly exportTo?: readonly string[];
};

export type ServerTls = {
	readonly mode?: 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';
	readonly credentialName?: string;
	readonly serverCertificate?: string;
	readonly privateKey?: string;
	readonly caCertificates?: string;
	readonly httpsRedirect?: boolean;
};

export type GatewayServer = {
	readonly port: { readonly number: number; readonly protocol: string; readonly name: string; readonly targetPort?: number };
	readonly hosts: readonly string[];
	readonly tls?: ServerTls;
	readonly name?: string;
	readonly bind?: string;
};

export type GatewaySpec = {
	readonly selector: Readonly<Record<string, string>>;
	readonly servers: readonly GatewayServer[];
};

export type ClientTls = {
	readonly mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
	readonly sni?: string;
	readonly subjectAltNames?: readonly string[];
	readonly credentialName?: string;
	readonly insecureSkipVerify?: boolean;
};

export type TrafficPolicy = {
	readonly tls?: ClientTls;
	readonly loadBalancer?: Readonly<Record<string, unknown>>;
	readonly connectionPool?: Readonly<Record<string, unknown>>;
	readonly outlierDetection?: Readonly<Record<string, unknown>>;
	readonly portLevelSettings?: ReadonlyArray<{ readonly port?: PortSelector; readonly tls?: ClientTls } & Readonly<Record<string, unknown>>>;
};

export type Subset = { readonly name: string; readonly labels?: Readonly<Record<string, string>>; readonly trafficPolicy?: TrafficPolicy };

export type DestinationRuleSpec = {
	readonly host: string;
	readonly trafficPolicy?: TrafficPolicy;
	readonly subsets?: readonly Subset[];
	readonly exportTo?: readonly string[];
	readonly workloadSelector?: { readonly matchLabels?: Readonly<Record<string, string>> };
};

export type ServicePort = { readonly number: number; readonly protocol?: string; readonly name: string; readonly targetPort?: number };

export type WorkloadEntrySpec = {
	readonly address?: string;
	readonly ports?: Readonly<Record<string, number>>;
	readonly labels?: Readonly<Record<string, string>>;
	readonly serviceAccount?: string;
};

export type ServiceEntrySpec = {
	readonly hosts: readonly string[];
	readonly addresses?: readonly string[];
	readonly ports?: readonly ServicePort[];
	readonly location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
	readonly resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';
	readonly endpoints?: readonly WorkloadEntrySpec[];
	readonly exportTo?: readonly string[];
};

// --- gateway.networking.k8s.io/v1 ---

export type ParentReference = { readonly group?: string; readonly kind?: string; readonly namespace?: string; readonly name: string; readonly sectionName?: string; readonly port?: number };

export type KubeGatewayListener = {
	readonly name: string;
	readonly hostname?: string;
	readonly port: number;
	readonly protocol: string;
	readonly tls?: { readonly mode?: 'Terminate' | 'Passthrough'; readonly certificateRefs?: ReadonlyArray<{ readonly name: string; readonly namespace?: string; readonly kind?: string; readonly group?: string }> };
	readonly allowedRoutes?: { readonly namespaces?: { readonly from?: 'All' | 'Same' | 'Selector'; readonly selector?: unknown } };
};

export type KubeGatewaySpec = {
	readonly gatewayClassName: string;
	readonly listeners: readonly KubeGatewayListener[];
	readonly addresses?: ReadonlyArray<{ readonly type?: string; readonly value: string }>;
};

export type HttpRouteMatch = {
	readonly path?: { readonly type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; readonly value?: string };
	readonly headers?: ReadonlyArray<{ readonly type?: 'Exact' | 'RegularExpression'; readonly name: string; readonly value: string }>;
	readonly queryParams?: ReadonlyArray<{ readonly type?: 'Exact' | 'RegularExpression'; readonly name: string; readonly value: string }>;
	readonly method?: string;
};

export type HttpRouteFilter = { readonly type: string } & Readonly<Record<string, unknown>>;

export type HttpBackendRef = { readonly group?: string; readonly kind?: string; readonly name: string; readonly namespace?: string; readonly port?: number; readonly weight?: number; readonly filters?: readonly HttpRouteFilter[] };

export type HttpRouteRule = {
	readonly name?: string;
	readonly matches?: readonly HttpRouteMatch[];
	readonly filters?: readonly HttpRouteFilter[];
	readonly backendRefs?: readonly HttpBackendRef[];
	readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
};

export type HttpRouteSpec = {
	readonly parentRefs?: readonly ParentReference[];
	readonly hostnames?: readonly string[];
	readonly rules?: readonly HttpRouteRule[];
};
