/**
 * WasmPlugin / TrafficExtension validation: Istio's own reasons (pkg/config/validation/validation.go
 * ValidateWasmPlugin and its helpers; the CRD schema from istio/api wasm.proto), with file:line:col.
 */
import test from 'ava';
import { errors, parse, wasmPlugin } from './helpers.ts';

test('a complete, valid WasmPlugin parses with every field', t => {
	const parsed = parse(wasmPlugin([
		'selector: {matchLabels: {app: my-app}}',
		'url: oci://registry.local:5000/plugins/hdr:v1',
		'sha256: ' + 'a'.repeat(64),
		'imagePullPolicy: Always',
		'imagePullSecret: reg-cred',
		'pluginConfig: {header: x-service-name, value: my-app}',
		'pluginName: my-wasm-plugin',
		'phase: AUTHZ',
		'priority: 10',
		'failStrategy: FAIL_OPEN',
		'vmConfig: {env: [{name: POD_NAME, valueFrom: HOST}, {name: MODE, value: demo}]}',
		'match: [{mode: SERVER, ports: [{number: 8080}]}]',
		'type: HTTP',
	].join('\n')));
	t.deepEqual(errors(parsed), []);
	const [plugin] = parsed.extensions;
	t.like(plugin, {
		kind: 'WasmPlugin', name: 'p', namespace: 'default', phase: 'AUTHZ', priority: 10, failStrategy: 'FAIL_OPEN',
		imagePullPolicy: 'Always', pluginName: 'my-wasm-plugin', type: 'HTTP', selector: { app: 'my-app' },
	});
	t.deepEqual(plugin?.kind === 'WasmPlugin' ? plugin.env : [], [{ name: 'POD_NAME', valueFrom: 'HOST', value: '' }, { name: 'MODE', valueFrom: 'INLINE', value: 'demo' }]);
	t.deepEqual(plugin?.match, [{ mode: 'SERVER', ports: [8080] }]);
});

test('validation.go messages, each with its line and column', t => {
	const cases: Array<[string, string]> = [
		['url: ""', 'url field needs to be set'],
		['pluginName: x', 'url field needs to be set'],
		['url: ftp://x/y.wasm', 'url contains unsupported scheme: ftp'],
		['url: localhost:5000/x:v1', 'url contains unsupported scheme: localhost'],
		['url: oci://r/x\nsha256: abc', 'sha256 field must be 64 characters long'],
		[`url: oci://r/x\nsha256: ${'A'.repeat(64)}`, 'sha256 field must match [a-f0-9]{64} pattern'],
		[`url: oci://r/x\nimagePullSecret: ${'s'.repeat(254)}`, 'imagePullSecret field must be less than 253 characters long'],
		[`url: oci://r/x\npluginName: ${'n'.repeat(257)}`, 'pluginName field must be less than 255 characters long'],
		['url: oci://r/x\nvmConfig: {env: [{name: ""}]}', 'spec.vmConfig.env invalid'],
		['url: oci://r/x\nvmConfig: {env: [{name: A}, {name: A}]}', 'duplicate env'],
		['url: oci://r/x\nvmConfig: {env: [{name: A, valueFrom: HOST, value: x}]}', 'value may only be set when valueFrom is INLINE'],
		['url: oci://r/x\nmatch: [{ports: [{number: 70000}]}]', 'spec.Match[0].Ports[0] is out of range: 70000'],
		['url: oci://r/x\nmatch: [null]', 'spec.Match[0] is nil'],
		['url: oci://r/x\nselector: {matchLabels: {app: "my-*"}}', 'wildcard is not supported in selector: "app=my-*"'],
		['url: oci://r/x\nselector: {matchLabels: {app: a}}\ntargetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]', 'only one of targetRefs or workloadSelector can be set'],
		['url: oci://r/x\ntargetRefs: [{kind: Gateway, name: gw}]', 'targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] but was /Gateway'],
		['url: oci://r/x\ntargetRefs: [{kind: Service, name: s, namespace: other}]', 'targetRef namespace must not be set; cross namespace referencing is not supported'],
		['url: oci://r/x\ntargetRef: {kind: Service}', 'targetRef name must be set'],
	];
	for (const [spec, message] of cases) {
		const found = errors(parse(wasmPlugin(spec)));
		t.true(found.some(line => line.includes(message)), `${spec} → expected "${message}", got ${JSON.stringify(found)}`);
		t.true(found.every(line => /^test\.yaml:\d+:\d+ /.test(line)), `located: ${found.join(' | ')}`);
	}
});

