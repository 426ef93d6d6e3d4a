/**
 * Istio's TLS: the transport sockets istiod puts on a mesh proxy's listeners and clusters, and the SDS secrets
 * istio-agent serves for them. Each function follows the istio/istio 1.29.6 file named on it; the field values
 * are istiod's defaults (no meshConfig.meshMTLS / tlsDefaults, metadata exchange on, no FIPS compliance policy).
 */
import type { ProxySecretModel } from '../../config/model.ts';
import { MeshboxError } from '../../errors.ts';
import type { JsonObject } from '../../util/json.ts';
import { typeUrls } from '../../envoy-api/type-urls.ts';
// pkg/model/authentication.go SDSClusterName: the bootstrap's static cluster to istio-agent's SDS server, named
// where the renderer writes that cluster.
import { sdsClusterName } from '../../envoy/bootstrap.ts';

/**
 * SDS resource names istio-agent serves (pkg/model/authentication.go SDSDefaultResourceName, SDSRootResourceName).
 * Here rather than in ./ca.ts so that rendering a proxy does not load the certificate library.
 */
export const workloadSecretName = 'default';
export const rootSecretName = 'ROOTCA';

/** pilot/pkg/networking/util/util.go: what a sidecar's upstream mTLS offers (metadata exchange on: ALPNInMeshWithMxc). */
export const alpnInMeshWithMxc = ['istio-peer-exchange', 'istio'] as const;
/** ALPNInMeshH2WithMxc: the same to an HTTP/2 cluster. */
export const alpnInMeshH2WithMxc = ['istio-peer-exchange', 'istio', 'h2'] as const;
/** ALPNHttp: what an inbound HTTP chain's (and a gateway's) TLS context negotiates. */
export const alpnHttp = ['h2', 'http/1.1'] as const;
/**
 * pilot/pkg/networking/core/listener.go allIstioMtlsALPNs: what a PERMISSIVE inbound HTTP chain matches to tell
 * a sidecar's mTLS from other TLS. istiod's outbound HTTP listener adds `istio-http/1.1` etc. (istio_alpn filter).
 */
export const allIstioMtlsAlpns = ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2'] as const;

/** pilot/pkg/security/authn/utils/utils.go SupportedCiphers: the inbound mTLS cipher suites. */
const supportedCiphers = [
	'ECDHE-ECDSA-AES256-GCM-SHA384',
	'ECDHE-RSA-AES256-GCM-SHA384',
	'ECDHE-ECDSA-AES128-GCM-SHA256',
	'ECDHE-RSA-AES128-GCM-SHA256',
	'AES256-GCM-SHA384',
	'AES128-GCM-SHA256',
] as const;

