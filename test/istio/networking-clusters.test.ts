/**
 * Services + DestinationRules → outbound clusters as istiod builds them (pilot/pkg/networking/core/cluster.go,
 * cluster_builder.go, cluster_traffic_policy.go getDefaultCircuitBreakerThresholds / applyConnectionPool /
 * applyLoadBalancer / applyOutlierDetection, cluster_tls.go buildUpstreamTLSSettings; names and SNI from
 * pilot/pkg/model/service.go BuildSubsetKey / BuildDNSSrvSubsetKey).
 */
import test from 'ava';
import type { JsonObject } from '../../src/util/json.ts';
import type { ServiceEntryResource } from '../../src/istio/config-resources.ts';
import { outboundClusters, type MtlsSocket } from '../../src/istio/networking/clusters.ts';
import { serviceEntryServices } from '../../src/istio/networking/service-entries.ts';
import { versionTraits } from '../../src/istio/version.ts';
import { bookinfo, destinationRules, doc, resources } from './networking-helpers.ts';

const traits = versionTraits('1.29');
const calls: Array<Parameters<MtlsSocket>> = [];
/** Stands in for src/istio/mesh/tls.ts (another engineer's): records what it was asked for. */
const mtls: MtlsSocket = (...args) => {
	calls.push(args);
	return { name: 'envoy.transport_sockets.tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: args[3].sni } };
};

const rules = destinationRules(doc('DestinationRule', 'reviews', [
	'host: reviews',
	'trafficPolicy:',
	'  connectionPool: {tcp: {maxConnections: 100, connectTimeout: 250ms}, http: {http1MaxPendingRequests: 10}}',
	'  outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}',
	'subsets:',
	'- {name: v1, labels: {version: v1}}',
	'- name: v2',
	'  labels: {version: v2}',
	'  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}, tls: {mode: DISABLE}}',
	'- {name: v9, labels: {version: v9}}',
].join('\n')));

const byName = <T extends { readonly name: string }>(clusters: readonly T[], name: string): T | undefined => clusters.find(cluster => cluster.name === name);

test('a cluster per Service port and per subset, endpoints by subset labels, istiod\'s defaults', t => {
	const { clusters, notes } = outboundClusters({ services: bookinfo, destinationRules: rules, proxyNamespace: 'default', traits, mtls });
	t.deepEqual(clusters.map(cluster => cluster.name), [
		'outbound|9080||productpage.default.svc.cluster.local',
		'outbound|9080||reviews.default.svc.cluster.local',
		'outbound|9080|v1|reviews.default.svc.cluster.local',
		'outbound|9080|v2|reviews.default.svc.cluster.local',
		'outbound|9080|v9|reviews.default.svc.cluster.local',
		'outbound|9080||ratings.default.svc.cluster.local',
		'outbound|80||api.example.com',
	]);
	const productpage = byName(clusters, 'outbound|9080||productpage.default.svc.cluster.local')!;
	t.deepEqual(productpage.endpoints, [{ kind: 'proxy', proxy: 'productpage-v1', listener: 'virtualInbound' }]);
	t.like(productpage.fields, {
		connect_timeout: '10s',
		lb_policy: 'LEAST_REQUEST',
		circuit_breakers: { thresholds: [{ max_connections: 4_294_967_295, max_pending_requests: 4_294_967_295, max_requests: 4_294_967_295, max_retries: 4_294_967_295, track_remaining: true }] },
	});
	t.deepEqual(byName(clusters, 'outbound|9080|v1|reviews.default.svc.cluster.local')?.endpoints, [{ kind: 'proxy', proxy: 'reviews-v1', listener: 'virtualInbound' }]);
	t.deepEqual(byName(clusters, 'outbound|9080||reviews.default.svc.cluster.local')?.endpoints.length, 3);
	t.deepEqual(byName(clusters, 'outbound|80||api.example.com')?.endpoints, [{ kind: 'external', host: 'api.example.com', port: 80 }]);
	t.deepEqual(byName(clusters, 'outbound|9080|v9|reviews.default.svc.cluster.local')?.endpoints, []);
	t.true(notes.some(note => note.includes('subset v9') && note.includes('503')));
});

test('DestinationRule traffic policy: connection pool, outlier detection, subset load balancer (cluster_traffic_policy.go)', t => {
	const { clusters } = outboundClusters({ services: bookinfo, destinationRules: rules, proxyNamespace: 'default', traits, mtls });
	const v1 = byName(clusters, 'outbound|9080|v1|reviews.default.svc.cluster.local')!;
	t.is(v1.fields.connect_timeout, '0.25s');
	t.deepEqual(v1.fields.circuit_breakers, { thresholds: [{ max_connections: 100, max_pending_requests: 10, max_requests: 4_294_967_295, max_retries: 4_294_967_295, track_remaining: true }] });
	t.deepEqual(v1.fields.outlier_detection, { enforcing_success_rate: 0, consecutive_5xx: 5, enforcing_consecutive_5xx: 100, interval: '10s', base_ejection_time: '30s', max_ejection_percent: 50 });
	t.deepEqual(v1.fields.common_lb_config, { healthy_panic_threshold: { value: 0 } });
	t.is(v1.fields.lb_policy, 'LEAST_REQUEST');
	t.is(byName(clusters, 'outbound|9080|v2|reviews.default.svc.cluster.local')?.fields.lb_policy, 'ROUND_ROBIN');
	t.is((v1.fields.metadata as JsonObject & { filter_metadata: { istio: JsonObject } }).filter_metadata.istio.config, '/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews');
});

test('TLS: auto mTLS to sidecar endpoints as transport_socket_matches, DISABLE, none to MESH_EXTERNAL or sidecar-less endpoints (cluster_tls.go)', t => {
	calls.length = 0;
	const { clusters } = outboundClusters({ services: bookinfo, destinationRules: rules, proxyNamespace: 'default', traits, mtls });
	const v1 = byName(clusters, 'outbound|9080|v1|reviews.default.svc.cluster.local')!;
	t.deepEqual(v1.fields.transport_socket_matches, [
		{ name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 'outbound_.9080_.v1_.reviews.default.svc.cluster.local' } } },
		{ name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } },
	]);
	const call = calls.find(args => args[2] === 'v1');
	t.deepEqual(call?.[3], { sni: 'outbound_.9080_.v1_.reviews.default.svc.cluster.local', subjectAltNames: ['spiffe://cluster.local/ns/default/sa/bookinfo-reviews'] });
	// subset v2: tls DISABLE; ratings has no sidecar; api.example.com is MESH_EXTERNAL.
	for (const name of ['outbound|9080|v2|reviews.default.svc.cluster.local', 'outbound|9080||ratings.default.svc.cluster.local', 'outbound|80||api.example.com']) {
		t.is(byName(clusters, name)?.fields.transport_socket_matches, undefined, name);
		t.is(byName(clusters, name)?.fields.transport_socket, undefined, name);
	}
});