test('an unknown field names the nearest valid one, at its line and column', t => {
	const parsed = parse(wasmPlugin('url: oci://r/x\npluginname: x\nphse: AUTHZ'));
	const unknown = parsed.findings.filter(finding => finding.message.startsWith('unknown field'));
	t.is(unknown.length, 2);
	t.is(unknown[0]?.where, 'test.yaml:8:3');
	t.regex(unknown[0]?.hint ?? '', /did you mean "pluginName"/);
	t.regex(unknown[1]?.hint ?? '', /did you mean "phase"/);
});

test('enum values: Istio names only, with a suggestion; FAIL_RELOAD from 1.27', t => {
	const parsed = parse(wasmPlugin('url: oci://r/x\nphase: AUTHNZ\nfailStrategy: FAIL_CLOSED'));
	t.deepEqual(parsed.findings.map(finding => finding.hint), ['did you mean "AUTHN"?', 'did you mean "FAIL_CLOSE"?']);
	t.deepEqual(errors(parse(wasmPlugin('url: oci://r/x\nfailStrategy: FAIL_RELOAD'), '1.29')), []);
	t.is(errors(parse(wasmPlugin('url: oci://r/x\nfailStrategy: FAIL_RELOAD'), '1.26')).length, 1);
});

test('an empty selector is a warning (workload selector specified without labels)', t => {
	const parsed = parse(wasmPlugin('url: oci://r/x\nselector: {}'));
	t.deepEqual(errors(parsed), []);
	t.is(parsed.findings[0]?.message, 'workload selector specified without labels');
	t.deepEqual(parsed.extensions[0]?.selector, {});
});

test('several documents per file, each located; metadata checked like the API server does', t => {
	const text = `${wasmPlugin('url: oci://r/a')}---\n${wasmPlugin('url: oci://r/b', 'name: Bad_Name')}---\n# only a comment\n`;
	const parsed = parse(text);
	t.is(parsed.extensions.length, 1);
	const [error] = errors(parsed);
	t.regex(error ?? '', /^test\.yaml:12:3 metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
});

test('other versions and kinds of extensions.istio.io: no matches, as kubectl says', t => {
	t.regex(errors(parse('apiVersion: extensions.istio.io/v1beta1\nkind: WasmPlugin\nmetadata: {name: p}\nspec: {url: oci://r/x}\n'))[0] ?? '', /no matches for kind "WasmPlugin" in version "extensions.istio.io\/v1beta1"/);
	const trafficExtension = 'apiVersion: extensions.istio.io/v1alpha1\nkind: TrafficExtension\nmetadata: {name: t}\nspec:\n  phase: AUTHN\n  wasm: {url: oci://r/x, pluginConfig: {a: 1}}\n';
	t.is(errors(parse(trafficExtension, '1.29')).length, 1, 'TrafficExtension does not exist before 1.30');
	const parsed = parse(trafficExtension, '1.30');
	t.deepEqual(errors(parsed), []);
	t.like(parsed.extensions[0], { kind: 'TrafficExtension', phase: 'AUTHN', url: 'oci://r/x' });
	t.is(errors(parse('apiVersion: extensions.istio.io/v1alpha1\nkind: TrafficExtension\nmetadata: {name: t}\nspec: {wasm: {url: oci://r/x}, lua: {inlineCode: x}}\n', '1.30'))[0]?.includes('exactly one of wasm or lua must be set'), true);
	const lua = parse('apiVersion: extensions.istio.io/v1alpha1\nkind: TrafficExtension\nmetadata: {name: l}\nspec: {lua: {inlineCode: "function envoy_on_request(h) end"}}\n', '1.30');
	t.deepEqual(errors(lua), []);
	t.true('lua' in (lua.extensions[0] ?? {}));
});

test('YAML syntax errors point at the line', t => {
	const parsed = parse('apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p\nspec: {}\n');
	t.regex(errors(parsed)[0] ?? '', /^test\.yaml:\d+:\d+ /);
});