/** pilot/pkg/xds/filters/filters.go RawBufferTransportSocket. */
export const rawBufferTransportSocket: JsonObject = { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': typeUrls.rawBuffer } };

/** pilot/pkg/xds/filters/filters.go TLSInspector (512-byte first read: istiod's, Envoy's default is 64 KiB). */
export const tlsInspectorFilter: JsonObject = {
	name: 'envoy.filters.listener.tls_inspector',
	typed_config: { '@type': typeUrls.tlsInspector, initial_read_buffer_size: 512 },
};

/**
 * An SdsSecretConfig for a secret istio-agent serves over `sds-grpc` (pkg/model/authentication.go
 * ConstructSdsSecretConfig): `default` and `ROOTCA` carry `initial_fetch_timeout: 0s` (the listener or cluster
 * waits for them); other names (file-mounted certificates) do not.
 */
export function sdsSecretConfig(name: string): JsonObject {
	const waitsForIt = name === workloadSecretName || name === rootSecretName;
	return {
		name,
		sds_config: {
			api_config_source: {
				api_type: 'GRPC',
				grpc_services: [{ envoy_grpc: { cluster_name: sdsClusterName } }],
				set_node_on_first_message_only: true,
				transport_api_version: 'V3',
			},
			...(waitsForIt ? { initial_fetch_timeout: '0s' } : {}),
			resource_api_version: 'V3',
		},
	};
}

/**
 * A gateway credential istiod itself serves over ADS (pilot/pkg/security/model/authentication.go
 * ConstructSdsSecretConfigForCredential with SDSAdsConfig; pilot/pkg/model/credentials/resource.go ToResourceName):
 * `kubernetes://<credentialName>`, without `initial_fetch_timeout` so a missing Secret does not hold the listener.
 */
export function credentialSecretConfig(credentialName: string): JsonObject {
	return { name: credentialResourceName(credentialName), sds_config: { ads: {}, resource_api_version: 'V3' } };
}

/** `kubernetes://<name>` (a name with a scheme already is kept: credentials.ToResourceName). */
export function credentialResourceName(credentialName: string): string {
	if (credentialName.length === 0) {
		throw new MeshboxError('CONFIG_INVALID', 'a Gateway TLS server has an empty credentialName', 'name the Kubernetes Secret holding the certificate (tls.credentialName)');
	}

	return credentialName.includes('://') ? credentialName : `kubernetes://${credentialName}`;
}

/** pilot/pkg/model/credentials/resource.go SdsCaSuffix: the CA of a MUTUAL credential. */
export const credentialCaSuffix = '-cacert';

/**
 * The CommonTlsContext istiod gives mesh mTLS (pilot/pkg/security/model/authentication.go ApplyToCommonTLSContext):
 * the workload certificate `default`, and peers validated against `ROOTCA` with an empty default validation
 * context (no SAN match: authorization is RBAC's job on the inbound side).
 */
function meshCommonTlsContext(alpn: readonly string[], tlsParams: JsonObject, matchSans?: readonly string[]): JsonObject {
	return {
		tls_params: tlsParams,
		alpn_protocols: [...alpn],
		tls_certificate_sds_secret_configs: [sdsSecretConfig(workloadSecretName)],
		combined_validation_context: {
			default_validation_context: matchSans && matchSans.length > 0 ? { match_subject_alt_names: matchSans.map(exact => ({ exact })) } : {},
			validation_context_sds_secret_config: sdsSecretConfig(rootSecretName),
		},
	};
}

function tlsTransportSocket(typeUrl: string, context: JsonObject): JsonObject {
	// pilot/pkg/networking/core/listener.go buildDownstreamTLSTransportSocket, cluster_tls.go applyUpstreamTLSSettings.
	return { name: 'envoy.transport_sockets.tls', typed_config: { '@type': typeUrl, ...context } };
}

/**
 * A sidecar's inbound mTLS for an HTTP chain (pilot/pkg/security/authn/utils/utils.go BuildInboundTLS, protocol
 * HTTP): client certificates required and validated against ROOTCA, ALPN h2/http1.1 (never `istio`, which would
 * interfere with HTTP/2 negotiation), TLS 1.2–1.3 with istiod's cipher suites.
 */
export function inboundMtlsTransportSocket(): JsonObject {
	return tlsTransportSocket(typeUrls.downstreamTlsContext, {
		common_tls_context: meshCommonTlsContext(alpnHttp, {
			cipher_suites: [...supportedCiphers],
			tls_minimum_protocol_version: 'TLSv1_2',
			tls_maximum_protocol_version: 'TLSv1_3',
		}),
		require_client_certificate: true,
	});
}

export type PeerAuthenticationMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** One inbound filter chain as istiod builds it for an HTTP port: its match, and whether it terminates mTLS. */
export type InboundChainMatch = {
	readonly match: JsonObject;
	/** The chain's transport socket: `inboundMtlsTransportSocket()`, or none (plain text). */
	readonly transportSocket?: JsonObject;
};

/**
 * The inbound filter chains of an HTTP port for a PeerAuthentication mode (pilot/pkg/networking/core/
 * filterchain_options.go getFilterChainMatchOptions, protocol HTTP; listener_inbound.go ToFilterChainMatch):
 * - STRICT: one chain, `transport_protocol: tls`, mTLS;
 * - PERMISSIVE: mTLS for TLS offering one of Istio's ALPNs (a sidecar), then a plain-text (`raw_buffer`) chain;
 * - DISABLE: plain text only.
 * `destinationPort`: istiod matches the workload port (the original destination iptables kept); without iptables
 * a listener of its own per port needs none, so it is left out when not given.
 */
export function inboundFilterChainMatches(mode: PeerAuthenticationMode, destinationPort?: number): InboundChainMatch[] {
	const port: JsonObject = destinationPort === undefined ? {} : { destination_port: destinationPort };
	switch (mode) {
		case 'STRICT':
			return [{ match: { ...port, transport_protocol: 'tls' }, transportSocket: inboundMtlsTransportSocket() }];
		case 'PERMISSIVE':
			return [
				{ match: { ...port, transport_protocol: 'tls', application_protocols: [...allIstioMtlsAlpns] }, transportSocket: inboundMtlsTransportSocket() },
				{ match: { ...port, transport_protocol: 'raw_buffer' } },
			];
		case 'DISABLE':
			return [{ match: { ...port, transport_protocol: 'raw_buffer' } }];
		default:
			throw new MeshboxError('CONFIG_INVALID', `unknown PeerAuthentication mode "${String(mode)}"`, 'use STRICT, PERMISSIVE or DISABLE');
	}
}

/**
 * The listener filters istiod derives from the chains (listener_inbound.go populateListenerFilters): the TLS
 * inspector once any chain matches `transport_protocol: tls` (it is what sets the transport protocol and the
 * ALPN the matches read). istiod's virtualInbound also carries passthrough chains, so with mTLS on the inspector
 * runs for every port, and ports whose chains need none are listed in its `filter_disabled`
 * (buildTLSInspector); meshbox runs it on every port: on a plain-text connection it only finds `raw_buffer`.
 * The HTTP inspector is only for chains matching plain-text ALPNs (`http/1.1`, `h2c`), which istiod's chains
 * of a declared HTTP port do not; nor do these.
 */
export function inboundListenerFilters(chains: readonly { readonly match?: JsonObject }[]): JsonObject[] {
	return chains.some(chain => chain.match?.transport_protocol === 'tls') ? [tlsInspectorFilter] : [];
}

/**
 * A sidecar's or gateway's upstream ISTIO_MUTUAL (pilot/pkg/networking/core/cluster_tls.go
 * buildUpstreamClusterTLSContext): the workload certificate, the peer validated against ROOTCA and its SAN
 * exactly one of `subjectAltNames` (the destination's SPIFFE ids), SNI the cluster name by default
 * (`outbound_.<port>_.<subset>_.<host>`: istiod's `BuildDNSSrvSubsetKey`), ALPN `istio-peer-exchange`, `istio`
 * (+ `h2` for an HTTP/2 cluster), TLS 1.2–1.3 (defaultUpstreamCommonTLSContext).
 */
export function outboundMtlsTransportSocket({ sni, subjectAltNames, http2 = false }: { sni: string; subjectAltNames: readonly string[]; http2?: boolean }): JsonObject {
	return tlsTransportSocket(typeUrls.upstreamTlsContext, {
		common_tls_context: meshCommonTlsContext(http2 ? alpnInMeshH2WithMxc : alpnInMeshWithMxc, {
			tls_minimum_protocol_version: 'TLSv1_2',
			tls_maximum_protocol_version: 'TLSv1_3',
		}, subjectAltNames),
		sni,
	});
}

/** The SNI istiod sets on an ISTIO_MUTUAL cluster (pilot/pkg/model/service.go BuildDNSSrvSubsetKey). */
export function istioMutualSni({ port, subset = '', host }: { port: number; subset?: string; host: string }): string {
	return `outbound_.${port}_.${subset}_.${host}`;
}

/** The LbEndpoint metadata of an endpoint with a sidecar (pilot/pkg/networking/util/util.go AppendLbEndpointMetadata). */
export const istioTlsModeEndpointMetadata: JsonObject = { filter_metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } };

