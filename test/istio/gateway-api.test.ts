/**
 * Gateway API (gateway.networking.k8s.io/v1 Gateway + HTTPRoute): validation as the API server does it with the
 * standard-channel CRDs (gateway-api v1.4.1), istiod's conversion (pilot/pkg/config/kube/gateway, golden files of
 * istio/istio 1.29.6 in gateway-api-testdata/), and which Gateway servers a gateway proxy serves
 * (pilot/pkg/model/gateway.go, pilot/pkg/networking/core/gateway.go).
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import type { GatewayResource, HttpRouteResource, KubeGatewayResource, VirtualServiceResource } from '../../src/istio/config-resources.ts';
import type { MeshService } from '../../src/istio/mesh/model.ts';
import { convertGatewayApi, gatewayDeploymentService } from '../../src/istio/networking/gateway-api.ts';
import { gatewayServers } from '../../src/istio/networking/gateway-servers.ts';
import type { ParsedIstio } from '../../src/istio/parse.ts';
import { versionTraits, type IstioVersion } from '../../src/istio/version.ts';
import { errors, parse } from './helpers.ts';

const testdata = new URL('gateway-api-testdata/', import.meta.url);

function kubeGateways(parsed: ParsedIstio): KubeGatewayResource[] {
	return parsed.config.filter((resource): resource is KubeGatewayResource => resource.kind === 'KubeGateway');
}

function httpRoutes(parsed: ParsedIstio): HttpRouteResource[] {
	return parsed.config.filter((resource): resource is HttpRouteResource => resource.kind === 'HTTPRoute');
}

function convert(text: string, version: IstioVersion = '1.29', services: readonly MeshService[] = [], domainSuffix?: string) {
	const parsed = parse(text, version);
	return { parsed, ...convertGatewayApi({ kubeGateways: kubeGateways(parsed), httpRoutes: httpRoutes(parsed), services, traits: versionTraits(version), ...(domainSuffix ? { domainSuffix } : {}) }) };
}

function service(name: string, namespace: string, selector: Record<string, string>, ports: Array<[number, number]>): MeshService {
	return {
		name, namespace, hostname: `${name}.${namespace}.svc.cluster.local`, external: false, selector, endpoints: [],
		ports: ports.map(([port, targetPort]) => ({ name: `http-${port}`, port, targetPort, protocol: 'HTTP' as const })),
	};
}

const gateway = (spec: string, metadata = 'name: gw\n  namespace: istio-system'): string =>
	`apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  ${metadata}\nspec:\n${spec.split('\n').map(line => `  ${line}`).join('\n')}\n`;
const route = (spec: string, metadata = 'name: r\n  namespace: default'): string =>
	`apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  ${metadata}\nspec:\n${spec.split('\n').map(line => `  ${line}`).join('\n')}\n`;
const httpListener = 'gatewayClassName: istio\nlisteners:\n- {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}';

// --- validation -------------------------------------------------------------------------------------------

test('a valid Gateway and HTTPRoute parse, with the CRD defaults the API server applies', t => {
	const parsed = parse(`${gateway('gatewayClassName: istio\nlisteners:\n- {name: http, port: 80, protocol: HTTP}')}---\n${route('parentRefs: [{name: gw, namespace: istio-system}]\nrules:\n- backendRefs: [{name: my-app, port: 8080}]')}`);
	t.deepEqual(errors(parsed), []);
	const [kubeGateway] = kubeGateways(parsed);
	const [httpRoute] = httpRoutes(parsed);
	t.deepEqual(kubeGateway?.spec.listeners[0]?.allowedRoutes, { namespaces: { from: 'Same' } });
	t.deepEqual(httpRoute?.spec.parentRefs, [{ name: 'gw', namespace: 'istio-system', group: 'gateway.networking.k8s.io', kind: 'Gateway' }]);
	t.deepEqual(httpRoute?.spec.rules?.[0]?.matches, [{ path: { type: 'PathPrefix', value: '/' } }]);
	t.deepEqual(httpRoute?.spec.rules?.[0]?.backendRefs, [{ name: 'my-app', port: 8080, group: '', kind: 'Service', weight: 1 }]);
});

test('the API server refuses: schema and CEL rules of the CRDs, each at its line and column', t => {
	const cases: Array<[string, string, string]> = [
		[gateway('gatewayClassName: istio\nlisteners:\n- name: http\n  port: 80\n  protocol: HTTP\n  extra: 1'), 'spec.listeners[0].extra', 'unknown field "spec.listeners[0].extra"'],
		[gateway('gatewayClassName: istio\nlisteners:\n- {name: http, port: 0, protocol: HTTP}'), 'spec.listeners[0].port', 'should be greater than or equal to 1'],
		[gateway('gatewayClassName: istio\nlisteners:\n- {name: http, port: "80", protocol: HTTP}'), 'spec.listeners[0].port', 'must be of type integer'],
		[gateway('gatewayClassName: istio\nlisteners: []'), 'spec.listeners', 'should have at least 1 items'],
		[gateway('listeners:\n- {name: http, port: 80, protocol: HTTP}'), 'spec.gatewayClassName', 'Required value'],
		[gateway('gatewayClassName: istio\nlisteners:\n- {name: a, port: 80, protocol: HTTP}\n- {name: a, port: 81, protocol: HTTP}'), 'spec.listeners[1]', 'Duplicate value: {"name":"a"}'],
		[gateway('gatewayClassName: istio\nlisteners:\n- {name: a, port: 80, protocol: HTTP}\n- {name: b, port: 80, protocol: HTTP}'), 'spec.listeners[1]', 'Combination of port, protocol and hostname must be unique for each listener'],
		[gateway('gatewayClassName: istio\nlisteners:\n- {name: a, port: 80, protocol: HTTP, tls: {certificateRefs: [{name: c}]}}'), 'spec.listeners[0].tls', "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"],
		[gateway('gatewayClassName: istio\nlisteners:\n- {name: a, port: 443, protocol: HTTPS, tls: {mode: Terminate}}'), 'spec.listeners[0].tls', 'certificateRefs or options must be specified when mode is Terminate'],
		[gateway('gatewayClassName: istio\nlisteners:\n- {name: a, port: 443, protocol: HTTPS, tls: {mode: Passthrough, certificateRefs: [{name: c}]}}'), 'spec.listeners[0].tls.mode', 'tls mode must be Terminate for protocol HTTPS'],
		[gateway(`${httpListener}\naddresses: [{type: IPAddress, value: gw.example}]`), 'spec.addresses[0].value', 'must be of type ipv4 or ipv6'],
		[route('rules:\n- matches: [{path: {type: PathPrefix, value: get}}]'), 'spec.rules[0].matches[0].path.value', "value must be an absolute path and start with '/'"],
		[route('rules:\n- matches: [{path: {type: Prefix, value: /}}]'), 'spec.rules[0].matches[0].path.type', 'Unsupported value: "Prefix"'],
		[route('rules:\n- backendRefs: [{name: a}]'), 'spec.rules[0].backendRefs[0]', 'Must have port for Service reference'],
		[route('rules:\n- backendRefs: [{name: a, port: 80}]\n  filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]'), 'spec.rules[0]', 'RequestRedirect filter must not be used together with backendRefs'],
		[route('rules:\n- filters: [{type: RequestHeaderModifier}]'), 'spec.rules[0].filters[0]', 'filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type'],
		[route('rules:\n- filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]\n  matches: [{path: {type: Exact, value: /a}}]'), 'spec.rules[0]', 'When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified'],
		[route('rules:\n- timeouts: {request: 1s, backendRequest: 2s}'), 'spec.rules[0].timeouts', 'backendRequest timeout cannot be longer than request timeout'],
		[route('parentRefs: [{name: gw}, {name: gw, sectionName: http}]'), 'spec.parentRefs[0]', 'sectionName must be specified when parentRefs includes 2 or more references to the same parent'],
		[route('rules:\n- retry: {attempts: 3}'), 'spec.rules[0].retry', 'unknown field "spec.rules[0].retry"'],
		// YAML 1.1, as kubectl reads it: `y` is a boolean.
		[route('rules:\n- matches: [{headers: [{name: x-canary, value: y}]}]'), 'spec.rules[0].matches[0].headers[0].value', 'Invalid value: boolean true: spec.rules[0].matches[0].headers[0].value in body must be of type string'],
	];
	for (const [text, field, message] of cases) {
		const parsed = parse(text);
		const found = parsed.findings.filter(finding => finding.severity === 'error');
		t.true(found.some(finding => finding.field === field && finding.message.includes(message)),
			`${text}\n→ expected ${field}: ${message}; got ${JSON.stringify(found.map(finding => `${finding.field}: ${finding.message}`))}`);
		t.true(found.every(finding => /^test\.yaml:\d+:\d+$/.test(finding.where)), `located: ${found.map(finding => finding.where).join(' ')}`);
		t.deepEqual(parsed.config, [], 'a resource with errors is not applied');
	}

	const [yaml11] = parse(route('rules:\n- matches: [{headers: [{name: x-canary, value: y}]}]')).findings;
	t.regex(yaml11?.hint ?? '', /YAML 1\.1, where unquoted y, n, yes, no, on and off are booleans/);
});

test('a missing or malformed spec is one error, not one per field', t => {
	const head = 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\n';
	t.deepEqual(errors(parse(head)), ['test.yaml:1:1 : spec: Required value']);
	t.is(errors(parse(`${head}spec: [a]\n`)).length, 1);
});

test('the CRDs are those of the gateway-api release the emulated Istio release vendors (go.mod)', t => {
	const named = route('rules:\n- name: main\n  backendRefs: [{name: a, port: 80}]');
	const cors = route('rules:\n- filters: [{type: CORS, cors: {allowOrigins: ["https://a.example.com"]}}]\n  backendRefs: [{name: a, port: 80}]');
	const corsStar = route('rules:\n- filters: [{type: CORS, cors: {allowOrigins: ["*", "https://a.example.com"]}}]\n  backendRefs: [{name: a, port: 80}]');
	const mirror = route('rules:\n- filters: [{type: RequestMirror, requestMirror: {percent: 10, backendRef: {name: b, port: 80}}}]\n  backendRefs: [{name: a, port: 80}]');
	const cases: Array<[IstioVersion, string, string | undefined]> = [
		['1.27', named, 'unknown field "spec.rules[0].name"'], // v1.3.0
		['1.28', named, undefined], // v1.4.0
		['1.25', mirror, 'unknown field "spec.rules[0].filters[0].requestMirror.percent"'], // v1.2.1
		['1.26', mirror, undefined], // v1.3.0
		['1.29', cors, 'Unsupported value: "CORS"'], // v1.4.1
		['1.30', cors, undefined], // v1.5.1
		['1.30', corsStar, "AllowOrigins cannot contain '*' alongside other origins"],
	];
	for (const [version, text, message] of cases) {
		const found = errors(parse(text, version));
		t.true(message === undefined ? found.length === 0 : found.some(line => line.includes(message)), `${version}: ${text}\n→ ${message ?? 'no error'}; got ${JSON.stringify(found)}`);
	}

	// The `http-route-cors` HTTPRoute of istio 1.30.3 testdata/http.yaml and its corsPolicy in http.yaml.golden.
	const attached = `${gateway(httpListener)}---\n${route(`parentRefs: [{name: gw, namespace: istio-system}]
rules:
- backendRefs: [{kind: Service, name: httpbin, port: 80}]
  filters:
  - type: CORS
    cors:
      allowCredentials: true
      allowOrigins: ['https://*.xpto.com', "https://example.com"]
      allowMethods: [GET, HEAD, POST]
      allowHeaders: [Accept, Accept-Language, Content-Language, Content-Type, Range]
      exposeHeaders: ["x-header-3", "x-header-4"]
      maxAge: 50`)}`;
	t.deepEqual(convert(attached, '1.30').virtualServices[0]?.spec.http?.[0]?.corsPolicy, {
		allowCredentials: true,
		allowHeaders: ['Accept', 'Accept-Language', 'Content-Language', 'Content-Type', 'Range'],
		allowMethods: ['GET', 'HEAD', 'POST'],
		allowOrigins: [{ regex: '^https://.*\\.xpto\\.com$' }, { exact: 'https://example.com' }],
		exposeHeaders: ['x-header-3', 'x-header-4'],
		maxAge: '50s',
		unmatchedPreflights: 'IGNORE',
	});
});

test('a gatewayClassName other than istio is accepted by the API server and noted as not Istio\'s', t => {
	const parsed = parse(gateway('gatewayClassName: envoy-gateway\nlisteners:\n- {name: http, port: 80, protocol: HTTP}'));
	t.deepEqual(errors(parsed), []);
	t.true(parsed.findings.some(finding => finding.severity === 'note' && finding.checker === 'istiod' && finding.message.includes('"envoy-gateway" is not Istio\'s')));
	const converted = convert(gateway('gatewayClassName: envoy-gateway\nlisteners:\n- {name: http, port: 80, protocol: HTTP}'));
	t.deepEqual([converted.gateways, converted.deployments], [[], []]);
});

// --- conversion (istiod) ----------------------------------------------------------------------------------

type Golden = { kind: string; metadata: { name: string; namespace: string; annotations: Record<string, string> }; spec: Record<string, unknown> };

/** A testdata input converted by meshbox, and istio's golden output for it, in the same shape. */
function againstGolden(name: string) {
	const input = readFileSync(new URL(`${name}.yaml`, testdata), 'utf8');
	const golden = parseAllDocuments(readFileSync(new URL(`${name}.golden.yaml`, testdata), 'utf8'))
		.map(document => document.toJS() as Golden | null)
		.filter((document): document is Golden => document !== null && (document.kind === 'Gateway' || document.kind === 'VirtualService'))
		.map(({ kind, metadata, spec }) => ({ kind, metadata: { name: metadata.name, namespace: metadata.namespace, annotations: metadata.annotations }, spec }));
	const { parsed, gateways, virtualServices, notes } = convert(input, '1.29', [], 'domain.suffix');
	const shape = (resource: GatewayResource | VirtualServiceResource) => ({
		kind: resource.kind, metadata: { name: resource.name, namespace: resource.namespace, annotations: resource.annotations },
		// Generated Gateways have no selector (they select by the gateway-service annotation).
		spec: resource.kind === 'Gateway' ? { servers: resource.spec.servers } : resource.spec,
	});
	const byName = (a: Golden, b: Golden) => a.metadata.name.localeCompare(b.metadata.name);
	return { parsed, notes, actual: [...gateways, ...virtualServices].map(shape).sort(byName), expected: golden.sort(byName) };
}

