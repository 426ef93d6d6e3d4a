/**
 * The sidecar's HTTP filter chains as istiod builds them (pilot/pkg/networking/core/listener_builder.go), with
 * the WasmPlugin phases between Istio's own filters.
 */
import type { SidecarFilter } from '../config/model.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';
import type { Phase } from './resources.ts';

export function placeholder(name: string, text: string): SidecarFilter {
	return { kind: 'placeholder', name, comment: text };
}

const realFilters = {
	grpcStats: { kind: 'typed', name: 'envoy.filters.http.grpc_stats', comment: 'Istio adds it to every HTTP chain',
		typedConfig: { '@type': typeUrls.grpcStats, emit_filter_state: true, stats_for_all_methods: false } },
	fault: { kind: 'typed', name: 'envoy.filters.http.fault', comment: 'Istio adds it to every HTTP chain (configured by VirtualService fault)',
		typedConfig: { '@type': typeUrls.fault } },
	cors: { kind: 'typed', name: 'envoy.filters.http.cors', comment: 'Istio adds it to every HTTP chain (configured by VirtualService corsPolicy)',
		typedConfig: { '@type': typeUrls.cors } },
} as const satisfies Record<string, SidecarFilter>;

/** The security filters istiod builds for one listener (src/istio/security/filters.ts); empty: none apply. */
export type SecurityChain = {
	/** CUSTOM AuthorizationPolicies: shadow RBAC + ext_authz per provider (or a deny RBAC). */
	readonly extAuthz: readonly SidecarFilter[];
	/** RequestAuthentication's jwt_authn. */
	readonly jwtAuthn?: SidecarFilter;
	/** AUDIT, DENY, ALLOW RBAC filters. */
	readonly rbac: readonly SidecarFilter[];
};

export const noSecurity: SecurityChain = { extAuthz: [], rbac: [] };

/**
 * pilot/pkg/networking/core/listener_builder.go buildHTTPConnectionManager (1.25–1.30 alike): metadata exchange,
 * CUSTOM (authzCustomBuilder), AUTHN phase, jwt_authn (authnBuilder), AUTHZ phase, RBAC (authzBuilder), STATS
 * phase, UNSPECIFIED phase, then grpc_stats, (ALPN outside sidecar inbound), fault, cors, telemetry. istiod adds the
 * security filters only when policies apply, so without them the phases are adjacent. Istio's own filters that
 * upstream Envoy lacks (metadata exchange, istio.alpn, istio.stats) are placeholders: `meshbox render` shows where
 * they are, Envoy does not get them.
 */
function httpChain(inPhase: (chain: 'http', phase: Phase) => SidecarFilter[], security: SecurityChain, mx: SidecarFilter, alpn: boolean): SidecarFilter[] {
	return [
		mx,
		...security.extAuthz,
		...inPhase('http', 'AUTHN'),
		...(security.jwtAuthn ? [security.jwtAuthn] : []),
		...inPhase('http', 'AUTHZ'),
		...security.rbac,
		...inPhase('http', 'STATS'),
		...inPhase('http', 'UNSPECIFIED_PHASE'),
		realFilters.grpcStats,
		...(alpn ? [placeholder('istio.alpn', 'Istio ALPN override (istio/proxy); not in upstream Envoy')] : []),
		realFilters.fault,
		realFilters.cors,
		placeholder('istio.stats', 'Istio telemetry (istio/proxy stats filter); not in upstream Envoy'),
	];
}

/** The sidecar's inbound HTTP chain (listener class SidecarInbound: no ALPN filter). */
export function inboundHttpChain(inPhase: (chain: 'http', phase: Phase) => SidecarFilter[], security: SecurityChain = noSecurity): SidecarFilter[] {
	return httpChain(inPhase, security, placeholder('istio.metadata_exchange', 'Istio peer metadata exchange (istio/proxy peer_metadata); not in upstream Envoy'), false);
}

/** A gateway's (router's) HTTP chain: the outbound metadata exchange and ALPN filters, and the security filters. */
export function gatewayHttpChain(inPhase: (chain: 'http', phase: Phase) => SidecarFilter[], security: SecurityChain = noSecurity): SidecarFilter[] {
	return httpChain(inPhase, security, placeholder('istio.metadata_exchange', 'Istio peer metadata exchange, outbound variant; not in upstream Envoy'), true);
}

/** listener_builder.go: outbound HTTP (authz/authn BuildHTTP return nothing for SidecarOutbound, so the phases are adjacent). */
export function outboundHttpChain(inPhase: (chain: 'http', phase: Phase) => SidecarFilter[]): SidecarFilter[] {
	return [
		placeholder('istio.metadata_exchange', 'Istio peer metadata exchange, outbound variant; not in upstream Envoy'),
		...inPhase('http', 'AUTHN'),
		...inPhase('http', 'AUTHZ'),
		...inPhase('http', 'STATS'),
		...inPhase('http', 'UNSPECIFIED_PHASE'),
		realFilters.grpcStats,
		placeholder('istio.alpn', 'Istio ALPN override (istio/proxy); not in upstream Envoy'),
		realFilters.fault,
		realFilters.cors,
		placeholder('istio.stats', 'Istio telemetry (istio/proxy stats filter); not in upstream Envoy'),
	];
}
