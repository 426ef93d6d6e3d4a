/**
 * EnvoyFilters across a mesh (pilot/pkg/networking/core/envoyfilter/listener_patch.go, cluster_patch.go): each
 * proxy gets the EnvoyFilters that select it (workloadSelector, namespace, root namespace), and a patch reaches
 * only the side its `context` names: SIDECAR_INBOUND a sidecar's inbound, SIDECAR_OUTBOUND its outbound, GATEWAY
 * a gateway's listeners and clusters (a single sidecar has no GATEWAY side). A patch that matches nothing is a
 * note of that proxy, as istiod ignores it.
 */
import test from 'ava';
import { meshFor } from '../../src/scenario/mesh.ts';

const hcm = 'envoy.filters.network.http_connection_manager';

function lua(code: string): string {
	return JSON.stringify({ name: 'envoy.filters.http.lua', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', default_source_code: { inline_string: code } } });
}

function insertLua(name: string, namespace: string, selector: string, context: string, code: string): string {
	return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  ${selector ? `workloadSelector: { labels: { ${selector} } }` : ''}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: ${context}
      listener: { filterChain: { filter: { name: ${hcm}, subFilter: { name: envoy.filters.http.router } } } }
    patch: { operation: INSERT_BEFORE, value: ${lua(code)} }
`;
}

const istio = [
	`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: web, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers: [ { port: { number: 80, name: http, protocol: HTTP }, hosts: [ web.example.com ] } ]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [ web.example.com ]
  gateways: [ web ]
  http: [ { route: [ { destination: { host: httpbin, port: { number: 8000 } } } ] } ]
`,
	insertLua('inbound', 'default', 'app: httpbin', 'SIDECAR_INBOUND', 'function envoy_on_response(h) h:headers():add("x-ef-inbound", "httpbin") end'),
	insertLua('outbound', 'default', 'app: sleep', 'SIDECAR_OUTBOUND', 'function envoy_on_request(h) h:headers():add("x-ef-outbound", "sleep") end'),
	insertLua('gateway', 'istio-system', 'istio: ingressgateway', 'GATEWAY', 'function envoy_on_response(h) h:headers():add("x-ef-gateway", "yes") end'),
	// Mesh-wide (root namespace, no selector), but only for gateways: never on a sidecar.
	insertLua('every-gateway', 'istio-system', '', 'GATEWAY', 'function envoy_on_response(h) h:headers():add("x-ef-every-gateway", "yes") end'),
].join('---\n');

const mesh = {
	workloads: [
		{ name: 'sleep', labels: { app: 'sleep' }, serviceAccount: 'sleep' },
		{ name: 'httpbin', labels: { app: 'httpbin' }, serviceAccount: 'httpbin', port: 8080, app: { body: 'httpbin\n' } },
	],
	services: [{ name: 'httpbin', selector: { app: 'httpbin' }, ports: [{ port: 8000, targetPort: 8080, name: 'http' }] }],
};

test('an EnvoyFilter patches the proxies it selects, on the side its context names: inbound, outbound, gateway', async t => {
	const box = await meshFor(t, { mesh, istio: { resources: [istio] } });
	const viaGateway = await box.request('/get', { host: 'web.example.com' });
	t.is(viaGateway.status, 200);
	t.is(viaGateway.body, 'httpbin\n');
	t.is(viaGateway.headers['x-ef-gateway'], 'yes', 'the GATEWAY patch on the selected gateway');
	t.is(viaGateway.headers['x-ef-every-gateway'], 'yes', 'a root-namespace GATEWAY patch reaches every gateway');
	t.is(viaGateway.headers['x-ef-inbound'], 'httpbin', 'the SIDECAR_INBOUND patch on httpbin');

	const fromSleep = await box.workload('sleep').request('http://httpbin:8000/get');
	t.is(fromSleep.status, 200);
	t.is(fromSleep.headers['x-ef-inbound'], 'httpbin');
	t.is(fromSleep.headers['x-ef-gateway'], undefined, 'no GATEWAY patch on a sidecar');
	t.is(fromSleep.headers['x-ef-every-gateway'], undefined, 'no GATEWAY patch on a sidecar, even mesh-wide');
	const recorded = await box.workload('httpbin').recordings.requests();
	t.deepEqual(recorded.map(request => request.headers['x-ef-outbound']), [undefined, 'sleep'], 'the SIDECAR_OUTBOUND patch on sleep\'s outbound only');

	// Not selected: a note naming why. Selected (mesh-wide) but its GATEWAY patch matches nothing on a sidecar:
	// istiod ignores it, the proxy's notes say so.
	const notes = box.proxy('sleep').notes.join('\n');
	t.regex(notes, /EnvoyFilter istio-system\/gateway does not apply/);
	t.regex(notes, /every-gateway.*matches nothing in the sidecar sleep's config; istiod ignores it/);
});
