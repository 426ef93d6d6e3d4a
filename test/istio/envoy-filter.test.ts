/**
 * Istio EnvoyFilter: validation as the API server and istiod's webhook do (pkg/config/validation/envoyfilter),
 * selection and order as istiod does (push_context.go EnvoyFilters, envoyfilter.go proxyMatch), the patches on
 * the sidecar's config (listener_patch.go), and a note for a patch that matches nothing (istiod ignores it).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { modelFromSpec } from '../../src/compose/model.ts';
import { buildBootstrap, type JsonObject } from '../../src/envoy/bootstrap.ts';
import { selectEnvoyFilters, type EnvoyFilterResource } from '../../src/istio/envoy-filter.ts';
import { versionTraits } from '../../src/istio/version.ts';
import { fixturePlugin, meshboxCli, repoRoot } from '../helpers/paths.ts';
import { parse } from './helpers.ts';
import { envoyFilter as buildEnvoyFilter } from '../../src/scenario/istio-resources.ts';
import { testPlacement } from '../helpers/placement.ts';

const placement = testPlacement;

function envoyFilter(name: string, spec: string, namespace = 'default', extraMeta = ''): string {
	return `apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: ${name}, namespace: ${namespace}${extraMeta}}\nspec:\n${spec.split('\n').filter(Boolean).map(line => `  ${line}`).join('\n')}\n`;
}

const removeRouterPatch = `configPatches:
- applyTo: HTTP_FILTER
  match:
    context: SIDECAR_INBOUND
    listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.cors}}}}
  patch: {operation: REMOVE}`;

test('check: Istio\'s validation messages at file:line:col; every EnvoyFilter gets istiod\'s warning', t => {
	const parsed = parse([
		envoyFilter('no-value', 'configPatches:\n- applyTo: HTTP_FILTER\n  patch: {operation: INSERT_FIRST}'),
		envoyFilter('subfilter-on-network', 'configPatches:\n- applyTo: NETWORK_FILTER\n  match:\n    listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: x}}}}\n  patch: {operation: REMOVE}'),
		envoyFilter('no-filter-name', 'configPatches:\n- applyTo: HTTP_FILTER\n  match:\n    listener: {filterChain: {filter: {subFilter: {name: x}}}}\n  patch: {operation: REMOVE}'),
		envoyFilter('cluster-with-listener-match', 'configPatches:\n- applyTo: CLUSTER\n  match:\n    listener: {name: x}\n  patch: {operation: REMOVE}'),
		envoyFilter('bad-regex', 'configPatches:\n- applyTo: CLUSTER\n  match:\n    proxy: {proxyVersion: "("}\n  patch: {operation: REMOVE}'),
		envoyFilter('good', removeRouterPatch),
		'apiVersion: networking.istio.io/v1beta1\nkind: EnvoyFilter\nmetadata: {name: wrong-version}\nspec: {}\n',
	].join('---\n'));
	const errors = parsed.findings.filter(finding => finding.severity === 'error').map(finding => `${finding.where} ${finding.subject}: ${finding.message}`);
	t.deepEqual(errors, [
		'test.yaml:7:5 EnvoyFilter default/no-value: Envoy filter: missing patch value for non-remove operation',
		'test.yaml:16:94 EnvoyFilter default/subfilter-on-network: Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only',
		'test.yaml:26:32 EnvoyFilter default/no-filter-name: Envoy filter: filter match has no name to match on',
		'test.yaml:36:7 EnvoyFilter default/cluster-with-listener-match: Envoy filter: applyTo for cluster class objects cannot have non cluster match',
		'test.yaml:46:15 EnvoyFilter default/bad-regex: Envoy filter: invalid regex for proxy version, [error parsing regexp: missing closing ): `(`]',
		'test.yaml:60:1 EnvoyFilter wrong-version: no matches for kind "EnvoyFilter" in version "networking.istio.io/v1beta1"',
	]);
	t.deepEqual(parsed.envoyFilters.map(filter => filter.name), ['good']);
	t.true(parsed.findings.some(finding => finding.severity === 'warning' && finding.subject === 'EnvoyFilter default/good' && /exposes internal implementation details/.test(finding.message)));
	t.false(parsed.findings.some(finding => /is not applied by the sandbox/.test(finding.message)), 'an EnvoyFilter is applied now');
});

function filters(...docs: string[]): EnvoyFilterResource[] {
	const parsed = parse(docs.join('---\n'));
	assertNoErrors(parsed.findings);
	return [...parsed.envoyFilters];
}

function assertNoErrors(findings: ReadonlyArray<{ severity: string }>): void {
	if (findings.some(finding => finding.severity === 'error')) {
		throw new Error(JSON.stringify(findings));
	}
}

const proxy = { namespace: 'default', labels: { app: 'my-app' }, rootNamespace: 'istio-system', traits: versionTraits('1.29'), nodeMetadata: { ISTIO_VERSION: '1.29.0', CLUSTER_ID: 'Kubernetes' } };

test('order: priority ascending, then the root namespace, then creation (file) order; selector, namespace, targetRefs and proxy match leave out', t => {
	const selection = selectEnvoyFilters(filters(
		envoyFilter('local-late', removeRouterPatch),
		envoyFilter('root', removeRouterPatch, 'istio-system'),
		envoyFilter('early', `priority: -5\n${removeRouterPatch}`),
		envoyFilter('reviews-only', `workloadSelector: {labels: {app: reviews}}\n${removeRouterPatch}`),
		envoyFilter('elsewhere', removeRouterPatch, 'payments'),
		envoyFilter('gateway', `targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]\n${removeRouterPatch}`),
		envoyFilter('old-proxy', removeRouterPatch.replace('context: SIDECAR_INBOUND', 'context: SIDECAR_INBOUND\n    proxy: {proxyVersion: \'^1\\.28.*\'}')),
		envoyFilter('this-proxy', removeRouterPatch.replace('context: SIDECAR_INBOUND', 'context: SIDECAR_INBOUND\n    proxy: {proxyVersion: \'^1\\.29.*\', metadata: {CLUSTER_ID: Kubernetes}}')),
	), proxy);
	t.deepEqual(selection.patches.map(patch => /EnvoyFilter \S+\/([\w-]+)/.exec(patch.origin)?.[1]), ['early', 'root', 'local-late', 'this-proxy']);
	const notes = selection.notes.join('\n');
	t.regex(notes, /EnvoyFilter default\/reviews-only does not apply: workloadSelector does not match the workload: needs app=reviews/);
	t.regex(notes, /EnvoyFilter payments\/elsewhere does not apply: in namespace payments/);
	t.regex(notes, /EnvoyFilter default\/gateway does not apply: has targetRefs/);
	t.regex(notes, /EnvoyFilter default\/old-proxy \(test\.yaml:\d+:\d+, configPatches\[0\]\): patch REMOVE on HTTP_FILTER \(SIDECAR_INBOUND\) does not apply: match\.proxy\.proxyVersion "\^1\\\\\.28\.\*" does not match the sidecar's Istio version 1\.29\.6/);
});

const headersUrl = `file://${fixturePlugin('rust-headers')}`;
const workload = { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 };
const wasmPluginYaml = `apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: echo, namespace: default}\nspec:\n  url: ${headersUrl}\n`;
const luaBeforeWasm = envoyFilter('lua-first', `workloadSelector: {labels: {app: my-app}}
configPatches:
- applyTo: HTTP_FILTER
  match:
    context: SIDECAR_INBOUND
    listener:
      portNumber: 8080
      filterChain:
        filter:
          name: envoy.filters.network.http_connection_manager
          subFilter: {name: extensions.istio.io/wasmplugin/default.echo}
  patch:
    operation: INSERT_BEFORE
    value:
      name: envoy.filters.http.lua
      typed_config:
        '@type': type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
        default_source_code: {inline_string: "function envoy_on_request(h) h:headers():replace('x-wasm-echo', 'from-lua') end"}
- applyTo: CLUSTER
  match:
    context: SIDECAR_OUTBOUND
    cluster: {service: reviews.default.svc.cluster.local}
  patch: {operation: MERGE, value: {connect_timeout: 3s}}`);

type Chain = { filters: Array<{ name: string; typed_config: { http_filters: Array<{ name: string }> } }> };

test('sidecar: an EnvoyFilter inserts a filter right before the WasmPlugin\'s filter; a patch that matches nothing is a note naming it', async t => {
	const model = await modelFromSpec({ workload, istio: { resources: [wasmPluginYaml, luaBeforeWasm] } }, { baseDir: repoRoot });
	const bootstrap = buildBootstrap(model, placement);
	const [listener] = (bootstrap.static_resources as { listeners: Array<{ filter_chains: Chain[] }> }).listeners;
	const hcm = listener!.filter_chains[0]!.filters.find(filter => filter.name === 'envoy.filters.network.http_connection_manager')!;
	const names = hcm.typed_config.http_filters.map(filter => filter.name);
	const wasmAt = names.indexOf('extensions.istio.io/wasmplugin/default.echo');
	t.true(wasmAt > 0);
	t.is(names[wasmAt - 1], 'envoy.filters.http.lua');
	t.deepEqual(names.slice(wasmAt + 1), ['envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.cors', 'envoy.filters.http.router']);
	const notes = model.sidecar?.notes.join('\n') ?? '';
	t.regex(notes, /istiod: EnvoyFilter default\/lua-first \(istio\.resources\[1\]:\d+:\d+, configPatches\[1\]\): patch MERGE on CLUSTER \(SIDECAR_OUTBOUND\) matches nothing in the sidecar's config; istiod ignores it/);
	t.notRegex(notes, /configPatches\[0\]/, 'the filter insert matched');
	t.true(model.sidecar?.summary.some(line => /^\+ EnvoyFilter default\/lua-first \(istio\.resources\[1\]:1\): 2 patches, priority 0$/.test(line)));
});

test('sidecar: meshbox.yaml\'s envoy.patches apply after the EnvoyFilters and still refuse to match nothing', async t => {
	const removeLua = {
		applyTo: 'HTTP_FILTER',
		match: { listener: { filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'envoy.filters.http.lua' } } } } },
		patch: { operation: 'REMOVE' },
	};
	const spec = (patches: unknown[]) => ({ workload, istio: { resources: [wasmPluginYaml, luaBeforeWasm] }, envoy: { patches } });
	const error = await t.throwsAsync(modelFromSpec(spec([removeLua, {
		applyTo: 'CLUSTER', match: { cluster: { name: 'outbound|9080||reviews.default.svc.cluster.local' } }, patch: { operation: 'REMOVE' },
	}]), { baseDir: repoRoot }));
	t.regex(error?.message ?? '', /^\(envoy\.patches\[1\]\): patch REMOVE on CLUSTER matches nothing/);

	const model = await modelFromSpec(spec([removeLua]), { baseDir: repoRoot });
	t.regex(model.patches?.[0]?.origin ?? '', /^EnvoyFilter default\/lua-first/);
	const bootstrap: JsonObject = buildBootstrap(model, placement);
	t.notRegex(JSON.stringify(bootstrap), /envoy\.filters\.http\.lua/, 'meshbox.yaml\'s REMOVE saw the filter the EnvoyFilter inserted');
});

test('meshbox check: an EnvoyFilter is valid, and a patch that matches nothing in the workload\'s sidecar is a warning at its line', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-envoy-filter-'));
	try {
		const file = path.join(dir, 'ef.yaml');
		await writeFile(file, `${wasmPluginYaml}---\n${luaBeforeWasm}`);
		const result = await execa('node', [meshboxCli, 'check', file], { reject: false, cwd: repoRoot });
		t.is(result.exitCode, 0, result.stderr);
		t.regex(result.stdout, /ef\.yaml:\d+:\d+: ok: EnvoyFilter default\/lua-first is valid for Istio 1\.29/);
		const warnings = result.stdout.split('\n').filter(line => /: warning: .*matches nothing/.test(line));
		t.is(warnings.length, 1, result.stdout);
		t.regex(warnings[0] ?? '', /ef\.yaml:29:5: warning: EnvoyFilter default\/lua-first: patch MERGE on CLUSTER \(SIDECAR_OUTBOUND\) matches nothing in the sidecar of app=my-app in default/);
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
});

test('check: a patch value is built as the Envoy message applyTo names: an unknown type is an error, an unknown field a warning', t => {
	const value = (typedConfig: string) => `configPatches:\n- applyTo: HTTP_FILTER\n  patch:\n    operation: INSERT_FIRST\n    value: {name: f, typed_config: {'@type': ${typedConfig}}}`;
	const parsed = parse([
		envoyFilter('unknown-type', value('type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope')),
		envoyFilter('unknown-field', value('type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua, inline_cod: x')),
	].join('---\n'));
	const find = (name: string) => parsed.findings.filter(finding => finding.subject === `EnvoyFilter default/${name}` && finding.field.startsWith('spec.configPatches[0].patch.value'));
	t.is(find('unknown-type')[0]?.severity, 'error');
	t.regex(find('unknown-type')[0]?.message ?? '', /Nope/);
	t.is(find('unknown-field')[0]?.severity, 'warning');
	t.regex(find('unknown-field')[0]?.message ?? '', /inline_cod: unknown field in envoy\.extensions\.filters\.http\.lua\.v3\.Lua/);
	t.deepEqual(parsed.envoyFilters.map(filter => filter.name), ['unknown-field']);
});

test('sidecar: listener.portNumber is compared with the port of istiod\'s names (virtualInbound\'s chain 0.0.0.0_8080), not where meshbox binds', async t => {
	const mergeServerName = (port: number, name: string) => `- applyTo: NETWORK_FILTER
  match:
    context: SIDECAR_INBOUND
    listener:
      portNumber: ${port}
      filterChain: {filter: {name: envoy.filters.network.http_connection_manager}}
  patch:
    operation: MERGE
    value: {typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, server_name: ${name}}}`;
	const model = await modelFromSpec({
		workload,
		istio: { resources: [wasmPluginYaml, envoyFilter('ports', `configPatches:\n${mergeServerName(8080, 'app-port')}\n${mergeServerName(9090, 'other-port')}`)] },
	}, { baseDir: repoRoot });
	const bootstrap = buildBootstrap(model, placement);
	t.regex(JSON.stringify(bootstrap), /"server_name":"app-port"/);
	t.notRegex(JSON.stringify(bootstrap), /other-port/);
	t.regex(model.sidecar?.notes.join('\n') ?? '', /EnvoyFilter default\/ports \(istio\.resources\[1\]:\d+:\d+, configPatches\[1\]\): patch MERGE on NETWORK_FILTER \(SIDECAR_INBOUND\) matches nothing/);
});

test('the envoyFilter() builder gives the object the YAML gives: the same chain on the sidecar', async t => {
	const built = buildEnvoyFilter({
		name: 'lua-first',
		workloadSelector: { labels: { app: 'my-app' } },
		configPatches: [{
			applyTo: 'HTTP_FILTER',
			match: { context: 'SIDECAR_INBOUND', listener: { portNumber: 8080, filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'extensions.istio.io/wasmplugin/default.echo' } } } } },
			patch: {
				operation: 'INSERT_BEFORE',
				value: { name: 'envoy.filters.http.lua', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', default_source_code: { inline_string: 'function envoy_on_request(h) end' } } },
			},
		}],
	});
	t.is(built.kind, 'EnvoyFilter');
	t.is(built.apiVersion, 'networking.istio.io/v1alpha3');
	t.deepEqual(built.metadata, { name: 'lua-first', namespace: 'default' });
	const model = await modelFromSpec({ workload, istio: { resources: [wasmPluginYaml, built] } }, { baseDir: repoRoot });
	const [listener] = (buildBootstrap(model, placement).static_resources as { listeners: Array<{ filter_chains: Chain[] }> }).listeners;
	const names = listener!.filter_chains[0]!.filters.find(filter => filter.name === 'envoy.filters.network.http_connection_manager')!.typed_config.http_filters.map(filter => filter.name);
	t.is(names[names.indexOf('extensions.istio.io/wasmplugin/default.echo') - 1], 'envoy.filters.http.lua');
});
