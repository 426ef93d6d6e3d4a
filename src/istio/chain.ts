/**
 * The sidecar's HTTP filter chains as istiod builds them (pilot/pkg/networking/core/listener_builder.go), with
 * the WasmPlugin phases between Istio's own filters.
 */
import type { SidecarFilter } from '../config/model.ts';
import { typeUrls } from '../envoy/type-urls.ts';
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

/**
 * pilot/pkg/networking/core/listener_builder.go (+ listener_inbound.go): the inbound HTTP chain, with the
 * WasmPlugin phases between Istio's filters. Istio's own filters that upstream Envoy lacks (metadata exchange,
 * istio.stats) and those present only with policies meshbox does not model (CUSTOM ext_authz, jwt_authn for
 * RequestAuthentication, rbac for AuthorizationPolicy) are placeholders: `meshbox render` shows where they
 * are, Envoy does not get them.
 */
export function inboundHttpChain(inPhase: (chain: 'http', phase: Phase) => SidecarFilter[]): SidecarFilter[] {
	return [
		placeholder('istio.metadata_exchange', 'Istio peer metadata exchange (istio/proxy peer_metadata); not in upstream Envoy'),
		placeholder('envoy.filters.http.ext_authz', 'only with a CUSTOM AuthorizationPolicy (with a shadow envoy.filters.http.rbac before it)'),
		...inPhase('http', 'AUTHN'),
		placeholder('envoy.filters.http.jwt_authn', 'only with a RequestAuthentication'),
		...inPhase('http', 'AUTHZ'),
		placeholder('envoy.filters.http.rbac', 'only with AuthorizationPolicies (one per action: AUDIT, DENY, ALLOW)'),
		...inPhase('http', 'STATS'),
		...inPhase('http', 'UNSPECIFIED_PHASE'),
		realFilters.grpcStats,
		realFilters.fault,
		realFilters.cors,
		placeholder('istio.stats', 'Istio telemetry (istio/proxy stats filter); not in upstream Envoy'),
	];
}

/** listener_builder.go: outbound HTTP (CUSTOM, jwt and RBAC are inbound/gateway only, so the phases are adjacent). */
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
