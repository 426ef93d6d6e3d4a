/**
 * `apps:`, `routes:`, `httpFilters:` and `stats:` (src/config/routing.ts → src/envoy/routing.ts): what the spec
 * checks (errors at file:line:col, typed_configs against Envoy's API), what Envoy gets, and that real Envoy
 * accepts it. Scenarios on real Envoy: scenarios/envoy-around-http.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import got from 'got';
import type { SandboxModel } from '../../src/config/model.ts';
import { modelFromFile, modelFromSpec } from '../../src/compose/model.ts';
import type { SandboxSpec } from '../../src/compose/spec.ts';
import { buildBootstrap, type JsonObject } from '../../src/envoy/bootstrap.ts';
import { provisionEnvoy } from '../../src/envoy-binary/provision.ts';
import { renderBootstrapYaml } from '../../src/envoy/render.ts';
import { validateBootstrap } from '../../src/envoy-binary/validate.ts';
import { MeshboxError } from '../../src/errors.ts';
import { parsePrometheus } from '../../src/scenario/prometheus.ts';
import { UpstreamControlServer } from '../../src/upstream/control.ts';
import { controlClient } from '../../src/upstream/control-client.ts';
import { RecordingUpstream, recordingsOf } from '../../src/upstream/recording-server.ts';
import { RunningCli } from '../helpers/cli.ts';
import { fixturePlugin, repoRoot, seedWasm } from '../helpers/paths.ts';
import { testPlacement } from '../helpers/placement.ts';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-routing-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

const placement = testPlacement;

const lua = { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', default_source_code: { inline_string: 'function envoy_on_request(h) end' } };

async function model(spec: SandboxSpec): Promise<SandboxModel> {
	return modelFromSpec(spec, { baseDir: repoRoot });
}

/** The meshbox.yaml error for `text` (plugins `a` and `b` are the seed plugin). */
async function fileError(t: ExecutionContext, text: string): Promise<MeshboxError> {
	const file = path.join(scratch, `case-${Math.random().toString(36).slice(2)}.yaml`);
	await writeFile(file, `plugins:\n  - { name: a, wasm: ${seedWasm} }\n  - { name: b, wasm: ${seedWasm} }\n${text}`);
	const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
	return error!;
}

type Hcm = { route_config: { virtual_hosts: Array<{ name: string; domains: string[]; routes: JsonObject[] }> }; http_filters: Array<{ name: string }> };

function hcmOf(bootstrap: JsonObject): Hcm {
	const resources = bootstrap.static_resources as { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: Hcm }> }> }> };
	return resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config;
}

test('an unknown field inside a typedConfig is an error at its meshbox.yaml field, named as Envoy\'s API names it', async t => {
	const error = await fileError(t, [
		'httpFilters:',
		'  - name: envoy.filters.http.lua',
		'    typedConfig:',
		'      "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
		'      inline_cod: "function envoy_on_request(h) end"',
	].join('\n'));
	t.is(error.code, 'CONFIG_INVALID');
	t.regex(error.message, /case-\w+\.yaml:8:7: httpFilters\[0\]\.typedConfig\.inline_cod: unknown field in envoy\.extensions\.filters\.http\.lua\.v3\.Lua/);
});

test('a typedConfig of a type Envoy\'s API does not have is an error at that field', async t => {
	const error = await fileError(t, 'httpFilters:\n  - { name: x, typedConfig: { "@type": type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope } }\n');
	t.regex(error.message, /:\d+:\d+: unknown protobuf type envoy\.extensions\.filters\.http\.nope\.v3\.Nope/);
	t.regex(error.message, /yaml:5:/);
});

test('a route to an app that does not exist names the route\'s field and the apps there are', async t => {
	const error = await fileError(t, 'apps: { canary: {} }\nroutes:\n  - match: { prefix: /v2 }\n    app: canry\n');
	t.regex(error.message, /yaml:7:5: routes\[0\]\.app: no app named "canry"/);
	t.is(error.hint, 'the apps are: upstream, canary (add it under `apps:`)');
});

