/**
 * EnvoyFilter MERGE as istiod does it (pilot/pkg/networking/core/envoyfilter/listener_patch.go), on real
 * Envoy: a MERGE on a WasmPlugin's filter does nothing (istiod delivers it over ECDS, and skips filters
 * without an inline typed_config), and a MERGE whose typed_config has another '@type' fails istiod's merge,
 * which recovers and drops the rest of the listener's patches. Each with a note naming the patch.
 */
import test from 'ava';
import { startSandbox, wasmPlugin } from 'meshbox';
import { unmatchedPatchFindings } from '../../src/istio/envoy-filter.ts';
import { versionTraits } from '../../src/istio/version.ts';
import { parse } from './helpers.ts';

const workload = { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 };
const configWasm = 'fixtures/plugins/rust-config/rust-config.wasm';
const hcm = 'envoy.filters.network.http_connection_manager';
const wasmType = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm';
const luaType = 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua';

function envoyFilter(name: string, priority: number, patches: string): string {
	return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ${name}, namespace: default}
spec:
  priority: ${priority}
  configPatches:
${patches}`;
}

/** A response header set by Lua, so that a Lua filter's presence shows in the response. */
const lua = (header: string) => JSON.stringify({ '@type': luaType, default_source_code: { inline_string: `function envoy_on_response(h) h:headers():add("${header}", "yes") end` } });

test('MERGE on a WasmPlugin\'s filter changes nothing (istiod skips ECDS filters); the plugin keeps its pluginConfig, and a note says why', async t => {
	const patched = JSON.stringify({ '@type': wasmType, config: { configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: '{"header":"x-from-config","value":"patched"}' } } });
	const box = await startSandbox({
		workload,
		istio: {
			resources: [
				wasmPlugin({ name: 'cfg', url: `file://${configWasm}`, pluginConfig: { header: 'x-from-config', value: 'original' } }),
				envoyFilter('merge-plugin', 0, `  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: {filterChain: {filter: {name: ${hcm}, subFilter: {name: extensions.istio.io/wasmplugin/default.cfg}}}}
    patch: {operation: MERGE, value: {typed_config: ${patched}}}`),
			],
		},
	});
	t.teardown(async () => box.stop());
	const response = await box.request('/');
	t.is(response.status, 200);
	t.is(response.headers['x-from-config'], 'original', 'the WasmPlugin\'s own pluginConfig, as in a cluster');
	const notes = box.istioNotes.join('\n');
	t.regex(notes, /istiod: EnvoyFilter default\/merge-plugin \(istio\.resources\[1\]:\d+:\d+, configPatches\[0\]\): patch MERGE on HTTP_FILTER \(SIDECAR_INBOUND\) matches extensions\.istio\.io\/wasmplugin\/default\.cfg, a filter istiod delivers over ECDS .*istiod skips MERGE on such a filter .*listener_patch\.go/, notes);
	t.notRegex(notes, /merge-plugin.*matches nothing/, 'one note, the one that says why');
});

test('MERGE with another @type fails as in istiod: the changes before it stay, this listener\'s HTTP filter changes and later patches are dropped, with a note naming them', async t => {
	const box = await startSandbox({
		workload,
		istio: {
			resources: [
				wasmPlugin({ name: 'cfg', url: `file://${configWasm}`, pluginConfig: { header: 'x-from-config', value: 'original' } }),
				// Applied before the failure, in place on the connection manager: stays.
				envoyFilter('server-name', 0, `  - applyTo: NETWORK_FILTER
    match: {context: SIDECAR_INBOUND, listener: {filterChain: {filter: {name: ${hcm}}}}}
    patch: {operation: MERGE, value: {typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, server_name: merged-before}}}`),
				envoyFilter('wrong-type', 10, `  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND, listener: {filterChain: {filter: {name: ${hcm}}}}}
    patch: {operation: INSERT_FIRST, value: {name: lua-first, typed_config: ${lua('x-lua-first')}}}
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND, listener: {filterChain: {filter: {name: ${hcm}, subFilter: {name: envoy.filters.http.cors}}}}}
    patch: {operation: MERGE, value: {typed_config: ${lua('x-merged-lua')}}}`),
			],
		},
	});
	t.teardown(async () => box.stop());
	const response = await box.request('/');
	t.is(response.status, 200);
	t.is(response.headers.server, 'merged-before', 'the NETWORK_FILTER MERGE before the failure took effect');
	t.is(response.headers['x-merged-lua'], undefined, 'the failed MERGE did not replace the cors filter');
	t.is(response.headers['x-lua-first'], undefined, 'the INSERT_FIRST on the same connection manager was lost with it');
	t.is(response.headers['x-from-config'], 'original', 'the plugin still runs');
	const notes = box.istioNotes.join('\n');
	t.regex(notes, new RegExp(`istiod: EnvoyFilter default/wrong-type \\(istio\\.resources\\[2\\]:\\d+:\\d+, configPatches\\[1\\]\\): patch MERGE on HTTP_FILTER \\(SIDECAR_INBOUND\\) on envoy\\.filters\\.http\\.cors has typed_config @type ${luaType.replaceAll('.', '\\.')}, the filter's is type\\.googleapis\\.com/envoy\\.extensions\\.filters\\.http\\.cors\\.v3\\.Cors: istiod's merge fails`), notes);
	t.regex(notes, /dropped with it: EnvoyFilter default\/wrong-type \(istio\.resources\[2\]:\d+:\d+, configPatches\[0\]\) \(patch INSERT_FIRST on HTTP_FILTER \(SIDECAR_INBOUND\)\)/, notes);
	t.notRegex(notes, /matches nothing/, notes);
});

test('meshbox check warns about a MERGE on a WasmPlugin\'s filter with the reason, not as a patch that matches nothing', async t => {
	const parsed = parse([
		'apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: cfg, namespace: default}\nspec:\n  url: file:///plugin.wasm\n',
		envoyFilter('merge-plugin', 0, `  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: {filterChain: {filter: {name: ${hcm}, subFilter: {name: extensions.istio.io/wasmplugin/default.cfg}}}}
    patch: {operation: MERGE, value: {typed_config: {'@type': ${wasmType}, config: {root_id: other}}}}`),
	].join('---\n'));
	const findings = await unmatchedPatchFindings(parsed.extensions, parsed.envoyFilters, { traits: versionTraits('1.29'), namespace: 'default', labels: { app: 'my-app' } });
	t.is(findings.length, 1);
	t.regex(findings[0]?.message ?? '', /^patch MERGE on HTTP_FILTER \(SIDECAR_INBOUND\) matches extensions\.istio\.io\/wasmplugin\/default\.cfg, a filter istiod delivers over ECDS/);
});
