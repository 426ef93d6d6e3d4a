import test from 'ava';
import type { SandboxModel } from '../../src/config/model.ts';
import { modelFromSpec } from '../../src/compose/model.ts';
import type { SandboxSpec } from '../../src/compose/spec.ts';
import { buildBootstrap, type JsonObject } from '../../src/envoy/bootstrap.ts';
import { provisionEnvoy } from '../../src/envoy-binary/provision.ts';
import { renderBootstrapYaml } from '../../src/envoy/render.ts';
import { validateBootstrap } from '../../src/envoy-binary/validate.ts';
import { repoRoot, seedWasm, strictConfigWasm } from '../helpers/paths.ts';
import { testPlacement } from '../helpers/placement.ts';

const placement = testPlacement;

async function model(spec: SandboxSpec): Promise<SandboxModel> {
	return modelFromSpec(spec, { baseDir: repoRoot });
}

type Filter = { name: string; typed_config: { '@type': string; config?: JsonObject } };

function httpFilters(bootstrap: JsonObject): Filter[] {
	const resources = bootstrap.static_resources as { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { http_filters: Filter[] } }> }> }> };
	return resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config.http_filters;
}

const chainSpec: SandboxSpec = {
	plugins: [
		{ name: 'first', wasm: seedWasm, rootId: 'first_root', vmId: 'shared', vmConfiguration: { vm: 1 }, env: { MODE: 'test' }, hostEnv: ['HOME'] },
		{ name: 'second', wasm: strictConfigWasm, configuration: { header: 'x-a', value: 'b' }, failOpen: true },
	],
};

test('one envoy.filters.http.wasm per plugin, in order, then the router', async t => {
	const filters = httpFilters(buildBootstrap(await model(chainSpec), placement));
	t.deepEqual(filters.map(filter => filter.name), ['first', 'second', 'envoy.filters.http.router']);
	t.is(filters[0]?.typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm');
});

test('each plugin\'s PluginConfig carries name, root_id, vm_config, configuration and fail_open', async t => {
	const [first, second] = httpFilters(buildBootstrap(await model(chainSpec), placement));
	t.deepEqual(first?.typed_config.config, {
		name: 'first',
		root_id: 'first_root',
		vm_config: {
			vm_id: 'shared',
			runtime: 'envoy.wasm.runtime.v8',
			code: { local: { filename: seedWasm } },
			configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: '{"vm":1}' },
			environment_variables: { host_env_keys: ['HOME'], key_values: { MODE: 'test' } },
		},
		fail_open: false,
	});
	t.deepEqual(second?.typed_config.config, {
		name: 'second',
		vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: strictConfigWasm } } },
		configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: '{"header":"x-a","value":"b"}' },
		fail_open: true,
	});
});

test('listener and admin bind where the placement says (127.0.0.1 here)', async t => {
	const bootstrap = buildBootstrap(await model({}), placement) as { admin: JsonObject; static_resources: { listeners: JsonObject[] } };
	t.deepEqual(bootstrap.admin, { address: { socket_address: { address: '127.0.0.1', port_value: 9901 } } });
	t.deepEqual(bootstrap.static_resources.listeners[0]?.address, { socket_address: { address: '127.0.0.1', port_value: 10_000 } });
});

const validationCases: Array<[string, SandboxSpec]> = [
	['no plugins', {}],
	['the seed plugin', { plugins: [{ name: 'my-wasm-plugin', wasm: seedWasm }] }],
	['a chain with root ids, vm ids, configurations, env and fail_open', chainSpec],
	['a plain-text configuration and debug logging', { plugins: [{ name: 'p', wasm: seedWasm, configuration: 'not json' }], envoy: { componentLogLevels: { wasm: 'trace' } } }],
];

for (const [title, spec] of validationCases) {
	test(`real Envoy accepts the generated config: ${title}`, async t => {
		const envoy = await provisionEnvoy();
		const yaml = renderBootstrapYaml(buildBootstrap(await model(spec), placement));
		const result = await validateBootstrap(envoy.path, yaml);
		t.true(result.ok, result.output);
	});
}

test('real Envoy refuses a plugin whose on_configure fails, and says which', async t => {
	const envoy = await provisionEnvoy();
	const yaml = renderBootstrapYaml(buildBootstrap(await model({ plugins: [{ name: 'strict', wasm: strictConfigWasm, configuration: '{}' }] }), placement));
	const result = await validateBootstrap(envoy.path, yaml);
	t.false(result.ok);
	t.regex(result.output, /Unable to create Wasm plugin strict/);
	t.regex(result.output, /invalid plugin configuration: missing string field "header"/);
});

test('extra clusters for http_call are rendered beside the upstream, and Envoy accepts them', async t => {
	const sandbox = await model({ plugins: [{ name: 'seed', wasm: seedWasm }], clusters: { auth: '127.0.0.1:9000', 'ext-svc': 'localhost:9001' } });
	const bootstrap = buildBootstrap(sandbox, placement) as { static_resources: { clusters: Array<{ name: string; type: string; load_assignment: JsonObject }> } };
	t.deepEqual(bootstrap.static_resources.clusters.map(cluster => [cluster.name, cluster.type]), [['upstream', 'STATIC'], ['auth', 'STATIC'], ['ext-svc', 'STRICT_DNS']]);
	const envoy = await provisionEnvoy();
	const result = await validateBootstrap(envoy.path, renderBootstrapYaml(bootstrap));
	t.true(result.ok, result.output);
});

test('a cluster may not take the upstream\'s name, and needs HOST:PORT', async t => {
	await t.throwsAsync(model({ clusters: { upstream: '127.0.0.1:1' } }), { message: /clusters\.upstream: "upstream" is the name of the cluster behind the listener/ });
	await t.throwsAsync(model({ clusters: { auth: 'localhost' } }), { message: /clusters\.auth: expected HOST:PORT, found "localhost"/ });
});

test('the node identity and metadata plugins read as xds.node are rendered, and Envoy accepts them', async t => {
	const sandbox = await model({ node: { id: 'sidecar~10.0.0.1~app.ns~ns.svc.cluster.local', cluster: 'app.ns', metadata: { team: 'payments', limits: { rps: 5 } } } });
	const bootstrap = buildBootstrap(sandbox, placement);
	t.deepEqual(bootstrap.node, { id: 'sidecar~10.0.0.1~app.ns~ns.svc.cluster.local', cluster: 'app.ns', metadata: { team: 'payments', limits: { rps: 5 } } });
	t.deepEqual(buildBootstrap(await model({}), placement).node, { id: 'meshbox', cluster: 'meshbox' }, 'no metadata unless given');
	const envoy = await provisionEnvoy();
	t.true((await validateBootstrap(envoy.path, renderBootstrapYaml(bootstrap))).ok);
	await t.throwsAsync(model({ node: { metadata: 'x' } as never }), { message: /node\.metadata: expected a map/ });
});
