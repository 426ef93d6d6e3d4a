/**
 * VirtualService / DestinationRule / ServiceEntry / Gateway validation: the CRD schema (unknown fields, types,
 * enums, durations; manifests/charts/base/files/crd-all.gen.yaml) and istiod's webhook
 * (pkg/config/validation/validation.go, virtualservice.go, agent/validation.go), each at file:line:col.
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errors, parse } from './helpers.ts';

function resource(kind: string, spec: string, name = 'r'): string {
	return `apiVersion: networking.istio.io/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  namespace: default\nspec:\n${spec.split('\n').map(line => `  ${line}`).join('\n')}\n`;
}

const vs = (spec: string): string => resource('VirtualService', spec);
const dr = (spec: string): string => resource('DestinationRule', spec);
const se = (spec: string): string => resource('ServiceEntry', spec);
const gw = (spec: string, name = 'gw'): string => resource('Gateway', spec, name);

test('valid bookinfo-style resources parse into config with their specs', t => {
	const parsed = parse([
		vs('hosts: [reviews]\nhttp:\n- match: [{headers: {end-user: {exact: jason}}}]\n  route: [{destination: {host: reviews, subset: v2}}]\n- route:\n  - {destination: {host: reviews, subset: v1}, weight: 90}\n  - {destination: {host: reviews, subset: v3}, weight: 10}\n  timeout: 500ms\n  retries: {attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,503"}'),
		dr('host: reviews\ntrafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\nsubsets:\n- {name: v1, labels: {version: v1}}\n- {name: v2, labels: {version: v2}}'),
		se('hosts: [api.example.com]\nports: [{number: 80, name: http, protocol: HTTP}]\nlocation: MESH_EXTERNAL\nresolution: DNS'),
		gw('selector: {istio: ingressgateway}\nservers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]'),
	].join('---\n'));
	t.deepEqual(errors(parsed), []);
	t.deepEqual(parsed.config.map(resource => resource.kind), ['VirtualService', 'DestinationRule', 'ServiceEntry', 'Gateway']);
	const [virtualService] = parsed.config;
	t.is(virtualService?.kind === 'VirtualService' ? virtualService.spec.http?.[1]?.timeout : undefined, '500ms');
});

test('webhook messages in Istio\'s words, each at its line and column', t => {
	const cases: Array<[string, string, RegExp]> = [
		[vs('hosts: [reviews]\nhttp: [{match: [{uri: {prefix: /}}]}]'), 'HTTP route, redirect or direct_response is required', /^test\.yaml:8:10 /],
		[vs('hosts: ["*"]\nhttp: [{route: [{destination: {host: a}}]}]'), 'wildcard host * is not allowed for virtual services bound to the mesh gateway', /^test\.yaml:7:11 /],
		[vs('hosts: [a, a]\nhttp: [{route: [{destination: {host: a}}]}]'), 'duplicate hosts in virtual service: a & a', /^test\.yaml:7:14 /],
		[vs('hosts: [a]'), 'http, tcp or tls must be provided in virtual service', /^test\.yaml:6:1 /],
		[vs('hosts: [a]\nhttp: [{route: [{destination: {host: a}, weight: 0}, {destination: {host: b}}]}]'), 'total destination weight = 0', /^test\.yaml:8:/],
		[vs('hosts: [a]\nhttp: [{redirect: {uri: /x}, route: [{destination: {host: a}}]}]'), 'HTTP route cannot contain both route and redirect', /^test\.yaml:8:/],
		[vs('hosts: [a]\nhttp: [{match: [{uri: {regex: "a(?!b)"}}], route: [{destination: {host: a}}]}]'), '"uri": error parsing regexp: invalid or unsupported Perl syntax: `(?!`; Istio uses RE2 style regex-based match', /^test\.yaml:8:/],
		[vs('hosts: [a]\nhttp: [{route: [{destination: {host: a}}], retries: {attempts: 0, perTryTimeout: 1s}}]'), 'http retry policy configured when attempts are set to 0 (disabled)', /^test\.yaml:8:/],
		[vs('hosts: [a]\nhttp: [{route: [{destination: {host: a}}], retries: {attempts: 2, retryOn: "5xx,bogus"}}]'), '"bogus" is not a valid retryOn policy', /^test\.yaml:8:/],
		[vs('hosts: [a]\nhttp: [{route: [{destination: {host: a}}], fault: {abort: {httpStatus: 700}}}]'), 'HTTP status 700 is not in range 200-599', /^test\.yaml:8:/],
		[vs('hosts: [a]\nhttp: [{route: [{destination: {host: a, subset: V_1}}]}]'), 'subset name is invalid: V_1', /^test\.yaml:8:/],
		[vs('hosts: [a]\nhttp: [{route: [{destination: {host: a}}], headers: {response: {set: {host: x}}}}]'), 'invalid header "host": cannot set Host header', /^test\.yaml:8:/],
		[vs('hosts: [a]\nhttp: [{directResponse: {status: 503}, redirect: {uri: /}}]'), 'HTTP route rule cannot contain both direct_response and redirect', /^test\.yaml:8:/],
		[vs('hosts: [a]\nhttp: [{route: [{destination: {host: a}}], timeout: 1m}]\ngateways: [istio-system/My_GW]'), 'invalid value for gateway name: "My_GW"', /^test\.yaml:9:14 /],
		[dr('host: reviews\nsubsets: [{name: v1}, {name: v1}]'), 'duplicate subset names: v1', /^test\.yaml:8:/],
		[dr('host: reviews\ntrafficPolicy: {}'), 'traffic policy must have at least one field', /^test\.yaml:8:/],
		[dr('host: reviews\ntrafficPolicy: {tls: {mode: MUTUAL}}'), 'client certificate required for mutual tls', /^test\.yaml:8:/],
		[se('hosts: [api.example.com]\nports: [{number: 80, name: http}, {number: 80, name: http2}]'), 'service entry port 80 already defined', /^test\.yaml:8:/],
		[se('hosts: [api.example.com]\nports: [{number: 80, name: http, protocol: HTTPX}]'), 'unsupported protocol: HTTPX', /^test\.yaml:8:/],
		[se('hosts: [api.example.com]\nresolution: NONE\nendpoints: [{address: 1.2.3.4}]'), 'NONE mode cannot set endpoints', /^test\.yaml:9:/],
		[gw('selector: {istio: ingressgateway}\nservers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*"]}]'), 'server must have TLS settings for HTTPS/TLS protocols', /^test\.yaml:8:/],
		[gw('selector: {istio: ingressgateway}\nservers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [bookinfo]}]'), 'short names (non FQDN) are not allowed', /^test\.yaml:8:/],
		[gw('servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]', 'my.gw'), 'invalid gateway name: "my.gw"', /^test\.yaml:4:3 /],
	];
	for (const [yaml, message, where] of cases) {
		const found = errors(parse(yaml));
		t.true(found.some(line => line.includes(message) && where.test(line)), `expected "${message}" at ${where}, got ${JSON.stringify(found)}`);
	}
});

test('schema: unknown fields name the nearest one, types and durations as the API server says', t => {
	const parsed = parse(vs('hosts: [a]\nhttp:\n- route: [{destination: {host: a, subsets: v1}}]\n  timeout: 10\n  retries: {attempts: 2, perTryTimout: 1s}\n  fault: {delay: {fixedDelay: 1x}}'));
	const found = parsed.findings.filter(finding => finding.severity === 'error');
	const unknown = found.filter(finding => finding.message.startsWith('unknown field'));
	t.deepEqual(unknown.map(finding => [finding.where, finding.hint?.match(/did you mean "(\w+)"/)?.[1]]), [['test.yaml:9:37', 'subset'], ['test.yaml:11:28', 'perTryTimeout']]);
	t.true(found.some(finding => finding.field === 'spec.http[0].timeout' && /must be of type string/.test(finding.message) && /10s/.test(finding.hint ?? '')));
	t.true(found.some(finding => finding.field === 'spec.http[0].fault.delay.fixedDelay' && finding.message.includes('must be a valid duration greater than 1ms')));
	t.deepEqual(parsed.config, []);
});

test('the seed article\'s `wasm:` is reported once (by not-api.ts), not again as an unknown field', t => {
	const parsed = parse(vs('hosts: [my-app.example.com]\nhttp:\n- route: [{destination: {host: my-app}}]\n  wasm: {plugin: p}'));
	const wasm = parsed.findings.filter(finding => finding.field === 'spec.http[0].wasm');
	t.is(wasm.length, 1);
	t.regex(wasm[0]?.message ?? '', /^not Istio API/);
});

test('webhook warnings: rules after a catch-all are not used', t => {
	const parsed = parse(vs('hosts: [a]\nhttp:\n- route: [{destination: {host: a}}]\n- name: late\n  match: [{uri: {prefix: /x}}]\n  route: [{destination: {host: b}}]'));
	t.deepEqual(errors(parsed), []);
	t.true(parsed.findings.some(finding => finding.severity === 'warning' && finding.message === 'virtualService rule "late" not used (route without matches defined before)'));
});

test('meshbox check prints Istio\'s message for a bad VirtualService at file:line:col and exits 1', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-net-'));
	try {
		const file = path.join(dir, 'vs.yaml');
		await writeFile(file, vs('hosts: [reviews]\nhttp:\n- route:\n  - {destination: {host: reviews, subset: v1}, weight: 0}\n  - {destination: {host: reviews, subset: v2}}'));
		const result = await execa('node', ['bin/meshbox.js', 'check', file], { reject: false });
		t.is(result.exitCode, 1, result.stdout);
		t.regex(result.stdout, /vs\.yaml:9:5: error: VirtualService default\/r: spec\.http\[0\]\.route: total destination weight = 0 {2}\[webhook\]/);
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
});
