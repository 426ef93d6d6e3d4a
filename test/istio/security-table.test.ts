/**
 * AuthorizationPolicy inputs → the RBAC / ext_authz filters Istio produces, round-tripped through `meshbox render`.
 * The expectations are Istio's own: the builder's testdata (pilot/pkg/security/authz/builder/testdata/http/*-in.yaml
 * and *-out.yaml at tags 1.29.0 and 1.30.0, copied to fixtures/security/istio-testdata), with the extension providers
 * of builder_test.go. Istio prints protojson (camelCase); `meshbox render` prints Envoy's snake_case JSON names.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { parse, parseAllDocuments } from 'yaml';
import { meshboxCli, repoRoot } from '../helpers/paths.ts';

const testdata = path.join(repoRoot, 'fixtures', 'security', 'istio-testdata');

/** builder_test.go meshConfigHTTP / meshConfigGRPC (the provider services are the sandbox cluster `my-custom-ext-authz`). */
const meshConfigHttp = { extensionProviders: [{ name: 'default', envoyExtAuthzHttp: {
	service: 'foo/my-custom-ext-authz.foo.svc.cluster.local', port: 9000, timeout: '10s', failOpen: true, statusOnError: '403', pathPrefix: '/check',
	includeRequestHeadersInCheck: ['x-custom-id', 'x-prefix-*', '*-suffix'], includeHeadersInCheck: ['should-not-include-when-IncludeRequestHeadersInCheck-is-set'],
	includeAdditionalHeadersInCheck: { 'x-header-1': 'value-1', 'x-header-2': 'value-2' },
	includeRequestBodyInCheck: { maxRequestBytes: 2048, allowPartialMessage: true, packAsBytes: true },
	headersToUpstreamOnAllow: ['Authorization', 'x-prefix-*', '*-suffix'], headersToDownstreamOnDeny: ['Set-cookie', 'x-prefix-*', '*-suffix'],
	headersToDownstreamOnAllow: ['Set-cookie', 'x-prefix-*', '*-suffix'],
} }] };
const meshConfigGrpc = { extensionProviders: [{ name: 'default', envoyExtAuthzGrpc: {
	service: 'foo/my-custom-ext-authz.foo.svc.cluster.local', port: 9000, timeout: '2ms', failOpen: true, statusOnError: '403',
	includeRequestBodyInCheck: { maxRequestBytes: 4096, allowPartialMessage: true },
} }] };

type Case = { readonly input: string; readonly want: readonly string[]; readonly version?: '1.29' | '1.30'; readonly meshConfig?: unknown };

// builder_test.go TestGenerator_GenerateHTTP, the cases without trust-domain aliases (meshbox has one trust domain).
const cases: readonly Case[] = [
	{ input: 'allow-empty-rule-in', want: ['allow-empty-rule-out'] },
	{ input: 'allow-full-rule-in', want: ['allow-full-rule-out'] },
	{ input: 'allow-nil-rule-in', want: ['allow-nil-rule-out'] },
	{ input: 'allow-path-in', want: ['allow-path-out'] },
	{ input: 'audit-full-rule-in', want: ['audit-full-rule-out'] },
	{ input: 'deny-and-allow-in', want: ['deny-and-allow-out1', 'deny-and-allow-out2'] },
	{ input: 'deny-empty-rule-in', want: ['deny-empty-rule-out'] },
	{ input: 'dry-run-allow-and-deny-in', want: ['dry-run-allow-and-deny-out1', 'dry-run-allow-and-deny-out2'] },
	{ input: 'dry-run-mix-in', want: ['dry-run-mix-out'] },
	{ input: 'multiple-policies-in', want: ['multiple-policies-out'] },
	{ input: 'single-policy-in', want: ['single-policy-out'] },
	{ input: 'custom-simple-http-in', want: ['custom-http-provider-out1', 'custom-http-provider-out2'], meshConfig: meshConfigHttp },
	{ input: 'custom-simple-http-in', want: ['custom-grpc-provider-out1', 'custom-grpc-provider-out2'], meshConfig: meshConfigGrpc },
	{ input: 'custom-bad-multiple-providers-in', want: ['custom-bad-out'], meshConfig: meshConfigHttp },
	// 1.30 names CUSTOM rules and the ext_authz trigger after the provider, and refuses a second provider per workload.
	{ input: 'custom-simple-http-in', want: ['custom-http-provider-out1', 'custom-http-provider-out2'], meshConfig: meshConfigHttp, version: '1.30' },
	{ input: 'custom-bad-multiple-providers-in', want: ['custom-bad-multiple-providers-out1', 'custom-bad-multiple-providers-out2'], meshConfig: meshConfigHttp, version: '1.30' },
];

/** protojson's camelCase field names → Envoy's snake_case; map keys (policy names) and `@type` stay. */
function snakeCase(value: unknown, inMap = false): unknown {
	if (Array.isArray(value)) {
		return value.map(entry => snakeCase(entry));
	}

	if (value === null || typeof value !== 'object') {
		return value;
	}

	return Object.fromEntries(Object.entries(value).map(([key, entry]) => {
		const name = inMap || key.startsWith('@') ? key : key.replaceAll(/[A-Z]/g, letter => `_${letter.toLowerCase()}`);
		return [name, snakeCase(entry, name === 'policies')];
	}));
}

async function renderedSecurityFilters(input: string, version: string, meshConfig: unknown): Promise<unknown[]> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-security-table-'));
	try {
		const config = {
			// builder_test.go node(): the httpbin v1 workload in namespace foo.
			workload: { name: 'httpbin', namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } },
			clusters: { 'my-custom-ext-authz': '127.0.0.1:9000' },
			istio: { version, files: [path.join(testdata, version, `${input}.yaml`)], ...(meshConfig ? { meshConfig } : {}) },
		};
		const file = path.join(dir, 'meshbox.yaml');
		await writeFile(file, JSON.stringify(config));
		const result = await execa('node', [meshboxCli, 'render', '--config', file], { reject: false });
		if (result.exitCode !== 0) {
			throw new Error(result.stderr);
		}

		const bootstrap = parse(result.stdout) as { static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { http_filters?: Array<{ name: string }> } }> }> }> } };
		const filters = bootstrap.static_resources.listeners[0]!.filter_chains[0]!.filters.at(-1)!.typed_config.http_filters ?? [];
		return filters.filter(filter => filter.name === 'envoy.filters.http.rbac' || filter.name === 'envoy.filters.http.ext_authz');
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}

for (const { input, want, version = '1.29', meshConfig } of cases) {
	test.serial(`Istio ${version} ${input}${meshConfig ? ` (${JSON.stringify(meshConfig).includes('Grpc') ? 'grpc' : 'http'} provider)` : ''} → ${want.join(', ')}`, async t => {
		const expected = await Promise.all(want.map(async name => snakeCase(parseAllDocuments(await readFile(path.join(testdata, version, `${name}.yaml`), 'utf8'))[0]!.toJS())));
		t.deepEqual(await renderedSecurityFilters(input, version, meshConfig), expected);
	});
}