test('Gateway + HTTPRoutes → the Istio Gateway and VirtualServices of istio 1.29.6\'s golden files (http, weighted)', t => {
	const { parsed, notes, actual, expected } = againstGolden('http');
	t.deepEqual(errors(parsed), []);
	t.deepEqual(actual, expected);
	t.true(notes.some(note => note.includes('HTTPRoute default/http-not-selected') && note.includes('no hostnames matched parent hostname "*.domain.example"')), notes.join('\n'));
});

test('listener hostname isolation as in istio 1.29.6\'s golden file (the Gateway API conformance case)', t => {
	const { parsed, actual, expected } = againstGolden('isolation');
	t.deepEqual(errors(parsed), []);
	t.deepEqual(actual, expected);
});

test('HTTPRoutes for the same listener and host merge into one VirtualService, ordered as Gateway API requires', t => {
	const text = [
		gateway(httpListener),
		// Without a creationTimestamp it counts as created after the others (src/istio/README.md "Ordering ties").
		route('parentRefs: [{name: gw, namespace: istio-system}]\nhostnames: [a.example.com]\nrules:\n- matches: [{path: {type: PathPrefix, value: /api}}]\n  backendRefs: [{name: late, port: 80}]',
			'name: untimed\n  namespace: other'),
		route('parentRefs: [{name: gw, namespace: istio-system}]\nhostnames: [a.example.com]\nrules:\n- matches: [{path: {type: PathPrefix, value: /api}}]\n  backendRefs: [{name: api, port: 80}]',
			'name: first\n  namespace: default\n  creationTimestamp: "2026-01-01T00:00:00Z"'),
		route('parentRefs: [{name: gw, namespace: istio-system}]\nhostnames: [a.example.com]\nrules:\n- matches: [{path: {type: Exact, value: /api/v2}, method: GET}]\n  backendRefs: [{name: v2, port: 80}]\n- backendRefs: [{name: web, port: 80}]',
			'name: second\n  namespace: default\n  creationTimestamp: "2026-01-02T00:00:00Z"'),
	].join('---\n');
	const { virtualServices } = convert(text);
	t.is(virtualServices.length, 1);
	const [virtualService] = virtualServices;
	t.is(virtualService?.name, 'istio-system~gw~istio-autogenerated-k8s-gateway~http~a.example.com');
	t.is(virtualService?.namespace, 'default');
	t.is(virtualService?.annotations['internal.istio.io/parents'], 'HTTPRoute/first.default,HTTPRoute/second.default,HTTPRoute/untimed.other');
	// Exact before prefix; longer prefixes first (equal ones in creation order); the default match `/` last.
	t.deepEqual(virtualService?.spec.http?.map(entry => [entry.name, entry.match?.[0]?.uri, entry.match?.[0]?.method, entry.route?.[0]?.destination.host]), [
		['default.second.0', { exact: '/api/v2' }, { exact: 'GET' }, 'v2.default.svc.cluster.local'],
		['default.first.0', { prefix: '/api' }, undefined, 'api.default.svc.cluster.local'],
		['other.untimed.0', { prefix: '/api' }, undefined, 'late.other.svc.cluster.local'],
		['default.second.1', { prefix: '/' }, undefined, 'web.default.svc.cluster.local'],
	]);
});

