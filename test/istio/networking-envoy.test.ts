/**
 * What the networking translation produces, on a real Envoy 1.40: the route configuration and clusters of a
 * sidecar's outbound port serve traffic as the VirtualService says (header match to a subset, Host aliases with
 * the port ignored, fault abort, direct response, redirect, unknown host), and every construct the translation
 * emits (retry predicates, mirrors, CORS, hash policies, outlier detection, mTLS transport sockets over SDS, a
 * gateway's route configuration) passes `envoy --mode validate`.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import got from 'got';
import type { MeshEndpointRef, ProxyClusterModel } from '../../src/config/model.ts';
import { provisionEnvoy } from '../../src/envoy-binary/provision.ts';
import { validateBootstrap } from '../../src/envoy-binary/validate.ts';
import { outboundClusters, type MtlsSocket } from '../../src/istio/networking/clusters.ts';
import { gatewayRouteConfig, outboundRouteConfig } from '../../src/istio/networking/routes.ts';
import { versionTraits } from '../../src/istio/version.ts';
import type { JsonObject } from '../../src/util/json.ts';
import { freePort } from '../helpers/ports.ts';
import { bookinfo, destinationRules, doc, virtualServices } from './networking-helpers.ts';

const traits = versionTraits('1.29');

const reviewsRules = virtualServices(doc('VirtualService', 'reviews', [
	'hosts: [reviews]',
	'http:',
	'- match: [{headers: {end-user: {exact: jason}}}]',
	'  route: [{destination: {host: reviews, subset: v2}}]',
	'- match: [{uri: {prefix: /teapot}}]',
	'  fault: {abort: {httpStatus: 418, percentage: {value: 100}}}',
	'  route: [{destination: {host: reviews, subset: v1}}]',
	'- match: [{uri: {exact: /health}}]',
	'  directResponse: {status: 200, body: {string: "healthy"}}',
	'- match: [{uri: {exact: /old}}]',
	'  redirect: {uri: /new, authority: reviews.example.com}',
	'- route:',
	'  - {destination: {host: reviews, subset: v1}, weight: 100}',
	'  - {destination: {host: reviews, subset: v3}, weight: 0}',
	'  headers: {response: {set: {x-routed-by: meshbox}}}',
].join('\n')));
const reviewsSubsets = destinationRules(doc('DestinationRule', 'reviews', 'host: reviews\nsubsets:\n- {name: v1, labels: {version: v1}}\n- {name: v2, labels: {version: v2}}\n- {name: v3, labels: {version: v3}}'));

/** A cluster for a static bootstrap: the symbolic endpoints resolved to local addresses, as the runtime does. */
function staticCluster(cluster: ProxyClusterModel, address: (endpoint: MeshEndpointRef) => number): JsonObject {
	return {
		name: cluster.name,
		type: 'STATIC',
		load_assignment: {
			cluster_name: cluster.name,
			endpoints: [{ lb_endpoints: cluster.endpoints.map(endpoint => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: address(endpoint) } } } })) }],
		},
		...cluster.fields,
	};
}

