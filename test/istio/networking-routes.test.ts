/**
 * VirtualService → RouteConfiguration as istiod builds it. Expectations come from istio/istio's own tests and
 * source: pilot/pkg/networking/core/httproute_test.go (TestGenerateVirtualHostDomains), route/route_test.go
 * (TestBuildHTTPRoutes: timeouts, header operations), route/retry/retry.go (the default policy),
 * gateway.go (404 virtual host), pilot/pkg/model/config.go (short names).
 */
import test from 'ava';
import type { JsonObject } from '../../src/util/json.ts';
import { hostResolution, serviceDomains } from '../../src/istio/networking/hosts.ts';
import { gatewayRouteConfig, outboundRouteConfig } from '../../src/istio/networking/routes.ts';
import type { VirtualServiceResource } from '../../src/istio/config-resources.ts';
import { versionTraits } from '../../src/istio/version.ts';
import { bookinfo, destinationRules, doc, virtualServices } from './networking-helpers.ts';

const traits = versionTraits('1.29');
const reviews = bookinfo.find(candidate => candidate.name === 'reviews')!;

type VirtualHost = { name: string; domains: string[]; routes: JsonObject[] };
const vhost = (config: JsonObject, name: string): VirtualHost | undefined => (config.virtual_hosts as unknown as VirtualHost[]).find(host => host.name === name);

test('virtual host domains for a sidecar: same namespace, other namespace, before 1.27 (httproute_test.go TestGenerateVirtualHostDomains)', t => {
	// "k8s service with default domain": echo.default.svc.cluster.local from default.svc.cluster.local.
	t.deepEqual(serviceDomains(reviews, 'default', traits), ['reviews.default.svc.cluster.local', 'reviews.default.svc.cluster.local.', 'reviews', 'reviews.default.svc', 'reviews.default']);
	t.deepEqual(serviceDomains(reviews, 'shop', traits), ['reviews.default.svc.cluster.local', 'reviews.default.svc.cluster.local.', 'reviews.default', 'reviews.default.svc']);
	// The absolute FQDN came with 1.27 (istio/istio#56008).
	t.deepEqual(serviceDomains(reviews, 'default', versionTraits('1.26')), ['reviews.default.svc.cluster.local', 'reviews', 'reviews.default.svc', 'reviews.default']);
	// A ServiceEntry host is not expanded ("non-k8s service").
	t.deepEqual(serviceDomains(bookinfo.find(candidate => candidate.external)!, 'default', traits), ['api.example.com', 'api.example.com.']);
});

test('hostResolution: short names in the resource\'s namespace; reviews.default is taken as an FQDN (config.go ResolveShortnameToFQDN)', t => {
	t.is(hostResolution('reviews', 'default', bookinfo).service?.name, 'reviews');
	t.is(hostResolution('reviews.default.svc.cluster.local', 'shop', bookinfo).service?.name, 'reviews');
	t.is(hostResolution('reviews', 'shop', bookinfo).host, 'reviews.shop.svc.cluster.local');
	t.is(hostResolution('reviews', 'shop', bookinfo).service, undefined);
	const dotted = hostResolution('reviews.default', 'default', bookinfo);
	t.is(dotted.service, undefined);
	t.is(dotted.host, 'reviews.default');
	t.regex(dotted.note ?? '', /taken as a fully qualified name .* write "reviews\.default\.svc\.cluster\.local"/);
});

test('no VirtualService: the default route to outbound|<port>||<host> with istiod\'s default retry policy (route.go BuildDefaultHTTPOutboundRoute)', t => {
	const { routeConfig, origins } = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: [], destinationRules: [], proxyNamespace: 'default', traits });
	t.is(routeConfig.name, '9080');
	t.is(routeConfig.ignore_port_in_host_matching, true);
	t.deepEqual((routeConfig.virtual_hosts as unknown as VirtualHost[]).map(host => host.name),
		['productpage.default.svc.cluster.local:9080', 'ratings.default.svc.cluster.local:9080', 'reviews.default.svc.cluster.local:9080', 'block_all']);
	t.deepEqual(vhost(routeConfig, 'reviews.default.svc.cluster.local:9080')?.routes, [{
		name: 'default',
		match: { prefix: '/' },
		route: {
			cluster: 'outbound|9080||reviews.default.svc.cluster.local',
			timeout: '0s',
			retry_policy: {
				retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
				num_retries: 2,
				retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
				host_selection_retry_max_attempts: '5',
			},
			max_grpc_timeout: '0s',
		},
		decorator: { operation: 'reviews.default.svc.cluster.local:9080/*' },
	}]);
	t.true(origins.some(origin => origin.comment === 'default route to reviews.default.svc.cluster.local (no VirtualService)'));
});