test('generated names follow the release: `~` from 1.28, `-` before; 1.25 names a VirtualService after its route', t => {
	const text = `${gateway(httpListener)}---\n${route('parentRefs: [{name: gw, namespace: istio-system}]\nhostnames: [a.example.com]\nrules:\n- backendRefs: [{name: a, port: 80}]')}`;
	const expected: Array<[IstioVersion, string, string]> = [
		['1.30', 'gw~istio-autogenerated-k8s-gateway~http', 'istio-system~gw~istio-autogenerated-k8s-gateway~http~a.example.com'],
		['1.28', 'gw~istio-autogenerated-k8s-gateway~http', 'istio-system~gw~istio-autogenerated-k8s-gateway~http~a.example.com'],
		['1.27', 'gw-istio-autogenerated-k8s-gateway-http', 'istio-system~gw-istio-autogenerated-k8s-gateway-http~a.example.com'],
		['1.25', 'gw-istio-autogenerated-k8s-gateway-http', 'r-0-istio-autogenerated-k8s-gateway'],
	];
	for (const [version, gatewayName, virtualServiceName] of expected) {
		const { gateways, virtualServices } = convert(text, version);
		t.deepEqual([gateways.map(entry => entry.name), virtualServices.map(entry => entry.name), virtualServices[0]?.spec.gateways],
			[[gatewayName], [virtualServiceName], [`istio-system/${gatewayName}`]], version);
	}

	// The service-account annotation came with a security fix: 1.28.0, 1.27.2, 1.26.5 (golden files at those tags).
	const annotated = (version: IstioVersion, patch: number) => convertGatewayApi({
		kubeGateways: kubeGateways(parse(text, version)), httpRoutes: [], services: [], traits: versionTraits(version, patch),
	}).gateways.map(entry => entry.annotations['internal.istio.io/service-account-name']);
	t.deepEqual([annotated('1.26', 4), annotated('1.26', 5), annotated('1.27', 1), annotated('1.27', 2), annotated('1.25', 5), annotated('1.28', 0)],
		[[undefined], ['gw-istio'], [undefined], ['gw-istio'], [undefined], ['gw-istio']]);
});