/**
 * Auto mTLS (cluster_tls.go applyUpstreamTLSSettings, `istioAutodetectedMtls`): the cluster has no
 * `transport_socket` but these matches: endpoints whose metadata says `tlsMode: istio`
 * (`istioTlsModeEndpointMetadata`) get mTLS, every other endpoint plain text (defaultTransportSocketMatch).
 */
export function autoMtlsTransportSocketMatches(mtls: JsonObject): JsonObject[] {
	return [
		{ name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transport_socket: mtls },
		{ name: 'tlsMode-disabled', match: {}, transport_socket: rawBufferTransportSocket },
	];
}

/**
 * An Istio Gateway HTTPS server's transport socket (pilot/pkg/networking/core/listener.go BuildListenerTLSContext,
 * pilot/pkg/security/model/authentication.go ApplyCredentialSDSToServerCommonTLSContext): the certificate
 * `kubernetes://<credentialName>` from istiod over ADS, ALPN h2/http1.1; MUTUAL also requires a client
 * certificate validated against `kubernetes://<credentialName>-cacert`.
 */
export function gatewayTransportSocket(credentialName: string, mode: 'SIMPLE' | 'MUTUAL'): JsonObject {
	const common: JsonObject = {
		alpn_protocols: [...alpnHttp],
		tls_certificate_sds_secret_configs: [credentialSecretConfig(credentialName)],
		...(mode === 'MUTUAL' ? {
			combined_validation_context: {
				default_validation_context: {},
				validation_context_sds_secret_config: credentialSecretConfig(`${credentialName}${credentialCaSuffix}`),
			},
		} : {}),
	};
	return tlsTransportSocket(typeUrls.downstreamTlsContext, { common_tls_context: common, require_client_certificate: mode === 'MUTUAL' });
}

/**
 * A ProxySecretModel as Envoy's Secret resource, as istio-agent serves it (security/pkg/nodeagent/sds/
 * sdsservice.go toEnvoySecret): a certificate and key as `tls_certificate`, a CA as `validation_context.trusted_ca`,
 * the PEM text inline (`inline_bytes`: base64 in proto3 JSON). istiod serves gateway credentials the same way.
 */
export function envoySecret(secret: ProxySecretModel): JsonObject {
	const inline = (pem: string): JsonObject => ({ inline_bytes: Buffer.from(pem, 'utf8').toString('base64') });
	if (secret.certificateChain !== undefined && secret.privateKey !== undefined) {
		return { name: secret.name, tls_certificate: { certificate_chain: inline(secret.certificateChain), private_key: inline(secret.privateKey) } };
	}

	if (secret.trustedCa !== undefined) {
		return { name: secret.name, validation_context: { trusted_ca: inline(secret.trustedCa) } };
	}

	throw new MeshboxError('CONFIG_INVALID', `secret "${secret.name}" has neither a certificate chain with its private key nor a trusted CA`, 'give certificateChain and privateKey, or trustedCa (PEM)');
}