const bookinfoRules = virtualServices(doc('VirtualService', 'reviews', [
	'hosts: [reviews]',
	'http:',
	'- name: jason',
	'  match: [{headers: {end-user: {exact: jason}}, uri: {prefix: /reviews}, ignoreUriCase: true}]',
	'  route: [{destination: {host: reviews, subset: v2}}]',
	'  fault: {abort: {httpStatus: 418, percentage: {value: 50}}}',
	'- route:',
	'  - {destination: {host: reviews, subset: v1}, weight: 90}',
	'  - {destination: {host: reviews, subset: v3}, weight: 10}',
	'  - {destination: {host: reviews, subset: v4}, weight: 0}',
	'  timeout: 10s',
	'  retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "gateway-error,503"}',
].join('\n')));

test('a VirtualService becomes routes on the Service\'s virtual host: match, weighted clusters, fault, timeout, retries (route.go TranslateRoute)', t => {
	const { routeConfig, origins } = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: bookinfoRules, destinationRules: [], proxyNamespace: 'default', traits });
	const host = vhost(routeConfig, 'reviews.default.svc.cluster.local:9080');
	t.deepEqual(host?.domains, ['reviews.default.svc.cluster.local', 'reviews.default.svc.cluster.local.', 'reviews', 'reviews.default.svc', 'reviews.default']);
	const [jason, split, ...rest] = host?.routes ?? [];
	t.deepEqual(rest, []);
	t.deepEqual(jason?.match, { prefix: '/reviews', case_sensitive: false, headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] });
	t.is(jason?.name, 'jason');
	t.deepEqual(jason?.metadata, { filter_metadata: { istio: { config: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews' } } });
	t.is((jason?.route as JsonObject).cluster, 'outbound|9080|v2|reviews.default.svc.cluster.local');
	t.deepEqual(jason?.decorator, { operation: 'reviews.default.svc.cluster.local:9080/reviews*' });
	// TranslateFault: percentage → millionths; the fault filter's per-route config.
	t.deepEqual(jason?.typed_per_filter_config, { 'envoy.filters.http.fault': {
		'@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
		abort: { percentage: { numerator: 500_000, denominator: 'MILLION' }, http_status: 418 },
	} });
	const action = split?.route as JsonObject;
	// Zero-weight destinations are dropped when there are others.
	t.deepEqual(action.weighted_clusters, { clusters: [
		{ name: 'outbound|9080|v1|reviews.default.svc.cluster.local', weight: 90 },
		{ name: 'outbound|9080|v3|reviews.default.svc.cluster.local', weight: 10 },
	] });
	t.is(action.timeout, '10s');
	t.is(action.max_grpc_timeout, '10s');
	// retry.go parseRetryOn: status codes move to retriable_status_codes.
	t.like(action.retry_policy as JsonObject, { num_retries: 3, retry_on: 'gateway-error,retriable-status-codes', retriable_status_codes: [503], per_try_timeout: '0.5s' });
	t.deepEqual(split?.decorator, { operation: 'reviews:9080/*' });
	t.deepEqual(origins.filter(origin => origin.virtualHost === 'reviews.default.svc.cluster.local:9080').map(origin => origin.comment),
		['VirtualService default/reviews at test.yaml:1:1', 'VirtualService default/reviews at test.yaml:1:1']);
});

test('header operations for a single cluster (route_test.go "for header operations for single cluster")', t => {
	// The test's VirtualService sets :authority in both set and add, which the webhook refuses; istiod still
	// translates it (set wins), so it is built here without validation.
	const [base] = bookinfoRules;
	const acme: VirtualServiceResource = { ...base!, name: 'acme', spec: {
		hosts: ['reviews'],
		http: [{
			route: [{
				destination: { host: 'c-weighted.extsvc.com', subset: 'v1' }, weight: 100,
				headers: {
					request: { set: { 'x-route-req-set': 'v1', ':authority': 'internal.foo.extsvc.com' }, add: { 'x-route-req-add': 'v2', ':authority': 'internal.bar.extsvc.com' }, remove: ['x-route-req-remove'] },
					response: { set: { 'x-route-resp-set': 'v1' }, add: { 'x-route-resp-add': 'v2' }, remove: ['x-route-resp-remove'] },
				},
			}],
			headers: {
				request: { set: { 'x-req-set': 'v1', ':authority': 'foo.extsvc.com' }, add: { 'x-req-add': 'v2', ':authority': 'bar.extsvc.com' }, remove: ['x-req-remove'] },
				response: { set: { 'x-resp-set': 'v1' }, add: { 'x-resp-add': 'v2' }, remove: ['x-resp-remove'] },
			},
		}],
	} };
	const { routeConfig } = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: [acme], destinationRules: [], proxyNamespace: 'default', traits });
	const [route] = vhost(routeConfig, 'reviews.default.svc.cluster.local:9080')?.routes ?? [];
	const option = (key: string, value: string, append: boolean): JsonObject => ({ header: { key, value }, append_action: append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD' });
	t.deepEqual(route?.request_headers_to_add, [option('x-req-set', 'v1', false), option('x-req-add', 'v2', true), option('x-route-req-set', 'v1', false), option('x-route-req-add', 'v2', true)]);
	t.deepEqual(route?.response_headers_to_add, [option('x-resp-set', 'v1', false), option('x-resp-add', 'v2', true), option('x-route-resp-set', 'v1', false), option('x-route-resp-add', 'v2', true)]);
	t.deepEqual(route?.request_headers_to_remove, ['x-req-remove', 'x-route-req-remove']);
	t.deepEqual(route?.response_headers_to_remove, ['x-resp-remove', 'x-route-resp-remove']);
	t.is((route?.route as JsonObject).host_rewrite_literal, 'foo.extsvc.com');
});

test('redirect, direct response, rewrite, mirror, retries off, and a catch-all ends the list (route.go)', t => {
	const resources = virtualServices(doc('VirtualService', 'ratings', [
		'hosts: [ratings.default.svc.cluster.local]',
		'http:',
		'- match: [{uri: {exact: /old}}]',
		'  redirect: {uri: /new, redirectCode: 302, port: 9080}',
		'- match: [{uri: {regex: "/health.*"}, method: {exact: GET}}]',
		'  directResponse: {status: 200, body: {string: ok}}',
		'- match: [{queryParams: {debug: {}}, withoutHeaders: {x-skip: {exact: "1"}}}]',
		'  rewrite: {uri: /v2/, authority: ratings-v2}',
		'  mirror: {host: ratings, subset: shadow}',
		'  mirrorPercentage: {value: 25}',
		'  retries: {attempts: 0}',
		'  route: [{destination: {host: ratings}}]',
		'- route: [{destination: {host: ratings, port: {number: 9080}}}]',
		'- route: [{destination: {host: never}}]',
	].join('\n')));
	const { routeConfig } = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: resources, destinationRules: [], proxyNamespace: 'default', traits });
	const routes = vhost(routeConfig, 'ratings.default.svc.cluster.local:9080')?.routes ?? [];
	t.is(routes.length, 4);
	// Port 9080 with scheme http is kept (only :80 / :443 are dropped).
	t.deepEqual(routes[0]?.redirect, { path_redirect: '/new', port_redirect: 9080, response_code: 'FOUND' });
	t.deepEqual(routes[1]?.match, { safe_regex: { regex: '/health.*' }, case_sensitive: true, headers: [{ name: ':method', string_match: { exact: 'GET' } }] });
	t.deepEqual(routes[1]?.direct_response, { status: 200, body: { inline_string: 'ok' } });
	t.deepEqual(routes[2]?.match, { prefix: '/', case_sensitive: true,
		headers: [{ name: 'x-skip', string_match: { exact: '1' }, invert_match: true, treat_missing_header_as_empty: true }],
		query_parameters: [{ name: 'debug', present_match: true }] });
	const action = routes[2]?.route as JsonObject;
	t.is(action.prefix_rewrite, '/v2/');
	t.is(action.host_rewrite_literal, 'ratings-v2');
	t.is(action.retry_policy, undefined);
	t.deepEqual(action.request_mirror_policies, [{ cluster: 'outbound|9080|shadow|ratings.default.svc.cluster.local', runtime_fraction: { default_value: { numerator: 250_000, denominator: 'MILLION' } }, trace_sampled: false }]);
	t.is((routes[3]?.route as JsonObject).cluster, 'outbound|9080||ratings.default.svc.cluster.local');
});