test('a managed Gateway gets the deployment istiod creates: <gw>-istio, its labels, service account and listener ports', t => {
	const text = gateway('gatewayClassName: istio\nlisteners:\n- {name: http, port: 80, protocol: HTTP}\n- {name: http.alt, port: 8080, hostname: alt.example.com, protocol: HTTP}\n- {name: https, port: 443, protocol: HTTPS, tls: {certificateRefs: [{name: my-cert}]}}',
		'name: my-gw\n  namespace: apps\n  labels: {team: web}');
	const { gateways, deployments } = convert(text);
	t.deepEqual(deployments, [{
		name: 'my-gw-istio',
		namespace: 'apps',
		labels: {
			'sidecar.istio.io/inject': 'false', 'service.istio.io/canonical-name': 'my-gw-istio', 'service.istio.io/canonical-revision': 'latest', team: 'web',
			'gateway.networking.k8s.io/gateway-name': 'my-gw', 'gateway.networking.k8s.io/gateway-class-name': 'istio', 'gateway.istio.io/managed': 'istio.io-gateway-controller',
		},
		ports: [{ port: 80, targetPort: 80, name: 'http', appProtocol: 'http' }, { port: 8080, targetPort: 8080, name: 'http-alt', appProtocol: 'http' }, { port: 443, targetPort: 443, name: 'https', appProtocol: 'https' }],
		serviceAccount: 'my-gw-istio',
		gatewayName: 'my-gw',
	}]);
	t.deepEqual(gateways.map(entry => [entry.name, entry.annotations['internal.istio.io/gateway-service'], entry.annotations['internal.istio.io/service-account-name'], entry.spec.servers]), [
		['my-gw~istio-autogenerated-k8s-gateway~http', 'my-gw-istio.apps.svc.cluster.local', 'my-gw-istio', [{ port: { number: 80, protocol: 'HTTP', name: 'default' }, hosts: ['apps/*'] }]],
		['my-gw~istio-autogenerated-k8s-gateway~http.alt', 'my-gw-istio.apps.svc.cluster.local', 'my-gw-istio', [{ port: { number: 8080, protocol: 'HTTP', name: 'default' }, hosts: ['apps/alt.example.com'] }]],
		['my-gw~istio-autogenerated-k8s-gateway~https', 'my-gw-istio.apps.svc.cluster.local', 'my-gw-istio',
			[{ port: { number: 443, protocol: 'HTTPS', name: 'default' }, hosts: ['apps/*'], tls: { mode: 'SIMPLE', credentialName: 'kubernetes-gateway://apps/my-cert' } }]],
	]);
});