test('TLS: ISTIO_MUTUAL in a DestinationRule is a transport_socket, with the rule\'s SNI and SANs when given', t => {
	calls.length = 0;
	const strict = destinationRules(doc('DestinationRule', 'ratings', 'host: ratings.default.svc.cluster.local\ntrafficPolicy: {tls: {mode: ISTIO_MUTUAL, sni: ratings.internal, subjectAltNames: ["spiffe://cluster.local/ns/default/sa/other"]}}'));
	const { clusters } = outboundClusters({ services: bookinfo, destinationRules: strict, proxyNamespace: 'default', traits, mtls });
	const ratings = byName(clusters, 'outbound|9080||ratings.default.svc.cluster.local')!;
	t.deepEqual(ratings.fields.transport_socket, { name: 'envoy.transport_sockets.tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 'ratings.internal' } });
	t.deepEqual(calls.find(args => args[0].name === 'ratings')?.[3].subjectAltNames, ['spiffe://cluster.local/ns/default/sa/other']);
});

test('which DestinationRule applies: the proxy\'s namespace first, then the Service\'s, then istio-system', t => {
	const all = destinationRules([
		doc('DestinationRule', 'mesh-wide', 'host: "*.svc.cluster.local"\ntrafficPolicy: {loadBalancer: {simple: RANDOM}}', 'istio-system'),
		doc('DestinationRule', 'owner', 'host: reviews\ntrafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}'),
		doc('DestinationRule', 'client', 'host: reviews.default.svc.cluster.local\ntrafficPolicy: {connectionPool: {tcp: {maxConnections: 7}}}', 'shop'),
	].join(''));
	const lb = (namespace: string, host: string): unknown => byName(outboundClusters({ services: bookinfo, destinationRules: all, proxyNamespace: namespace, traits, mtls }).clusters, host)?.fields.lb_policy;
	t.is(lb('default', 'outbound|9080||reviews.default.svc.cluster.local'), 'ROUND_ROBIN');
	t.is(lb('shop', 'outbound|9080||reviews.default.svc.cluster.local'), 'LEAST_REQUEST');
	t.is(lb('default', 'outbound|9080||ratings.default.svc.cluster.local'), 'RANDOM');
});

test('ServiceEntries become Services: MESH_EXTERNAL by default (external endpoints), MESH_INTERNAL selects mesh workloads (serviceentry/conversion.go)', t => {
	const entries = resources([
		doc('ServiceEntry', 'api', 'hosts: [api.example.com, www.example.com]\nports: [{number: 443, name: https, protocol: HTTPS}, {number: 80, name: http, protocol: HTTP}]\nresolution: DNS'),
		doc('ServiceEntry', 'legacy', 'hosts: [legacy.internal]\nlocation: MESH_INTERNAL\nports: [{number: 8080, name: http-legacy}]\nworkloadSelector: {labels: {app: reviews}}\nresolution: STATIC'),
	].join('')).filter((resource): resource is ServiceEntryResource => resource.kind === 'ServiceEntry');
	const workloads = bookinfo.flatMap(service => service.endpoints);
	const { services, notes } = serviceEntryServices(entries, workloads);
	t.deepEqual(services.map(service => [service.hostname, service.external, service.ports.map(port => `${port.port}/${port.protocol}`), service.endpoints.map(endpoint => endpoint.proxy)]), [
		['api.example.com', true, ['443/HTTPS', '80/HTTP'], []],
		['www.example.com', true, ['443/HTTPS', '80/HTTP'], []],
		['legacy.internal', false, ['8080/HTTP'], ['reviews-v1', 'reviews-v2', 'reviews-v3']],
	]);
	t.true(notes.some(note => note.includes('port 8080 has no protocol')));
	const { clusters } = outboundClusters({ services, destinationRules: [], proxyNamespace: 'default', traits, mtls });
	t.deepEqual(byName(clusters, 'outbound|443||api.example.com')?.endpoints, [{ kind: 'external', host: 'api.example.com', port: 443 }]);
	t.is(byName(clusters, 'outbound|8080||legacy.internal')?.endpoints.length, 3);
	t.truthy(byName(clusters, 'outbound|8080||legacy.internal')?.fields.transport_socket_matches);
});
