/**
 * The mesh CA (src/istio/mesh/ca.ts) and Istio's TLS contexts (src/istio/mesh/tls.ts), without Envoy: what a
 * peer checks in the certificates (read back by node:crypto and OpenSSL's verification), and that every TLS
 * context is a message Envoy's API accepts. test/xds/sds.test.ts serves them to a real Envoy.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import test from 'ava';
import { MeshCa, spiffeId, workloadSecrets } from '../../src/istio/mesh/ca.ts';
import {
	autoMtlsTransportSocketMatches,
	envoySecret,
	gatewayTransportSocket,
	inboundFilterChainMatches,
	inboundListenerFilters,
	inboundMtlsTransportSocket,
	istioMutualSni,
	outboundMtlsTransportSocket,
	sdsSecretConfig,
} from '../../src/istio/mesh/tls.ts';
import { MeshboxError } from '../../src/errors.ts';
import { envoySchemas } from '../../src/xds/protobuf.ts';
import { typeUrls } from '../../src/envoy-api/type-urls.ts';
import type { JsonObject } from '../../src/util/json.ts';

test('a workload certificate is what istiod signs for istio-agent: the SPIFFE id as the only (critical) SAN, empty subject, 24 h, signed by the root', async t => {
	const ca = await MeshCa.create({ trustDomain: 'cluster.local' });
	const issued = await ca.issueWorkload({ namespace: 'shop', serviceAccount: 'reviews' });
	const leaf = new X509Certificate(issued.certificateChain);
	const root = new X509Certificate(ca.rootCertificate);

	t.is(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/reviews');
	t.falsy(leaf.subject, 'empty subject');
	t.true(leaf.checkIssued(root) && leaf.verify(root.publicKey), 'signed by the mesh root');
	t.is(root.subject, 'O=cluster.local');
	t.true(root.ca);
	t.false(leaf.ca);
	t.deepEqual(leaf.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'extended key usage serverAuth + clientAuth');
	const lifetimeHours = (Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 3_600_000;
	// 24 h from now, valid since 2 minutes ago (istiod's ClockSkewGracePeriod).
	t.true(lifetimeHours > 24 && lifetimeHours < 24.1, `lifetime ${lifetimeHours} h`);
	t.true(leaf.checkPrivateKey(createPrivateKey(issued.privateKey)), 'the key is the certificate\'s');
	// The SAN extension is critical: the DER of a critical SAN has the BOOLEAN TRUE after its OID (2.5.29.17).
	t.true(Buffer.from(leaf.raw).includes(Buffer.from('0603551d110101ff', 'hex')), 'the SAN extension is marked critical');
});

test('workloadSecrets: `default` (certificate and key) and `ROOTCA` (trust bundle), the same certificate when asked again', async t => {
	const ca = await MeshCa.create();
	const secrets = await workloadSecrets(ca, 'default', 'client');
	t.deepEqual(secrets.map(secret => secret.name), ['default', 'ROOTCA']);
	t.is(secrets[1]!.trustedCa, ca.rootCertificate);
	const again = await workloadSecrets(ca, 'default', 'client');
	t.is(again[0]!.certificateChain, secrets[0]!.certificateChain, 'a mesh resolved again keeps its secrets (nothing new to push)');
	const other = await workloadSecrets(ca, 'default', 'server');
	t.not(other[0]!.certificateChain, secrets[0]!.certificateChain);
	t.is(spiffeId(ca.trustDomain, { namespace: 'default', serviceAccount: 'server' }), 'spiffe://cluster.local/ns/default/sa/server');
});

test.serial('a cached certificate is issued again once half its lifetime passed, as istio-agent rotates it', async t => {
	const ca = await MeshCa.create();
	const first = await ca.issueWorkload({ namespace: 'default', serviceAccount: 'long-lived' });
	const realNow = Date.now;
	try {
		// 11 h later: still the same; 13 h later (past 12 h, SECRET_GRACE_PERIOD_RATIO 0.5 of 24 h): a new one.
		Date.now = () => realNow() + 11 * 3_600_000;
		t.is((await ca.issueWorkload({ namespace: 'default', serviceAccount: 'long-lived' })).certificateChain, first.certificateChain);
		Date.now = () => realNow() + 13 * 3_600_000;
		const renewed = await ca.issueWorkload({ namespace: 'default', serviceAccount: 'long-lived' });
		t.not(renewed.certificateChain, first.certificateChain);
		t.true(Date.parse(new X509Certificate(renewed.certificateChain).validTo) > Date.parse(new X509Certificate(first.certificateChain).validTo), 'valid for longer');
	} finally {
		Date.now = realNow;
	}
});

test('issueServer: a server certificate for a gateway\'s hosts, signed by the mesh root', async t => {
	const ca = await MeshCa.create();
	const issued = await ca.issueServer({ dnsNames: ['my-app.example.com', '*.example.com'] });
	const cert = new X509Certificate(issued.certificateChain);
	t.is(cert.subjectAltName, 'DNS:my-app.example.com, DNS:*.example.com');
	t.true(cert.checkHost('my-app.example.com') !== undefined);
	t.true(cert.verify(new X509Certificate(ca.rootCertificate).publicKey));
});

test('bad identities and trust domains are refused with a clear error', async t => {
	const ca = await MeshCa.create();
	const error = t.throws(() => ca.issueWorkload({ namespace: 'default', serviceAccount: 'x/../y' }), { instanceOf: MeshboxError });
	t.is(error?.code, 'CONFIG_INVALID');
	t.regex(error!.message, /serviceAccount "x\/\.\.\/y"/);
	await t.throwsAsync(MeshCa.create({ trustDomain: 'not a domain' }), { instanceOf: MeshboxError, message: /trust domain/ });
	t.throws(() => ca.issueServer({ dnsNames: [] }), { instanceOf: MeshboxError });
	t.throws(() => envoySecret({ name: 'empty' }), { instanceOf: MeshboxError, message: /secret "empty"/ });
});

test('the TLS contexts are istiod\'s: SDS names and sources, ALPNs, SANs, auto-mTLS matches', t => {
	t.deepEqual(sdsSecretConfig('default'), {
		name: 'default',
		sds_config: {
			api_config_source: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }], set_node_on_first_message_only: true, transport_api_version: 'V3' },
			initial_fetch_timeout: '0s',
			resource_api_version: 'V3',
		},
	});
	const inbound = inboundMtlsTransportSocket().typed_config as JsonObject;
	t.is(inbound.require_client_certificate, true);
	t.deepEqual((inbound.common_tls_context as JsonObject).alpn_protocols, ['h2', 'http/1.1']);

	const outbound = outboundMtlsTransportSocket({ sni: istioMutualSni({ port: 8080, host: 'server.default.svc.cluster.local' }), subjectAltNames: ['spiffe://cluster.local/ns/default/sa/server'] }).typed_config as JsonObject;
	t.is(outbound.sni, 'outbound_.8080_._.server.default.svc.cluster.local');
	const common = outbound.common_tls_context as JsonObject;
	t.deepEqual(common.alpn_protocols, ['istio-peer-exchange', 'istio']);
	t.deepEqual((common.combined_validation_context as JsonObject).default_validation_context, { match_subject_alt_names: [{ exact: 'spiffe://cluster.local/ns/default/sa/server' }] });

	t.deepEqual(inboundFilterChainMatches('STRICT', 8080).map(chain => [chain.match, Boolean(chain.transportSocket)]), [[{ destination_port: 8080, transport_protocol: 'tls' }, true]]);
	const permissive = inboundFilterChainMatches('PERMISSIVE');
	t.deepEqual(permissive.map(chain => [chain.match.transport_protocol, Boolean(chain.transportSocket)]), [['tls', true], ['raw_buffer', false]]);
	t.deepEqual(permissive[0]!.match.application_protocols, ['istio', 'istio-peer-exchange', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']);
	t.deepEqual(inboundFilterChainMatches('DISABLE').map(chain => chain.transportSocket), [undefined]);
	t.is(inboundListenerFilters(permissive).length, 1);
	t.is(inboundListenerFilters(inboundFilterChainMatches('DISABLE')).length, 0);

	const matches = autoMtlsTransportSocketMatches(outboundMtlsTransportSocket({ sni: 's', subjectAltNames: [] }));
	t.deepEqual(matches.map(match => [match.name, match.match]), [['tlsMode-istio', { tlsMode: 'istio' }], ['tlsMode-disabled', {}]]);

	const gateway = gatewayTransportSocket('my-cert', 'MUTUAL').typed_config as JsonObject;
	const gatewayCommon = gateway.common_tls_context as JsonObject;
	t.deepEqual((gatewayCommon.tls_certificate_sds_secret_configs as JsonObject[])[0], { name: 'kubernetes://my-cert', sds_config: { ads: {}, resource_api_version: 'V3' } });
	t.is(((gatewayCommon.combined_validation_context as JsonObject).validation_context_sds_secret_config as JsonObject).name, 'kubernetes://my-cert-cacert');
	t.is((gatewayTransportSocket('my-cert', 'SIMPLE').typed_config as JsonObject).require_client_certificate, false);
});

test('every TLS context and secret is a message of Envoy\'s API (encoded by its schema: a misspelt field fails here)', async t => {
	const schemas = envoySchemas();
	const ca = await MeshCa.create();
	const cluster = {
		name: 'outbound|8080||server.default.svc.cluster.local',
		type: 'STATIC',
		transport_socket_matches: autoMtlsTransportSocketMatches(outboundMtlsTransportSocket({ sni: 'x', subjectAltNames: ['spiffe://cluster.local/ns/default/sa/server'] })),
	};
	t.notThrows(() => schemas.encodeAny({ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', ...cluster }));
	const chains = [...inboundFilterChainMatches('PERMISSIVE', 8080), { match: {}, transportSocket: gatewayTransportSocket('cert', 'MUTUAL') }]
		.map((chain, index) => ({ name: `c${index}`, filter_chain_match: chain.match, ...(chain.transportSocket ? { transport_socket: chain.transportSocket } : {}) }));
	t.notThrows(() => schemas.encodeAny({ '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'l', listener_filters: inboundListenerFilters(chains.map(chain => ({ match: chain.filter_chain_match }))), filter_chains: chains }));
	for (const secret of await workloadSecrets(ca, 'default', 'a')) {
		t.notThrows(() => schemas.encodeAny({ '@type': typeUrls.secret, ...envoySecret(secret) }));
	}
});

test('issuing certificates: ms per workload certificate (printed, not asserted)', async t => {
	const ca = await MeshCa.create();
	const count = 40;
	const start = performance.now();
	for (let index = 0; index < count; index += 1) {
		await ca.issueWorkload({ namespace: 'default', serviceAccount: `sa-${index}` });
	}

	t.log(`${((performance.now() - start) / count).toFixed(2)} ms per workload certificate (ECDSA P-256)`);
	t.pass();
});