test('what istiod does not translate is a note, never silence', t => {
	const text = [
		gateway('gatewayClassName: istio\nlisteners:\n- {name: http, port: 80, protocol: HTTP}\n- {name: tcp, port: 9000, protocol: TCP}'),
		route('parentRefs: [{name: gw, namespace: istio-system}]\nrules:\n- backendRefs: [{name: a, port: 80}]', 'name: other-ns\n  namespace: default'),
		route('parentRefs: [{name: gw}]\nrules:\n- filters: [{type: ExtensionRef, extensionRef: {group: x.io, kind: Thing, name: t}}]\n  backendRefs: [{name: a, port: 80}]', 'name: ext\n  namespace: istio-system'),
		route('parentRefs: [{name: gw}]\nrules:\n- backendRefs: [{name: missing, port: 80}]', 'name: missing\n  namespace: istio-system'),
		route('parentRefs: [{group: "", kind: Service, name: a}]\nrules:\n- backendRefs: [{name: a, port: 80}]', 'name: mesh\n  namespace: default'),
	].join('---\n');
	const { notes, virtualServices } = convert(text, '1.29', [service('a', 'default', { app: 'a' }, [[80, 8080]])]);
	const expected = [
		'listener tcp: protocol "TCP" is supported, but only when PILOT_ENABLE_ALPHA_GATEWAY_API=true is configured',
		'HTTPRoute default/other-ns (test.yaml:12): not accepted by Gateway istio-system/gw: hostnames matched parent hostname "", but namespace "default" is not allowed by the parent',
		'HTTPRoute istio-system/ext (test.yaml:22): rule 0: unsupported filter type "ExtensionRef"; the HTTPRoute generates no routes',
		'backend(missing.istio-system.svc.cluster.local) not found',
		'parentRef to Service default/a (mesh routing, GAMMA) is not modelled',
		'Gateway API status (conditions, attachedRoutes, addresses) is not modelled',
	];
	for (const text of expected) {
		t.true(notes.some(note => note.includes(text)), `expected a note with: ${text}\n${notes.join('\n')}`);
	}

	t.deepEqual(virtualServices.map(entry => entry.annotations['internal.istio.io/parents']), ['HTTPRoute/missing.istio-system']);
	// Nothing to convert, nothing to say.
	t.deepEqual(convertGatewayApi({ kubeGateways: [], httpRoutes: [], services: [], traits: versionTraits('1.29') }), { gateways: [], virtualServices: [], deployments: [], notes: [] });
});