test('a per-route plugin configuration is refused: Envoy\'s wasm filter has none', async t => {
	const error = await fileError(t, 'routes:\n  - plugins: { a: { configuration: { mode: strict } } }\n');
	t.regex(error.message, /routes\[0\]\.plugins\.a\.configuration: Envoy's wasm filter \(1\.40\) has no per-route configuration/);
	t.regex(error.hint ?? '', /metadata/);
});

test('httpFilters placed before or after a plugin that does not exist, and a tag regex without a group, are errors', async t => {
	t.regex((await fileError(t, `httpFilters:\n  - { name: l, before: c, typedConfig: ${JSON.stringify(lua)} }\n`)).message, /httpFilters\[0\]\.before: no plugin named "c"/);
	t.regex((await fileError(t, 'stats:\n  tags: [{ name: t, regex: "^wasmcustom" }]\n')).message, /yaml:5:\d+: stats\.tags\[0\]\.regex: the regex needs a capture group/);
	t.regex((await fileError(t, 'apps: { upstream: { status: 500 } }\n')).message, /apps\.upstream: "upstream" is the default app/);
	t.regex((await fileError(t, 'routes:\n  - plugins: { zz: { disabled: true } }\n')).message, /routes\[0\]\.plugins\.zz: no plugin or httpFilters entry named "zz"/);
});

test('httpFilters go right before or after the plugin they name, the others after every plugin, then the router', async t => {
	const filters = hcmOf(buildBootstrap(await model({
		plugins: [{ name: 'a', wasm: seedWasm }, { name: 'b', wasm: seedWasm }],
		httpFilters: [
			{ name: 'last', typedConfig: lua },
			{ name: 'before-b', before: 'b', typedConfig: lua },
			{ name: 'after-a', after: 'a', typedConfig: lua },
			{ name: 'before-a', before: 'a', typedConfig: lua },
		],
	}), placement)).http_filters;
	t.deepEqual(filters.map(filter => filter.name), ['before-a', 'a', 'after-a', 'before-b', 'b', 'last', 'envoy.filters.http.router']);
});

test('routes: each host gets a virtual host with its routes and the routes of any host, in list order, then the default route', async t => {
	const hcm = hcmOf(buildBootstrap(await model({
		plugins: [{ name: 'a', wasm: seedWasm }],
		apps: { canary: {} },
		routes: [
			{ name: 'gold', match: { prefix: '/gold' }, metadata: { meshbox: { tier: 'gold' } } },
			{ name: 'canary-host', hosts: ['canary.example.com'], app: 'canary', plugins: { a: { disabled: true } } },
			{ name: 'header', match: { path: '/exact', headers: { 'X-Canary': '1', 'x-any': true } }, app: 'canary' },
		],
	}), placement));
	const hosts = hcm.route_config.virtual_hosts;
	t.deepEqual(hosts.map(host => [host.name, host.domains, host.routes.map(route => route.name ?? '(default)')]), [
		['canary.example.com', ['canary.example.com'], ['gold', 'canary-host', 'header', '(default)']],
		['app', ['*'], ['gold', 'header', '(default)']],
	]);
	const [gold, canaryHost, header] = hosts[0]!.routes;
	t.deepEqual(gold, { name: 'gold', match: { prefix: '/gold' }, route: { cluster: 'upstream' }, metadata: { filter_metadata: { meshbox: { tier: 'gold' } } } });
	t.deepEqual(canaryHost?.typed_per_filter_config, { a: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: true } });
	t.deepEqual(header?.match, { path: '/exact', headers: [{ name: 'x-canary', string_match: { exact: '1' } }, { name: 'x-any', present_match: true }] });
	t.deepEqual(hosts[1]!.routes.at(-1), { match: { prefix: '/' }, route: { cluster: 'upstream' } });
});

test('each app is a cluster of its name: where the placement says, or next to the upstream (meshbox render)', async t => {
	const spec = { apps: { canary: {}, beta: {} } };
	const endpoint = (bootstrap: JsonObject, name: string) => {
		const clusters = (bootstrap.static_resources as { clusters: Array<{ name: string; load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: JsonObject } } }> }> } }> }).clusters;
		return clusters.find(cluster => cluster.name === name)?.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address;
	};

	const rendered = buildBootstrap(await model(spec), placement);
	t.deepEqual(endpoint(rendered, 'canary'), { address: '127.0.0.1', port_value: 8090 });
	t.deepEqual(endpoint(rendered, 'beta'), { address: '127.0.0.1', port_value: 8091 });
	const placed = buildBootstrap(await model(spec), { ...placement, appAddress: app => ({ address: 'apps.local', port: app.name === 'beta' ? 7002 : 7001 }) });
	t.deepEqual(endpoint(placed, 'beta'), { address: 'apps.local', port_value: 7002 });
});

test('stats: tags and use_all_default_tags are the bootstrap\'s stats_config; without `stats:` there is none', async t => {
	const bootstrap = buildBootstrap(await model({ stats: { tags: [{ name: 'plugin', regex: '^wasmcustom\\.((\\w+?)_)' }, { name: 'env', value: 'ci' }], useAllDefaultTags: false } }), placement);
	t.deepEqual(bootstrap.stats_config, {
		stats_tags: [{ tag_name: 'plugin', regex: '^wasmcustom\\.((\\w+?)_)' }, { tag_name: 'env', fixed_value: 'ci' }],
		use_all_default_tags: false,
	});
	t.false('stats_config' in buildBootstrap(await model({}), placement));
});

