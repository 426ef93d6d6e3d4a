/**
 * `envoy.patches` (issue #10): EnvoyFilter configPatches semantics on the generated config, errors with the
 * patch's file:line:col (a patch that matches nothing is an error, never silence), and `render --validate`
 * on real Envoy.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { modelFromFile, modelFromSpec } from '../../src/compose/model.ts';
import type { SandboxModel } from '../../src/config/model.ts';
import { buildBootstrap, buildResources, type JsonObject } from '../../src/envoy/bootstrap.ts';
import { MeshboxError } from '../../src/errors.ts';
import { meshboxCli, repoRoot, seedWasm } from '../helpers/paths.ts';
import { testPlacement } from '../helpers/placement.ts';

const placement = testPlacement;

const hcm = 'envoy.filters.network.http_connection_manager';
const luaType = 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua';
const hcmType = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const luaFilter = { name: 'envoy.filters.http.lua', typed_config: { '@type': luaType, default_source_code: { inline_string: 'function envoy_on_request(h) end' } } };

async function model(patches: unknown[], extra: Record<string, unknown> = {}): Promise<SandboxModel> {
	return modelFromSpec({ plugins: [{ name: 'my-plugin', wasm: seedWasm }], envoy: { patches }, ...extra }, { baseDir: repoRoot });
}

type Listener = { name: string; filter_chains: Array<{ filters: Array<{ name: string; typed_config: JsonObject & { http_filters: Array<{ name: string; typed_config?: JsonObject }>; route_config: { virtual_hosts: Array<{ name: string; domains: string[]; routes: JsonObject[] }> } } }> }> };

function listeners(bootstrap: JsonObject): Listener[] {
	return (bootstrap.static_resources as { listeners: Listener[] }).listeners;
}

function hcmConfig(bootstrap: JsonObject) {
	return listeners(bootstrap)[0]!.filter_chains[0]!.filters.find(filter => filter.name === hcm)!.typed_config;
}

async function withFile<T>(text: string, run: (file: string) => Promise<T>): Promise<T> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-patches-'));
	try {
		const file = path.join(dir, 'meshbox.yaml');
		await writeFile(file, text.replaceAll('SEED', seedWasm));
		return await run(file);
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}

test('HTTP_FILTER INSERT_BEFORE the plugin (subFilter match) puts the filter right before it', async t => {
	const bootstrap = buildBootstrap(await model([{
		applyTo: 'HTTP_FILTER',
		match: { listener: { filterChain: { filter: { name: hcm, subFilter: { name: 'my-plugin' } } } } },
		patch: { operation: 'INSERT_BEFORE', value: luaFilter },
	}]), placement);
	t.deepEqual(hcmConfig(bootstrap).http_filters.map(filter => filter.name), ['envoy.filters.http.lua', 'my-plugin', 'envoy.filters.http.router']);
});

test('INSERT_AFTER / INSERT_FIRST / ADD / REPLACE / REMOVE on HTTP filters, in the order given', async t => {
	const named = (name: string) => ({ name, typed_config: { '@type': luaType, default_source_code: { inline_string: `-- ${name}` } } });
	const inHcm = (subFilter?: string) => ({ listener: { filterChain: { filter: { name: hcm, ...(subFilter ? { subFilter: { name: subFilter } } : {}) } } } });
	const bootstrap = buildBootstrap(await model([
		{ applyTo: 'HTTP_FILTER', match: inHcm('my-plugin'), patch: { operation: 'INSERT_AFTER', value: named('after') } },
		{ applyTo: 'HTTP_FILTER', match: inHcm(), patch: { operation: 'INSERT_FIRST', value: named('first') } },
		{ applyTo: 'HTTP_FILTER', match: inHcm('after'), patch: { operation: 'REPLACE', value: named('replaced') } },
		{ applyTo: 'HTTP_FILTER', match: inHcm('first'), patch: { operation: 'REMOVE' } },
		{ applyTo: 'HTTP_FILTER', match: inHcm(), patch: { operation: 'ADD', value: named('last') } },
	]), placement);
	// Istio's ADD appends after the router too (Envoy then refuses the chain; render --validate says so).
	t.deepEqual(hcmConfig(bootstrap).http_filters.map(filter => filter.name), ['my-plugin', 'replaced', 'envoy.filters.http.router', 'last']);
});

test('MERGE: the same @type merges field by field (lists append), name is overwritten', async t => {
	const bootstrap = buildBootstrap(await model([
		{
			applyTo: 'NETWORK_FILTER',
			match: { context: 'SIDECAR_INBOUND', listener: { filterChain: { filter: { name: hcm } } } },
			patch: { operation: 'MERGE', value: { typed_config: { '@type': hcmType, server_name: 'patched', http_protocol_options: { accept_http_10: true } } } },
		},
		{
			applyTo: 'HTTP_FILTER',
			match: { listener: { filterChain: { filter: { name: hcm, subFilter: { name: 'envoy.filters.http.router' } } } } },
			patch: { operation: 'MERGE', value: { name: 'router-renamed', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', suppress_envoy_headers: true } } },
		},
	]), placement);
	const config = hcmConfig(bootstrap);
	t.is(config.server_name, 'patched');
	t.deepEqual(config.http_protocol_options, { enable_trailers: true, accept_http_10: true }, 'objects merge: the generated field stays');
	t.is(config.stat_prefix, 'ingress_http');
	const router = config.http_filters[1];
	t.deepEqual(router, { name: 'router-renamed', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', suppress_envoy_headers: true } });
});

test('MERGE with another @type is refused, naming the patch and both types: istiod\'s merge fails on it (use REPLACE)', async t => {
	const error = await t.throwsAsync(model([{
		applyTo: 'HTTP_FILTER',
		match: { listener: { filterChain: { filter: { name: hcm, subFilter: { name: 'my-plugin' } } } } },
		patch: { operation: 'MERGE', value: { name: 'renamed', typed_config: luaFilter.typed_config } },
	}]));
	t.true(error instanceof MeshboxError && error.code === 'CONFIG_INVALID', String(error));
	t.regex(error?.message ?? '', /envoy\.patches\[0\].*patch MERGE on HTTP_FILTER on my-plugin has typed_config @type type\.googleapis\.com\/envoy\.extensions\.filters\.http\.lua\.v3\.Lua, the filter's is type\.googleapis\.com\/envoy\.extensions\.filters\.http\.wasm\.v3\.Wasm: istiod's merge fails .*use operation REPLACE/);
});

test('route configuration, virtual host and route patches; cluster MERGE, ADD and REMOVE', async t => {
	const bootstrap = buildBootstrap(await model([
		{ applyTo: 'VIRTUAL_HOST', match: { routeConfiguration: { vhost: { name: 'app' } } }, patch: { operation: 'MERGE', value: { domains: ['extra.example.com'] } } },
		{
			applyTo: 'HTTP_ROUTE',
			match: { routeConfiguration: { vhost: { name: 'app', route: { action: 'ROUTE' } } } },
			patch: { operation: 'INSERT_BEFORE', value: { name: 'teapot', match: { prefix: '/teapot' }, direct_response: { status: 418 } } },
		},
		{ applyTo: 'ROUTE_CONFIGURATION', match: { routeConfiguration: { name: 'meshbox_route' } }, patch: { operation: 'MERGE', value: { response_headers_to_add: [{ header: { key: 'x-patched', value: 'yes' } }] } } },
		{ applyTo: 'CLUSTER', match: { cluster: { name: 'upstream' } }, patch: { operation: 'MERGE', value: { connect_timeout: '7s' } } },
		{ applyTo: 'CLUSTER', patch: { operation: 'ADD', value: { name: 'added', type: 'STATIC', connect_timeout: '1s' } } },
		{ applyTo: 'CLUSTER', match: { cluster: { name: 'auth' } }, patch: { operation: 'REMOVE' } },
	], { clusters: { auth: '127.0.0.1:9000' } }), placement);
	const { route_config: routeConfig } = hcmConfig(bootstrap) as unknown as { route_config: { response_headers_to_add: unknown; virtual_hosts: Array<{ domains: string[]; routes: Array<{ name?: string }> }> } };
	t.deepEqual(routeConfig.virtual_hosts[0]!.domains, ['*', 'extra.example.com'], 'lists append');
	t.deepEqual(routeConfig.virtual_hosts[0]!.routes.map(route => route.name ?? '(default)'), ['teapot', '(default)']);
	t.deepEqual(routeConfig.response_headers_to_add, [{ header: { key: 'x-patched', value: 'yes' } }]);
	const clusters = (bootstrap.static_resources as { clusters: Array<{ name: string; connect_timeout: string }> }).clusters;
	t.deepEqual(clusters.map(cluster => `${cluster.name} ${cluster.connect_timeout}`), ['upstream 7s', 'added 1s'], 'auth removed, added appended');
});

test('over xDS (ECDS), MERGE of a plugin\'s filter merges into its extension config, as in a static bootstrap', async t => {
	const sandbox = await model([{
		applyTo: 'HTTP_FILTER',
		match: { listener: { filterChain: { filter: { name: hcm, subFilter: { name: 'my-plugin' } } } } },
		patch: { operation: 'MERGE', value: { typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm', config: { fail_open: true } } } },
	}]);
	const resources = buildResources(sandbox, placement, { ecds: true });
	const config = resources.extensionConfigs[0]?.typed_config as { config: { fail_open: boolean; name: string } };
	t.is(config.config.fail_open, true);
	t.is(config.config.name, 'my-plugin');
	const staticFilters = hcmConfig(buildBootstrap(sandbox, placement)).http_filters;
	t.is((staticFilters[0]?.typed_config as { config: { fail_open: boolean } }).config.fail_open, true);
});

test('a patch that matches nothing is an error naming its file:line:col, and what the config has, before anything starts', async t => {
	await withFile([
		'plugins: [ { name: my-plugin, wasm: SEED } ]',
		'envoy:',
		'  patches:',
		'    - applyTo: HTTP_FILTER',
		'      match:',
		'        listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager, subFilter: { name: no-such-filter } } } }',
		'      patch: { operation: INSERT_BEFORE, value: { name: envoy.filters.http.lua } }',
		'',
	].join('\n'), async file => {
		// Checked while the model is made, so nothing starts.
		const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
		t.is(error?.code, 'CONFIG_INVALID');
		t.regex(error?.message ?? '', /meshbox\.yaml:4:7 \(envoy\.patches\[0\]\): patch INSERT_BEFORE on HTTP_FILTER matches nothing/);
		t.regex((error as MeshboxError).hint ?? '', /HTTP filters my-plugin, envoy\.filters\.http\.router/);
	});
});

test('an invalid patch is refused when the config is read, at its file:line:col (Istio\'s validation rules)', async t => {
	await withFile([
		'plugins: [ { name: my-plugin, wasm: SEED } ]',
		'envoy:',
		'  patches:',
		'    - applyTo: NETWORK_FILTER',
		'      match:',
		'        listener:',
		'          filterChain:',
		'            filter: { name: envoy.filters.network.http_connection_manager, subFilter: { name: envoy.filters.http.router } }',
		'      patch: { operation: MERGE, value: {} }',
		'    - applyTo: CLUSTER',
		'      patch: { operation: ADD }',
		'',
	].join('\n'), async file => {
		const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
		t.is(error?.code, 'CONFIG_INVALID');
		t.regex(error?.message ?? '', /meshbox\.yaml:8:\d+: envoy\.patches\[0\]\.match\.listener\.filterChain\.filter\.subFilter: Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only/);
	});
	await withFile('plugins: [ { name: my-plugin, wasm: SEED } ]\nenvoy:\n  patches:\n    - applyTo: CLUSTER\n      patch: { operation: ADD }\n', async file => {
		const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
		t.regex(error?.message ?? '', /meshbox\.yaml:5:\d+: envoy\.patches\[0\]\.patch: Envoy filter: missing patch value for non-remove operation/);
	});
	// The value is checked against Envoy's API as the message applyTo names (here an HttpFilter and its Lua config).
	await withFile('plugins: [ { name: my-plugin, wasm: SEED } ]\nenvoy:\n  patches:\n    - applyTo: HTTP_FILTER\n      patch:\n        operation: INSERT_FIRST\n        value: { name: envoy.filters.http.lua, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua, inline_cod: x } }\n', async file => {
		const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
		t.regex(error?.message ?? '', /meshbox\.yaml:7:135: envoy\.patches\[0\]\.patch\.value\.typed_config\.inline_cod: unknown field in envoy\.extensions\.filters\.http\.lua\.v3\.Lua/);
	});
});

test('meshbox render shows the patched config, and render --validate passes on real Envoy', async t => {
	await withFile([
		'plugins: [ { name: my-plugin, wasm: SEED } ]',
		'envoy:',
		'  patches:',
		'    - applyTo: HTTP_FILTER',
		'      match:',
		'        context: SIDECAR_INBOUND',
		'        listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager, subFilter: { name: my-plugin } } } }',
		'      patch:',
		'        operation: INSERT_BEFORE',
		'        value:',
		'          name: envoy.filters.http.lua',
		'          typed_config:',
		`            '@type': ${luaType}`,
		'            default_source_code: { inline_string: "function envoy_on_request(h) h:headers():add(\'x-lua\', \'1\') end" }',
		'',
	].join('\n'), async file => {
		const result = await execa('node', [meshboxCli, 'render', '--validate', '--config', file], { reject: false, cwd: repoRoot });
		t.is(result.exitCode, 0, result.stderr);
		t.regex(result.stdout, /- name: envoy\.filters\.http\.lua\n(.*\n)*?\s+- name: my-plugin/);
	});
});