function bootstrap(listenerPort: number, adminPort: number, routeConfig: JsonObject, clusters: JsonObject[]): JsonObject {
	return {
		node: { id: 'sidecar~127.0.0.1~reviews-client.default~default.svc.cluster.local', cluster: 'reviews-client.default' },
		admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
		static_resources: {
			listeners: [{
				name: '0.0.0.0_9080',
				address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
				filter_chains: [{ filters: [{
					name: 'envoy.filters.network.http_connection_manager',
					typed_config: {
						'@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
						stat_prefix: 'outbound_0.0.0.0_9080',
						route_config: routeConfig,
						// istiod's sidecar outbound chain has the fault and CORS filters before the router.
						http_filters: [
							{ name: 'envoy.filters.http.fault', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } },
							{ name: 'envoy.filters.http.cors', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors' } },
							{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
						],
					},
				}] }],
			}],
			clusters,
		},
	};
}

async function answering(name: string): Promise<http.Server> {
	const server = http.createServer((request, response) => {
		response.setHeader('content-type', 'text/plain');
		response.end(`${name} ${request.url}`);
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	return server;
}

test('a sidecar\'s outbound route configuration and clusters route real requests as the VirtualService says', async t => {
	const envoy = await provisionEnvoy({});
	const versions = await Promise.all(['v1', 'v2', 'v3'].map(async version => [version, await answering(`reviews-${version}`)] as const));
	const portOf = new Map(versions.map(([version, server]) => [`reviews-${version}`, (server.address() as AddressInfo).port]));
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-net-envoy-'));
	const [listenerPort, adminPort] = [await freePort(), await freePort()];
	const { routeConfig } = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: reviewsRules, destinationRules: reviewsSubsets, proxyNamespace: 'default', traits });
	// Plaintext here (no sidecars behind): the mTLS sockets are validated in the next test.
	const { clusters } = outboundClusters({ services: bookinfo.filter(service => service.name === 'reviews'), destinationRules: reviewsSubsets, proxyNamespace: 'default', traits, mtls: () => undefined });
	const config = bootstrap(listenerPort, adminPort, routeConfig, clusters.map(cluster => staticCluster(cluster, endpoint => endpoint.kind === 'proxy' ? portOf.get(endpoint.proxy) ?? 1 : 1)));
	await writeFile(path.join(dir, 'envoy.json'), JSON.stringify(config));
	const child = execa(envoy.path, ['-c', path.join(dir, 'envoy.json'), '--disable-hot-restart', '--log-level', 'warning'], { reject: false, all: true });
	try {
		await waitReady(adminPort, child);
		const request = (urlPath: string, headers: Record<string, string>) => got(`http://127.0.0.1:${listenerPort}${urlPath}`, { headers, throwHttpErrors: false, followRedirect: false, retry: { limit: 0 } });
		const jason = await request('/reviews/1', { host: 'reviews', 'end-user': 'jason' });
		t.is(jason.body, 'reviews-v2 /reviews/1');
		// ignore_port_in_host_matching: `reviews.default:9080` is the `reviews.default` domain.
		const other = await request('/reviews/1', { host: 'reviews.default:9080' });
		t.is(other.body, 'reviews-v1 /reviews/1');
		t.is(other.headers['x-routed-by'], 'meshbox');
		t.is((await request('/teapot', { host: 'reviews.default.svc.cluster.local' })).statusCode, 418);
		const health = await request('/health', { host: 'reviews.default.svc' });
		t.is(health.body, 'healthy');
		const old = await request('/old', { host: 'reviews' });
		t.is(old.statusCode, 301);
		t.is(old.headers.location, 'http://reviews.example.com/new');
		t.is((await request('/', { host: 'unknown.example.com' })).statusCode, 502);
	} finally {
		child.kill('SIGTERM');
		await child;
		await Promise.all(versions.map(async ([, server]) => new Promise(resolve => server.close(resolve))));
		await rm(dir, { recursive: true, force: true });
	}
});

async function waitReady(adminPort: number, child: ReturnType<typeof execa>): Promise<void> {
	for (let attempt = 0; attempt < 200; attempt++) {
		if (child.exitCode !== null) {
			throw new Error(`envoy exited: ${(await child).all ?? ''}`);
		}

		try {
			const ready = await got(`http://127.0.0.1:${adminPort}/ready`, { throwHttpErrors: false, retry: { limit: 0 } });
			if (ready.statusCode === 200) {
				return;
			}
		} catch {
			// not listening yet
		}

		await new Promise(resolve => setTimeout(resolve, 50));
	}

	throw new Error('envoy did not become ready');
}

test('everything the translation emits is valid for Envoy 1.40 (envoy --mode validate): sidecar and gateway', async t => {
	const envoy = await provisionEnvoy({});
	const rich = virtualServices([
		doc('VirtualService', 'everything', [
			'hosts: [ratings]',
			'http:',
			'- name: all',
			'  match: [{uri: {regex: "/r/[0-9]+"}, method: {exact: GET}, authority: {prefix: ratings}, queryParams: {q: {exact: "1"}, p: {}}, withoutHeaders: {x-skip: {regex: "*"}}, ignoreUriCase: true, headers: {x-a: {prefix: b}}}]',
			'  route: [{destination: {host: ratings}, headers: {request: {set: {x-d: "1"}, remove: [x-e]}}}]',
			'  rewrite: {uriRegexRewrite: {match: "^/r/(.*)$", rewrite: "/ratings/\\\\1"}, authority: ratings.internal}',
			'  timeout: 1.5s',
			'  retries: {attempts: 4, perTryTimeout: 100ms, retryOn: "5xx,reset,429", retryRemoteLocalities: true}',
			'  fault: {delay: {fixedDelay: 10ms, percentage: {value: 0.5}}, abort: {grpcStatus: UNAVAILABLE, percentage: {value: 1}}}',
			'  mirrors: [{destination: {host: reviews, subset: v3}, percentage: {value: 10}}]',
			'  corsPolicy: {allowOrigins: [{exact: "https://a.example"}], allowMethods: [GET], maxAge: 24h, allowCredentials: true}',
			'  headers: {request: {add: {x-b: "2"}}, response: {remove: [x-c]}}',
			'- match: [{uri: {prefix: /redirect}}]',
			'  redirect: {derivePort: FROM_REQUEST_PORT, scheme: https, redirectCode: 308}',
			'- route: [{destination: {host: ratings}, weight: 60}, {destination: {host: reviews, subset: v1}, weight: 40, headers: {request: {set: {host: reviews.internal}}}}]',
		].join('\n')),
		doc('VirtualService', 'edge', 'hosts: ["*"]\ngateways: [istio-system/ingressgateway]\nhttp: [{match: [{uri: {prefix: /reviews}}], route: [{destination: {host: reviews.default.svc.cluster.local, port: {number: 9080}}}]}]'),
	].join(''));
	const rules = destinationRules([
		doc('DestinationRule', 'reviews', [
			'host: reviews',
			'trafficPolicy:',
			'  loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s}}}',
			'  connectionPool: {tcp: {maxConnections: 10, connectTimeout: 1s}, http: {http2MaxRequests: 5, maxRetries: 2, h2UpgradePolicy: UPGRADE}}',
			'  outlierDetection: {consecutive5xxErrors: 3, consecutiveGatewayErrors: 2, interval: 5s, baseEjectionTime: 1m, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2}',
			'subsets:',
			'- {name: v1, labels: {version: v1}, trafficPolicy: {loadBalancer: {consistentHash: {maglev: {tableSize: 65537}}}}}',
			'- {name: v3, labels: {version: v3}, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}',
		].join('\n')),
		doc('DestinationRule', 'api', 'host: api.example.com\ntrafficPolicy: {tls: {mode: SIMPLE, sni: api.example.com}, loadBalancer: {simple: RANDOM}}'),
	].join(''));
	// Stands in for src/istio/mesh/tls.ts: an UpstreamTlsContext whose certificates come over SDS, as istiod's.
	const mtls: MtlsSocket = (_service, _port, _subset, tls) => ({
		name: 'envoy.transport_sockets.tls',
		typed_config: {
			'@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
			sni: tls.sni,
			common_tls_context: {
				alpn_protocols: ['istio-peer-exchange', 'istio'],
				tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }] }, resource_api_version: 'V3' } }],
				combined_validation_context: {
					default_validation_context: { match_typed_subject_alt_names: tls.subjectAltNames.map(san => ({ san_type: 'URI', matcher: { exact: san } })) },
					validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: { api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }] }, resource_api_version: 'V3' } },
				},
			},
		},
	});
	const sidecar = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: rich, destinationRules: rules, proxyNamespace: 'default', traits });
	const port80 = outboundRouteConfig({ port: 80, services: bookinfo, virtualServices: rich, destinationRules: rules, proxyNamespace: 'default', traits });
	const gateway = gatewayRouteConfig({ routeConfigName: 'http.8080', port: 80, servers: [{ gateway: 'istio-system/ingressgateway', server: { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] } }],
		virtualServices: rich, services: bookinfo, destinationRules: rules, gatewayNamespace: 'istio-system', traits });
	const { clusters } = outboundClusters({ services: bookinfo, destinationRules: rules, proxyNamespace: 'default', traits, mtls });
	t.true(clusters.some(cluster => cluster.fields.transport_socket_matches !== undefined));
	const config = bootstrap(await freePort(), await freePort(), sidecar.routeConfig, [
		...clusters.map(cluster => ({ ...staticCluster(cluster, () => 9), ...(cluster.protocol === 'http2' ? { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } } : {}) })),
		{ name: 'sds-grpc', type: 'STATIC', typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } },
			load_assignment: { cluster_name: 'sds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9 } } } }] }] } },
	]);
	const listeners = (config.static_resources as { listeners: JsonObject[] }).listeners;
	for (const [index, routeConfig] of [port80.routeConfig, gateway.routeConfig].entries()) {
		const copy = structuredClone(listeners[0]!) as { name: string; address: { socket_address: { port_value: number } }; filter_chains: Array<{ filters: Array<{ typed_config: JsonObject }> }> };
		copy.name = `extra_${index}`;
		copy.address.socket_address.port_value = await freePort();
		copy.filter_chains[0]!.filters[0]!.typed_config.route_config = routeConfig;
		listeners.push(copy as unknown as JsonObject);
	}

	const result = await validateBootstrap(envoy.path, JSON.stringify(config));
	t.true(result.ok, result.output);
});