test('real Envoy accepts apps, routes with metadata and overrides, a Lua filter and stats tags (render --validate)', async t => {
	t.timeout(120_000);
	const envoy = await provisionEnvoy({});
	const spec: SandboxSpec = {
		plugins: [{ name: 'props', wasm: fixturePlugin('rust-properties') }],
		apps: { canary: { delayMs: 5 } },
		routes: [{ hosts: ['canary.example.com'], app: 'canary', metadata: { meshbox: { tier: 'gold' } }, plugins: { props: { disabled: true } } }],
		httpFilters: [{ name: 'envoy.filters.http.lua', before: 'props', typedConfig: lua }],
		stats: { tags: [{ name: 'component', regex: '^wasmcustom\\.(meshbox_(\\w+?)_)requests$' }] },
	};
	const result = await validateBootstrap(envoy.path, renderBootstrapYaml(buildBootstrap(await model(spec), placement)));
	t.true(result.ok, result.output);
});

test('the upstream\'s control API reads and clears each named app\'s recordings at /apps/<name>/recordings', async t => {
	const canary = await RecordingUpstream.start({ respond: () => ({ status: 202, body: 'canary' }) });
	const primary = await RecordingUpstream.start();
	const control = await UpstreamControlServer.start(recordingsOf(primary), { apps: { canary: recordingsOf(canary) } });
	t.teardown(async () => Promise.all([canary.stop(), primary.stop(), control.stop()]));
	const base = `http://127.0.0.1:${control.address.port}`;
	await got(`http://127.0.0.1:${canary.address.port}/to-canary`, { throwHttpErrors: false });

	const client = controlClient(base, 'canary');
	t.deepEqual((await client.requests()).map(request => request.path), ['/to-canary']);
	t.is(await controlClient(base).hits(), 0, 'the default app saw nothing');
	await client.clear();
	t.is(await client.hits(), 0);
	t.is((await got(`${base}/apps/nope/recordings`, { throwHttpErrors: false })).statusCode, 404);
});

test('Prometheus text → series with labels (escapes undone) and the family\'s type', t => {
	const series = parsePrometheus([
		'# TYPE requests counter',
		'requests{component="fixture",path="a\\"b\\\\c"} 2',
		'# TYPE envoy_server_live gauge',
		'envoy_server_live{} 1',
		'# TYPE lat histogram',
		'lat_bucket{le="0.5"} 3',
		'lat_sum 1.5',
	].join('\n'));
	t.deepEqual(series, [
		{ name: 'requests', labels: { component: 'fixture', path: 'a"b\\c' }, value: 2, type: 'counter' },
		{ name: 'envoy_server_live', labels: {}, value: 1, type: 'gauge' },
		{ name: 'lat_bucket', labels: { le: '0.5' }, value: 3, type: 'histogram' },
		{ name: 'lat_sum', labels: {}, value: 1.5, type: 'histogram' },
	]);
});

test('apps, routes and httpFilters are for a plain sandbox: with istio:/workload: they are an error naming the field', async t => {
	const error = await t.throwsAsync(model({ workload: {}, routes: [{ match: { prefix: '/' } }] } as SandboxSpec), { instanceOf: MeshboxError });
	t.regex(error?.message ?? '', /^routes: with `istio:` \/ `workload:` the sidecar's listener, routes and filter chain are istiod's/);
});

test('`meshbox up` routes by host to a named app and prints where to read that app\'s recordings', async t => {
	t.timeout(120_000);
	const file = path.join(scratch, 'up-apps.yaml');
	await writeFile(file, 'apps:\n  canary: { body: "canary\\n" }\nroutes:\n  - { hosts: [canary.example.com], app: canary }\n');
	const cli = RunningCli.start(['up', '--port', '0', '--admin-port', '0', '--config', file]);
	try {
		const [, recordingsUrl] = await cli.waitForLine(/^meshbox: what app canary received: curl (http:\/\/127\.0\.0\.1:\d+\/apps\/canary\/recordings)$/);
		const [, url] = await cli.waitForLine(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/);
		const response = await got(`${url!}/to-canary`, { headers: { host: 'canary.example.com' }, retry: { limit: 0 } });
		t.is(response.body, 'canary\n');
		await got(`${url!}/to-upstream`, { retry: { limit: 0 } });
		const recorded = JSON.parse((await got(recordingsUrl!, { retry: { limit: 0 } })).body) as Array<{ path: string }>;
		t.deepEqual(recorded.map(request => request.path), ['/to-canary']);
	} finally {
		t.is(await cli.stop('SIGTERM'), 0, cli.lines.join('\n'));
	}
});

test('an app with delayMs records the request at once and answers only after the delay (a slow app)', async t => {
	const app = await RecordingUpstream.start({ respond: () => ({ status: 200, body: 'slow', delayMs: 5000 }) });
	t.teardown(async () => app.stop());
	// The client gives up long before the app answers; the request was recorded on arrival all the same.
	await t.throwsAsync(got(`http://127.0.0.1:${app.address.port}/slow`, { retry: { limit: 0 }, timeout: { request: 300 } }), { code: 'ETIMEDOUT' });
	t.deepEqual(app.requests().map(request => request.path), ['/slow']);
});
