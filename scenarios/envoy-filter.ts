/**
 * Patches (issue #10 part B) on real Envoy, on every runtime: an Istio EnvoyFilter that inserts a Lua filter
 * before a WasmPlugin's filter gives the chain istiod builds (the plugin sees what Lua set), the same with
 * meshbox.yaml's `envoy.patches`, and a patch that matches nothing: a note for an EnvoyFilter (istiod ignores
 * it), an error naming the patch for `envoy.patches`.
 */
import test from 'ava';
import { stories, wasmPlugin } from 'meshbox';

const story = await stories(test);

const headersWasm = 'fixtures/plugins/rust-headers/rust-headers.wasm';
const workload = { name: 'my-app', namespace: 'shop', labels: { app: 'my-app' }, port: 8080 };
const hcm = 'envoy.filters.network.http_connection_manager';
/** rust-headers echoes the request's x-wasm-echo as a response header (fixtures/plugins/CONFORMANCE.md "headers"). */
const luaSetsEcho = {
	name: 'envoy.filters.http.lua',
	typed_config: {
		'@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
		default_source_code: { inline_string: 'function envoy_on_request(h) h:headers():replace("x-wasm-echo", "from-lua") end' },
	},
};

const envoyFilterYaml = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: lua-before-echo
  namespace: shop
spec:
  workloadSelector:
    labels: { app: my-app }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        portNumber: 8080
        filterChain:
          filter:
            name: ${hcm}
            subFilter: { name: extensions.istio.io/wasmplugin/shop.echo }
    patch:
      operation: INSERT_BEFORE
      value: ${JSON.stringify(luaSetsEcho)}
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter: { name: ${hcm}, subFilter: { name: envoy.filters.http.no-such-filter } }
    patch: { operation: REMOVE }
`;

story('an EnvoyFilter inserts a Lua filter before the WasmPlugin: the plugin sees the header Lua set; a patch that matches nothing is a note', async (t, { sandbox }) => {
	const box = await sandbox({
		workload,
		istio: { resources: [wasmPlugin({ name: 'echo', namespace: 'shop', url: `file://${headersWasm}` }), envoyFilterYaml] },
	});
	const response = await box.request('/hello');
	t.is(response.status, 200);
	t.is(response.headers['x-wasm-echo'], 'from-lua', 'the Lua filter ran before the plugin');
	const [recorded] = await box.upstream.requests();
	t.is(recorded?.headers['x-wasm-echo'], 'from-lua');

	// The chain Envoy runs, as admin /config_dump shows it: Lua right before the plugin's ECDS filter.
	const dump = await (await fetch(new URL('/config_dump?resource=dynamic_listeners', box.adminUrl))).text();
	const lua = dump.indexOf('"envoy.filters.http.lua"');
	// (On a warm Envoy the ECDS name carries the sandbox's lease: `…/shop.echo@<n>`.)
	const plugin = dump.search(/"extensions\.istio\.io\/wasmplugin\/shop\.echo(@\d+)?"/);
	t.true(lua > 0 && plugin > lua, 'Lua comes before the WasmPlugin\'s filter in the listener Envoy runs');

	t.true(box.istioNotes.some(note => /EnvoyFilter shop\/lua-before-echo \(istio\.resources\[1\]:\d+:\d+, configPatches\[1\]\): patch REMOVE on HTTP_FILTER \(SIDECAR_INBOUND\) matches nothing/.test(note)),
		box.istioNotes.join('\n'));
});

story('envoy.patches: a Lua filter inserted before a plain sandbox\'s plugin', async (t, { sandbox }) => {
	const box = await sandbox({
		plugins: [{ name: 'echo', wasm: headersWasm }],
		envoy: {
			patches: [{
				applyTo: 'HTTP_FILTER',
				match: { listener: { filterChain: { filter: { name: hcm, subFilter: { name: 'echo' } } } } },
				patch: { operation: 'INSERT_BEFORE', value: luaSetsEcho },
			}],
		},
	});
	const response = await box.request('/hello', { headers: { 'x-wasm-echo': 'from-client' } });
	t.is(response.status, 200);
	t.is(response.headers['x-wasm-echo'], 'from-lua');
});

story('envoy.patches: a patch that matches nothing stops the sandbox, naming the patch', async (t, { sandbox }) => {
	const error = await t.throwsAsync(sandbox({
		plugins: [{ name: 'echo', wasm: headersWasm }],
		envoy: { patches: [{ applyTo: 'CLUSTER', match: { cluster: { name: 'no-such-cluster' } }, patch: { operation: 'REMOVE' } }] },
	}));
	t.regex(error?.message ?? '', /envoy\.patches\[0\]\): patch REMOVE on CLUSTER matches nothing in the generated Envoy config/);
});