test('match port, sourceLabels and gateways select routes per proxy and port (route.go TranslateRoute, sourceMatchHTTP)', t => {
	const resources = virtualServices(doc('VirtualService', 'reviews', [
		'hosts: [reviews]',
		'http:',
		'- match: [{sourceLabels: {app: productpage}}]',
		'  route: [{destination: {host: reviews, subset: v2}}]',
		'- match: [{port: 8080}]',
		'  route: [{destination: {host: reviews, subset: v3}}]',
		'- match: [{gateways: [istio-system/ingress]}]',
		'  route: [{destination: {host: reviews, subset: v3}}]',
		'- route: [{destination: {host: reviews, subset: v1}}]',
	].join('\n')));
	const clusters = (labels: Record<string, string>): unknown[] => {
		const { routeConfig } = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: resources, destinationRules: [], proxyNamespace: 'default', proxyLabels: labels, traits });
		return (vhost(routeConfig, 'reviews.default.svc.cluster.local:9080')?.routes ?? []).map(route => (route.route as JsonObject).cluster);
	};

	// For productpage the sourceLabels match leaves prefix / without headers: a catch-all, so istiod stops there.
	t.deepEqual(clusters({ app: 'productpage' }), ['outbound|9080|v2|reviews.default.svc.cluster.local']);
	// For others: the port 8080 and gateway matches are dropped on a sidecar's port 9080.
	t.deepEqual(clusters({ app: 'ratings' }), ['outbound|9080|v1|reviews.default.svc.cluster.local']);
});