// --- gateway servers --------------------------------------------------------------------------------------

const ingress = { labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' }, namespace: 'istio-system' };
const ingressService = service('istio-ingressgateway', 'istio-system', { istio: 'ingressgateway' }, [[80, 8080], [443, 8443]]);

/** The seed article's Gateway and its VirtualService (without its non-API `wasm:`), as fixtures/mesh/seed has them. */
const seed = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: my-app-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [my-app.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: my-app, namespace: default}
spec:
  hosts: [my-app.example.com]
  gateways: [my-app-gateway]
  http:
  - match: [{uri: {prefix: /}}]
    route: [{destination: {host: my-app-service, port: {number: 8080}}}]
`;

function istioConfig(text: string) {
	const parsed = parse(text);
	return {
		gateways: parsed.config.filter((resource): resource is GatewayResource => resource.kind === 'Gateway'),
		virtualServices: parsed.config.filter((resource): resource is VirtualServiceResource => resource.kind === 'VirtualService'),
	};
}

test('the seed\'s my-app-gateway on istio: ingressgateway: container port 8080, route config http.8080, its VirtualService bound', t => {
	const { gateways, virtualServices } = istioConfig(seed);
	const { ports, notes } = gatewayServers({ proxyLabels: ingress.labels, proxyNamespace: ingress.namespace, gateways, virtualServices, services: [ingressService], traits: versionTraits('1.29') });
	t.deepEqual(notes, []);
	t.deepEqual(ports[0]?.routeConfigs[0]?.virtualHosts[0]?.bindings.map(binding => [binding.gatewayName, binding.virtualService.name]), [['default/my-app-gateway', 'my-app']]);
	t.deepEqual(ports.map(port => ({
		port: port.port, protocol: port.protocol,
		servers: port.servers.map(bound => [bound.gatewayName, bound.routeName, bound.server.hosts, bound.tls]),
		routeConfigs: port.routeConfigs.map(config => ({ name: config.name, virtualHosts: config.virtualHosts.map(host => [host.name, host.domains, host.virtualServices.map(vs => `${vs.namespace}/${vs.name}`)]) })),
	})), [{
		port: 8080, protocol: 'HTTP',
		servers: [['default/my-app-gateway', 'http.8080', ['my-app.example.com'], undefined]],
		routeConfigs: [{ name: 'http.8080', virtualHosts: [['my-app.example.com:80', ['my-app.example.com'], ['default/my-app']]] }],
	}]);

	// A proxy the selector does not match serves nothing; without its Service the port is taken as written.
	t.deepEqual(gatewayServers({ proxyLabels: { app: 'my-app' }, proxyNamespace: 'default', gateways, virtualServices, services: [ingressService], traits: versionTraits('1.29') }).ports, []);
	t.deepEqual(gatewayServers({ proxyLabels: ingress.labels, proxyNamespace: ingress.namespace, gateways, virtualServices, traits: versionTraits('1.29') }).ports.map(port => port.port), [80]);
	// No VirtualService bound: istiod's `blackhole` virtual host, which answers 404.
	t.deepEqual(gatewayServers({ proxyLabels: ingress.labels, proxyNamespace: ingress.namespace, gateways, virtualServices: [], services: [ingressService], traits: versionTraits('1.29') })
		.ports.flatMap(port => port.routeConfigs), [{ name: 'http.8080', virtualHosts: [{ name: 'blackhole:80', domains: ['*'], port: 80, virtualServices: [], bindings: [], requireTls: false }] }]);
});

test('HTTPS servers get their own route config name and SDS credential; exportTo and gateway names decide what binds', t => {
	const text = `${seed}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: secure, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-app, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls: {mode: SIMPLE, credentialName: app-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wildcard, namespace: apps}
spec:
  hosts: [api.example.com, other.test]
  gateways: [istio-system/secure]
  http: [{route: [{destination: {host: api}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: apps}
spec:
  hosts: [private.example.com]
  gateways: [istio-system/secure]
  exportTo: ["."]
  http: [{route: [{destination: {host: private}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wrong-gateway-namespace, namespace: apps}
spec:
  hosts: [wrong.example.com]
  gateways: [secure]
  http: [{route: [{destination: {host: wrong}}]}]
`;
	const { gateways, virtualServices } = istioConfig(text);
	const { ports } = gatewayServers({ proxyLabels: ingress.labels, proxyNamespace: ingress.namespace, gateways, virtualServices, services: [ingressService], traits: versionTraits('1.29') });
	const https = ports.find(port => port.port === 8443);
	t.deepEqual(https?.servers.map(bound => [bound.routeName, bound.tls, bound.sniHosts]), [['https.443.https-app.secure.istio-system', { mode: 'SIMPLE', credentialName: 'app-cert' }, ['*.example.com']]]);
	// `private` is exported to its own namespace only (not the gateway's); `secure` alone means apps/secure.
	t.deepEqual(https?.routeConfigs.map(config => [config.name, config.virtualHosts.map(host => [host.name, host.virtualServices.map(vs => vs.name)])]),
		[['https.443.https-app.secure.istio-system', [['api.example.com:443', ['wildcard']]]]]);
});

test('a Gateway API gateway is served by the proxy behind its Service, on the listener port', t => {
	const text = `${gateway('gatewayClassName: istio\nlisteners:\n- {name: http, port: 80, hostname: "*.example.com", protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}', 'name: my-gw\n  namespace: apps')}---\n${
		route('parentRefs: [{name: my-gw, namespace: apps}]\nhostnames: [shop.example.com]\nrules:\n- backendRefs: [{name: shop, port: 8080}]', 'name: shop\n  namespace: default')}`;
	const converted = convert(text, '1.29', [service('shop', 'default', { app: 'shop' }, [[8080, 8080]])]);
	const [deployment] = converted.deployments;
	t.truthy(deployment);
	// The Service istiod's template creates: selects the gateway-name label, one port per listener port.
	const gatewayService = gatewayDeploymentService(deployment!);
	t.like(gatewayService, { name: 'my-gw-istio', hostname: 'my-gw-istio.apps.svc.cluster.local', selector: { 'gateway.networking.k8s.io/gateway-name': 'my-gw' } });
	t.deepEqual(gatewayService.ports, [{ name: 'http', port: 80, targetPort: 80, protocol: 'HTTP' }]);
	const serve = (labels: Record<string, string>, namespace: string) => gatewayServers({
		proxyLabels: labels, proxyNamespace: namespace, gateways: converted.gateways, virtualServices: converted.virtualServices,
		services: [gatewayService, ingressService], traits: versionTraits('1.29'),
	}).ports;
	t.deepEqual(serve(deployment!.labels, deployment!.namespace).map(port => [port.port, port.routeConfigs.map(config => [config.name, config.virtualHosts.map(host => [host.name, host.virtualServices.map(vs => vs.name)])])]),
		[[80, [['http.80', [['shop.example.com:80', ['apps~my-gw~istio-autogenerated-k8s-gateway~http~shop.example.com']]]]]]]);
	// The ingress gateway (no selector to match: the generated Gateway has none) does not serve it.
	t.deepEqual(serve(ingress.labels, ingress.namespace), []);
});

test('servers of several Gateways on one port share its listener and route config; a TCP server there is refused', t => {
	const text = `${seed}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: second, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http2, protocol: HTTP2}
    hosts: ["istio-system/shop.example.com", "./admin.example.com"]
  - port: {number: 80, name: raw, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: istio-system}
spec:
  hosts: [shop.example.com, admin.example.com]
  gateways: [second]
  http: [{route: [{destination: {host: shop.default.svc.cluster.local}}]}]
`;
	const { gateways, virtualServices } = istioConfig(text);
	const { ports, notes } = gatewayServers({ proxyLabels: ingress.labels, proxyNamespace: ingress.namespace, gateways, virtualServices, services: [ingressService], traits: versionTraits('1.29') });
	// Hosts with the very same routes collapse into one virtual host named after the most specific (longest) one.
	t.deepEqual(ports.map(port => [port.port, port.servers.map(bound => bound.routeName), port.routeConfigs.map(config => [config.name, config.virtualHosts.map(host => [host.name, host.domains, host.virtualServices.map(vs => vs.name)])])]), [
		[8080, ['http.8080', 'http.8080'], [['http.8080', [
			['admin.example.com:80', ['admin.example.com', 'shop.example.com'], ['shop']],
			['my-app.example.com:80', ['my-app.example.com'], ['my-app']],
		]]]],
	]);
	t.deepEqual(notes, ['istiod: Gateway istio-system/second: skipping server on port raw.8080.TCP: conflict with existing server 8080.HTTP']);
});

test('allowedRoutes from Selector: namespaces by name (kubernetes.io/metadata.name), every one, or none with a note', t => {
	const listener = (selector: string) => gateway(`gatewayClassName: istio\nlisteners:\n- {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, selector: ${selector}}}}`);
	const cases: Array<[string, string[], boolean]> = [
		['{matchLabels: {kubernetes.io/metadata.name: apps}}', ['apps/*'], false],
		['{matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [b, a]}]}', ['a/*', 'b/*'], false],
		['{}', ['*/*'], false],
		['{matchLabels: {team: web}}', ['~/*'], true],
	];
	for (const [selector, hosts, noted] of cases) {
		const { gateways, notes } = convert(listener(selector));
		t.deepEqual(gateways.map(entry => entry.spec.servers[0]?.hosts), [hosts], selector);
		t.is(notes.some(note => note.includes('allowedRoutes.namespaces.selector on labels other than kubernetes.io/metadata.name is not modelled')), noted, selector);
	}
});

test('routes created in the same second merge by namespace, then name, as istiod sorts them', t => {
	const at = 'creationTimestamp: "2026-01-01T00:00:00Z"';
	const text = [
		gateway(httpListener),
		route('parentRefs: [{name: gw, namespace: istio-system}]\nrules:\n- matches: [{path: {type: PathPrefix, value: /b}}]\n  backendRefs: [{name: b, port: 80}]', `name: zz\n  namespace: beta\n  ${at}`),
		route('parentRefs: [{name: gw, namespace: istio-system}]\nrules:\n- matches: [{path: {type: PathPrefix, value: /a}}]\n  backendRefs: [{name: a, port: 80}]', `name: yy\n  namespace: alpha\n  ${at}`),
		route('parentRefs: [{name: gw, namespace: istio-system}]\nrules:\n- matches: [{path: {type: PathPrefix, value: /c}}]\n  backendRefs: [{name: c, port: 80}]', `name: aa\n  namespace: beta\n  ${at}`),
	].join('---\n');
	const [virtualService] = convert(text).virtualServices;
	t.is(virtualService?.namespace, 'alpha');
	t.is(virtualService?.annotations['internal.istio.io/parents'], 'HTTPRoute/yy.alpha,HTTPRoute/aa.beta,HTTPRoute/zz.beta');
});

test('a Gateway without selector applies to every gateway proxy', t => {
	const { gateways } = istioConfig('apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: all, namespace: default}\nspec:\n  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]\n');
	const { ports } = gatewayServers({ proxyLabels: { app: 'anything' }, proxyNamespace: 'elsewhere', gateways, traits: versionTraits('1.29') });
	t.deepEqual(ports.map(port => [port.port, port.servers.map(bound => bound.gatewayName)]), [[80, ['default/all']]]);
});
