/**
 * Translation to what istiod sends (pilot/pkg/model/extensions.go; cf. extensions_test.go TestBuildDataSource,
 * TestBuildVMConfig) and the pluginConfig encoding (protomarshal.ToJSON of a Struct).
 */
import test from 'ava';
import { goJson } from '../../src/istio/go-json.ts';
import type { WasmExtension } from '../../src/istio/resources.ts';
import { agentKeyValues, ecdsResource, rbacFallback, translate } from '../../src/istio/translate.ts';
import { versionTraits } from '../../src/istio/version.ts';
import { parse } from './helpers.ts';

function plugin(spec: string, meta = ''): WasmExtension {
	const parsed = parse(`apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: my-plugin, namespace: default${meta}}\nspec:\n${spec.split('\n').map(line => `  ${line}`).join('\n')}\n`);
	const [extension] = parsed.extensions;
	if (!extension || extension.kind !== 'WasmPlugin' || 'lua' in extension) {
		throw new Error(JSON.stringify(parsed.findings));
	}

	return extension;
}

test('pluginConfig JSON as Go encodes a Struct: sorted keys, compact, doubles, HTML escapes', t => {
	t.is(goJson({ b: 1, a: { d: [true, null, 1.5], c: '<&>' } }), '{"a":{"c":"\\u003c\\u0026\\u003e","d":[true,null,1.5]},"b":1}');
	t.is(goJson({ n: 1e21, m: 1e-7, z: 8080 }), '{"m":1e-7,"n":1e+21,"z":8080}');
	t.throws(() => goJson({ x: Number.NaN }), { message: /unsupported value: NaN/ });
});

test('the worked example: names, root_id, configuration, env, remote code (1.29)', t => {
	const result = translate(plugin([
		'url: oci://registry.local:5000/plugins/hdr:v1',
		'pluginName: my-wasm-plugin',
		'phase: AUTHZ',
		'priority: 10',
		'failStrategy: FAIL_OPEN',
		'pluginConfig: {value: my-app, header: x-service-name}',
		'vmConfig: {env: [{name: POD_NAME, valueFrom: HOST}, {name: MODE, value: demo}]}',
	].join('\n'), ', resourceVersion: "4711"'), versionTraits('1.29'));
	if (!result.ok) {
		t.fail(result.reason);
		return;
	}

	t.deepEqual(ecdsResource(result.translation, false), {
		name: 'extensions.istio.io/wasmplugin/default.my-plugin',
		typed_config: {
			'@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
			config: {
				name: 'default.my-plugin',
				root_id: 'my-wasm-plugin',
				configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: '{"header":"x-service-name","value":"my-app"}' },
				failure_policy: 'FAIL_OPEN',
				vm_config: {
					runtime: 'envoy.wasm.runtime.v8',
					code: { remote: { http_uri: { uri: 'oci://registry.local:5000/plugins/hdr:v1', cluster: '_', timeout: '30s' }, sha256: '' } },
					environment_variables: { key_values: { ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION: '4711', MODE: 'demo' }, host_env_keys: ['POD_NAME'] },
				},
			},
		},
	});
	t.deepEqual(agentKeyValues(result.translation), { MODE: 'demo' }, 'the agent strips ISTIO_META_* from remote code');
});

test('names by release: misspelled prefix ≤1.25, fixed 1.26, TrafficExtension names from 1.30', t => {
	const names = (version: '1.25' | '1.26' | '1.30') => {
		const result = translate(plugin('url: oci://r/x'), versionTraits(version));
		return result.ok ? [result.translation.filterName, result.translation.pluginName] : [];
	};
	t.deepEqual(names('1.25'), ['extenstions.istio.io/wasmplugin/default.my-plugin', 'default.my-plugin']);
	t.deepEqual(names('1.26'), ['extensions.istio.io/wasmplugin/default.my-plugin', 'default.my-plugin']);
	t.deepEqual(names('1.30'), ['extensions.istio.io/trafficextension/default.my-plugin~istio-translated-wasmplugin', 'default.my-plugin~istio-translated-wasmplugin']);
});

test('file:// becomes a local filename with the sha256 dropped; no scheme means oci; ISTIO_META_* stay for local code', t => {
	const local = translate(plugin(`url: file:///opt/filters/x.wasm\nsha256: ${'a'.repeat(64)}\nimagePullPolicy: Always`), versionTraits('1.29'));
	t.true(local.ok && local.translation.code.kind === 'local' && local.translation.code.filename === '/opt/filters/x.wasm');
	t.true(local.ok && agentKeyValues(local.translation).ISTIO_META_WASM_IMAGE_PULL_POLICY === 'Always');
	const bare = translate(plugin('url: registry.io/repo:v1'), versionTraits('1.29'));
	t.true(bare.ok && bare.translation.code.kind === 'remote' && bare.translation.code.uri === 'oci://registry.io/repo:v1');
});

test('no or empty pluginConfig: zero-length configuration; failStrategy → failure_policy', t => {
	const result = translate(plugin('url: oci://r/x\npluginConfig: {}\nfailStrategy: FAIL_RELOAD'), versionTraits('1.29'));
	t.true(result.ok && result.translation.configuration === undefined);
	t.true(result.ok && result.translation.failurePolicy === 'FAIL_RELOAD');
	const closed = translate(plugin('url: oci://r/x'), versionTraits('1.29'));
	t.true(closed.ok && closed.translation.failurePolicy === 'FAIL_CLOSED');
});

test('RBAC fallbacks as pkg/wasm/convert.go builds them: rules_stat_prefix on the HTTP filters only from 1.28', t => {
	const traits = versionTraits('1.28');
	t.deepEqual(rbacFallback(false, false, traits), { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: {}, rules_stat_prefix: 'wasm-default-deny' });
	t.deepEqual(rbacFallback(false, true, traits), { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules_stat_prefix: 'wasm-default-allow' });
	t.deepEqual(rbacFallback(true, false, traits), { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', rules: {}, stat_prefix: 'wasm-default-deny' });
	// 1.25–1.27: `RBAC{Rules: &rbacv3.RBAC{}}` and an empty RBAC for allow (convert.go at those tags).
	for (const version of ['1.25', '1.26', '1.27'] as const) {
		t.deepEqual(rbacFallback(false, false, versionTraits(version)), { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: {} }, version);
		t.deepEqual(rbacFallback(false, true, versionTraits(version)), { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC' }, version);
		t.deepEqual(rbacFallback(true, true, versionTraits(version)), { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', stat_prefix: 'wasm-default-allow' }, version);
	}

	t.is(rbacFallback(false, false, versionTraits('1.30')).rules_stat_prefix, 'wasm-default-deny');
});