test('consistent hashing from the DestinationRule becomes a hash_policy and drops the previous-hosts predicate (route.go, retry.go)', t => {
	const rules = destinationRules(doc('DestinationRule', 'reviews', 'host: reviews\ntrafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}'));
	const { routeConfig } = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: [], destinationRules: rules, proxyNamespace: 'default', traits });
	const route = vhost(routeConfig, 'reviews.default.svc.cluster.local:9080')?.routes[0]?.route as JsonObject;
	t.deepEqual(route.hash_policy, [{ header: { header_name: 'x-user' } }]);
	const withVs = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: virtualServices(doc('VirtualService', 'r', 'hosts: [reviews]\nhttp: [{route: [{destination: {host: reviews}}]}]')), destinationRules: rules, proxyNamespace: 'default', traits });
	const action = vhost(withVs.routeConfig, 'reviews.default.svc.cluster.local:9080')?.routes[0]?.route as JsonObject;
	t.deepEqual(action.hash_policy, [{ header: { header_name: 'x-user' } }]);
	t.is((action.retry_policy as JsonObject).retry_host_predicate, undefined);
});

test('VirtualServices: first one wins a host, exportTo hides, off-port ones are left out, gateway-bound ones are not for sidecars', t => {
	const resources = virtualServices([
		doc('VirtualService', 'first', 'hosts: [reviews]\nhttp: [{route: [{destination: {host: reviews, subset: v1}}]}]'),
		doc('VirtualService', 'second', 'hosts: [reviews]\nhttp: [{route: [{destination: {host: reviews, subset: v2}}]}]'),
		doc('VirtualService', 'private', 'hosts: [ratings.default.svc.cluster.local]\nexportTo: ["."]\nhttp: [{route: [{destination: {host: ratings, subset: v9}}]}]'),
		doc('VirtualService', 'edge', 'hosts: [productpage]\ngateways: [istio-system/ingress]\nhttp: [{route: [{destination: {host: productpage, subset: v9}}]}]'),
	].join(''));
	const shop = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: resources, destinationRules: [], proxyNamespace: 'shop', traits });
	const cluster = (host: string): unknown => (vhost(shop.routeConfig, host)?.routes[0]?.route as JsonObject).cluster;
	t.is(cluster('reviews.default.svc.cluster.local:9080'), 'outbound|9080|v1|reviews.default.svc.cluster.local');
	t.is(cluster('ratings.default.svc.cluster.local:9080'), 'outbound|9080||ratings.default.svc.cluster.local');
	t.is(cluster('productpage.default.svc.cluster.local:9080'), 'outbound|9080||productpage.default.svc.cluster.local');
	t.true(shop.notes.some(note => note.includes('VirtualService default/second') && note.includes('not merged')));
	// Port 80 keeps every VirtualService (httproute.go "hack to keep consistent with previous behavior"): hosts that
	// are no Service on port 80 get a virtual host of their own name there.
	const port80 = outboundRouteConfig({ port: 80, services: bookinfo, virtualServices: resources, destinationRules: [], proxyNamespace: 'default', traits });
	t.deepEqual((port80.routeConfig.virtual_hosts as unknown as VirtualHost[]).map(host => [host.name, host.domains]), [
		['api.example.com:80', ['api.example.com', 'api.example.com.']],
		['ratings.default.svc.cluster.local:80', ['ratings.default.svc.cluster.local']],
		['reviews.default.svc.cluster.local:80', ['reviews.default.svc.cluster.local']],
		['block_all', ['*']],
	]);
});

test('gateway route config: virtual hosts per VirtualService host ∩ server hosts, 404 without one (gateway.go buildGatewayHTTPRouteConfig)', t => {
	const resources = virtualServices([
		doc('VirtualService', 'bookinfo', [
			'hosts: ["bookinfo.example.com", "other.example.com"]',
			'gateways: [bookinfo-gateway]',
			'http:',
			'- match: [{uri: {prefix: /}}]',
			'  route: [{destination: {host: productpage, port: {number: 9080}}}]',
			'- match: [{uri: {exact: /never}}]',
			'  route: [{destination: {host: productpage}}]',
		].join('\n')),
		doc('VirtualService', 'login', 'hosts: [bookinfo.example.com]\ngateways: [default/bookinfo-gateway]\nhttp: [{match: [{uri: {exact: /productpage}}], route: [{destination: {host: productpage}}]}]'),
	].join(''));
	const servers = [{ gateway: 'default/bookinfo-gateway', server: { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*.example.com'] } }];
	const { routeConfig } = gatewayRouteConfig({ routeConfigName: 'http.8080', port: 80, servers, virtualServices: resources, services: bookinfo, destinationRules: [], gatewayNamespace: 'istio-system', traits });
	t.is(routeConfig.name, 'http.8080');
	t.deepEqual((routeConfig.virtual_hosts as unknown as VirtualHost[]).map(host => [host.name, host.domains]),
		[['bookinfo.example.com:80', ['bookinfo.example.com']], ['other.example.com:80', ['other.example.com']]]);
	// The first VirtualService stops at its catch-all (/never is not built); the second one's routes join the same
	// virtual host and SortVHostRoutes moves the catch-all last. A single-port Service is reached on its port.
	t.deepEqual(vhost(routeConfig, 'bookinfo.example.com:80')?.routes.map(route => [(route.match as JsonObject).path ?? (route.match as JsonObject).prefix, (route.route as JsonObject).cluster]),
		[['/productpage', 'outbound|9080||productpage.default.svc.cluster.local'], ['/', 'outbound|9080||productpage.default.svc.cluster.local']]);
	const empty = gatewayRouteConfig({ routeConfigName: 'http.8080', port: 80, servers: [{ gateway: 'istio-system/other', server: servers[0]!.server }], virtualServices: resources, services: bookinfo, destinationRules: [], gatewayNamespace: 'istio-system', traits });
	t.deepEqual(empty.routeConfig.virtual_hosts, [{ name: 'blackhole:80', domains: ['*'], routes: [] }]);
	t.true(empty.notes.some(note => note.includes('404')));
});

test('what is not modelled is said: tcp routes, delegates', t => {
	const resources = virtualServices([
		doc('VirtualService', 'tcp', 'hosts: [ratings]\ntcp: [{route: [{destination: {host: ratings}}]}]'),
		doc('VirtualService', 'root', 'hosts: [reviews]\nhttp: [{name: to-team, delegate: {name: reviews-team}}, {route: [{destination: {host: reviews, subset: v1}}]}]'),
	].join(''));
	const { routeConfig, notes } = outboundRouteConfig({ port: 9080, services: bookinfo, virtualServices: resources, destinationRules: [], proxyNamespace: 'default', traits });
	t.true(notes.some(note => note.includes('VirtualService default/tcp') && note.includes('tcp and tls routes are not modelled')));
	t.true(notes.some(note => note.includes('delegate routes are not modelled; route to-team is left out')));
	t.deepEqual(vhost(routeConfig, 'reviews.default.svc.cluster.local:9080')?.routes.map(route => (route.route as JsonObject).cluster), ['outbound|9080|v1|reviews.default.svc.cluster.local']);
});
