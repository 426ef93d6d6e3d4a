/**
 * Where istiod puts its security filters among the WasmPlugin phases (listener_builder.go, 1.25–1.30 alike), which
 * policies attach to which proxy (policyattachment.go), the jwt_authn config istiod builds (policy_applier.go,
 * jwks_resolver.go), and the PeerAuthentication mode (ComposePeerAuthentication).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import type { SidecarFilter } from '../../src/config/model.ts';
import type { IstioConfigResource } from '../../src/istio/config-resources.ts';
import { gatewayHttpChain } from '../../src/istio/chain.ts';
import { parseIstioText, setIstioVersionField } from '../../src/istio/parse.ts';
import { peerAuthenticationMode, securityFilters, defaultMeshConfig } from '../../src/istio/security/filters.ts';
import { resolveIstioSidecar } from '../../src/istio/sidecar.ts';
import { istioVersions, versionTraits, type IstioVersion } from '../../src/istio/version.ts';
import { repoRoot } from '../helpers/paths.ts';

const headersWasm = 'file://fixtures/plugins/rust-headers/rust-headers.wasm';
const workload = { name: 'shop', namespace: 'shop', labels: { app: 'shop' } };
const jwks = JSON.stringify({ keys: [{ kty: 'RSA', e: 'AQAB', n: 'sXch' }] });

const plugin = (name: string, phase: string) => ({ apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', metadata: { name, namespace: 'shop' }, spec: { url: headersWasm, phase } });
const policy = (name: string, spec: Record<string, unknown>, namespace = 'shop') => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace }, spec });
const requestAuthentication = (name: string, spec: Record<string, unknown>, namespace = 'shop') => ({ apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name, namespace }, spec });

// 1.30 translates WasmPlugins to TrafficExtensions (name suffix ~istio-translated-wasmplugin): the phase positions are the same.
const names = (filters: readonly SidecarFilter[]) => filters.map(filter => (filter.kind === 'wasm' ? `wasm:${filter.plugin.name.replace('~istio-translated-wasmplugin', '')}` : (filter.kind === 'placeholder' ? `(${filter.name})` : filter.name)));

const everyPhaseAndPolicy = [
	plugin('authn', 'AUTHN'), plugin('authz', 'AUTHZ'), plugin('stats', 'STATS'),
	requestAuthentication('jwt', { jwtRules: [{ issuer: 'https://issuer', jwks }] }),
	policy('deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }),
	policy('ext', { action: 'CUSTOM', provider: { name: 'ext-authz' }, rules: [{}] }),
];

for (const version of istioVersions) {
	test(`Istio ${version}: CUSTOM, AUTHN, jwt_authn, AUTHZ, RBAC, STATS in istiod's order on the inbound chain`, async t => {
		const resolved = await resolveIstioSidecar({
			workload, baseDir: repoRoot, clusters: [{ name: 'ext-authz', host: '127.0.0.1', port: 9000 }],
			istio: { version, resources: everyPhaseAndPolicy, meshConfig: { extensionProviders: [{ name: 'ext-authz', envoyExtAuthzHttp: { service: 'ext-authz.shop.svc.cluster.local', port: 8000 } }] } },
		});
		t.deepEqual(names(resolved.sidecar.httpFilters), [
			'(istio.metadata_exchange)',
			'envoy.filters.http.rbac', 'envoy.filters.http.ext_authz',
			'wasm:shop.authn',
			'envoy.filters.http.jwt_authn',
			'wasm:shop.authz',
			'envoy.filters.http.rbac',
			'wasm:shop.stats',
			'envoy.filters.http.grpc_stats', 'envoy.filters.http.fault', 'envoy.filters.http.cors', '(istio.stats)',
		]);
		t.deepEqual(resolved.clusters, [{ name: 'outbound|8000||ext-authz.shop.svc.cluster.local', host: '127.0.0.1', port: 9000 }], 'the provider\'s cluster, at the sandbox cluster');
		const comments = resolved.sidecar.httpFilters.map(filter => filter.comment).join('\n');
		t.regex(comments, /AuthorizationPolicy shop\/deny \(istio\.resources\[4\]:1\) rule 0/, 'each filter names its origin');
		t.regex(comments, /RequestAuthentication shop\/jwt \(istio\.resources\[3\]:1\) jwtRules\[0\]/);
	});
}

test('without security resources istiod adds none of the filters: the phases are adjacent', async t => {
	const resolved = await resolveIstioSidecar({ workload, baseDir: repoRoot, istio: { resources: [plugin('authn', 'AUTHN'), plugin('authz', 'AUTHZ')] } });
	t.deepEqual(names(resolved.sidecar.httpFilters).slice(0, 3), ['(istio.metadata_exchange)', 'wasm:shop.authn', 'wasm:shop.authz']);
});

test('an outbound sidecar gets no security filters, with a note saying so', async t => {
	const resolved = await resolveIstioSidecar({ workload, baseDir: repoRoot, istio: { direction: 'outbound', resources: [policy('deny', { action: 'DENY', rules: [{}] })] } });
	t.false(names(resolved.sidecar.httpFilters).includes('envoy.filters.http.rbac'));
	t.true(resolved.sidecar.notes.some(note => note.includes('apply to inbound and gateway listeners')));
});

test('a single sidecar notes networking kinds as mesh resources', async t => {
	const resolved = await resolveIstioSidecar({ workload, baseDir: repoRoot, istio: { resources: [{ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'vs', namespace: 'shop' }, spec: { hosts: ['shop'] } }] } });
	t.true(resolved.sidecar.notes.some(note => /VirtualService shop\/vs apply to a mesh of proxies \(`mesh:`/.test(note)), resolved.sidecar.notes.join('\n'));
});

function resources(documents: readonly unknown[], version: IstioVersion = '1.29'): IstioConfigResource[] {
	const text = documents.map(document => JSON.stringify(document)).join('\n---\n');
	const parsed = parseIstioText(text, 'mesh.yaml', { traits: versionTraits(version), defaultNamespace: 'shop', suggestion: { namespace: 'shop', labels: {} }, howToSetVersion: setIstioVersionField });
	return [...parsed.config];
}

const noServices = () => undefined;

test('which policies attach: root namespace mesh-wide, selector, targetRefs only for Gateway API gateways', async t => {
	const config = resources([
		policy('mesh-wide', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['TRACE'] } }] }] }, 'istio-system'),
		policy('other-app', { selector: { matchLabels: { app: 'cart' } }, rules: [{}] }),
		policy('elsewhere', { rules: [{}] }, 'payments'),
		policy('gateway', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'web' }], action: 'DENY', rules: [{}] }),
	]);
	const input = { port: 8080, resources: config, meshConfig: defaultMeshConfig, traits: versionTraits('1.29'), rootNamespace: 'istio-system', lookupService: noServices };
	const sidecar = await securityFilters({ ...input, proxy: { ...workload, kind: 'sidecar', name: 'shop' } });
	t.is(sidecar.rbac.length, 1, 'only the root namespace DENY applies to the sidecar');
	t.regex(sidecar.rbac[0]!.comment, /istio-system\/mesh-wide/);
	const notes = sidecar.notes.join('\n');
	t.regex(notes, /other-app .* does not apply to shop: selector does not match: needs app=cart/);
	t.regex(notes, /elsewhere .* does not apply to shop: in namespace payments/);
	t.regex(notes, /gateway .* does not apply to shop: has targetRefs/);

	const gateway = await securityFilters({ ...input, proxy: { namespace: 'shop', labels: { 'gateway.networking.k8s.io/gateway-name': 'web' }, kind: 'gateway', name: 'web' } });
	t.true(gateway.rbac.some(filter => filter.comment.includes('shop/gateway')), 'a Gateway API gateway named by targetRefs gets it');
});

test('jwt_authn as istiod builds it: providers sorted by issuer, a missing token allowed, claims to headers, gateways clear the route cache', async t => {
	const config = resources([requestAuthentication('jwt', { jwtRules: [
		{ issuer: 'https://z.example', jwks, fromHeaders: [{ name: 'x-token', prefix: 'Bearer ' }], outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }], forwardOriginalToken: true },
		{ issuer: 'https://a.example', jwks, fromParams: ['token'], outputPayloadToHeader: 'x-payload', spaceDelimitedClaims: ['roles'] },
	] })]);
	const input = { port: 8080, resources: config, meshConfig: defaultMeshConfig, rootNamespace: 'istio-system', lookupService: noServices };
	const built = await securityFilters({ ...input, traits: versionTraits('1.29'), proxy: { ...workload, kind: 'sidecar', name: 'shop' } });
	const typed = built.jwtAuthn?.kind === 'typed' ? built.jwtAuthn.typedConfig : {};
	t.like(typed, { providers: {
		'origins-0': { issuer: 'https://a.example', from_params: ['token'], forward_payload_header: 'x-payload', payload_in_metadata: 'payload',
			normalize_payload_in_metadata: { space_delimited_claims: ['permission', 'roles', 'scope'] }, local_jwks: { inline_string: jwks } },
		'origins-1': { issuer: 'https://z.example', forward: true, from_headers: [{ name: 'x-token', value_prefix: 'Bearer ' }], claim_to_headers: [{ header_name: 'x-sub', claim_name: 'sub' }] },
	} });
	t.deepEqual((typed as { rules: unknown }).rules, [{ match: { prefix: '/' }, requires: { requires_any: { requirements: [
		{ provider_name: 'origins-0' }, { provider_name: 'origins-1' },
		{ requires_all: { requirements: [
			{ requires_any: { requirements: [{ provider_name: 'origins-0' }, { allow_missing: {} }] } },
			{ requires_any: { requirements: [{ provider_name: 'origins-1' }, { allow_missing: {} }] } },
		] } },
	] } } }]);
	t.false('clear_route_cache' in ((typed as { providers: Record<string, object> }).providers['origins-0'] ?? {}));

	const older = await securityFilters({ ...input, traits: versionTraits('1.27'), proxy: { namespace: 'shop', labels: { app: 'shop' }, kind: 'gateway', name: 'gw' } });
	const olderTyped = older.jwtAuthn?.kind === 'typed' ? older.jwtAuthn.typedConfig as { providers: Record<string, Record<string, unknown>> } : { providers: {} };
	t.deepEqual(olderTyped.providers['origins-0']?.normalize_payload_in_metadata, { space_delimited_claims: ['scope', 'permission'] }, '1.25–1.27 ignore spaceDelimitedClaims');
	t.is(olderTyped.providers['origins-0']?.clear_route_cache, true, 'a gateway clears the route cache');
});

test('jwksUri: istiod fetches the keys and inlines them; when it cannot, a fake JWKS (every token 401) and a note', async t => {
	const server = createServer((request, response) => {
		response.writeHead(request.url === '/keys' ? 200 : 404).end(request.url === '/keys' ? jwks : '');
	});
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	t.teardown(() => server.close());
	const { port } = server.address() as AddressInfo;
	const config = resources([requestAuthentication('jwt', { jwtRules: [
		{ issuer: 'https://good', jwksUri: `http://127.0.0.1:${port}/keys` },
		{ issuer: 'https://missing', jwksUri: `http://127.0.0.1:${port}/nothing` },
	] })]);
	const built = await securityFilters({ port: 8080, resources: config, meshConfig: defaultMeshConfig, rootNamespace: 'istio-system', lookupService: noServices, traits: versionTraits('1.29'), proxy: { ...workload, kind: 'sidecar', name: 'shop' } });
	const providers = built.jwtAuthn?.kind === 'typed' ? (built.jwtAuthn.typedConfig as { providers: Record<string, { local_jwks: { inline_string: string } }> }).providers : {};
	t.is(providers['origins-0']?.local_jwks.inline_string, jwks);
	t.regex(providers['origins-1']?.local_jwks.inline_string ?? '', /vqS7RN4b34i3/, 'istiod\'s FakeJwks');
	t.true(built.notes.some(note => note.includes('using a fake JWKS for now')));
});

test('gateway chain: outbound metadata exchange and ALPN around the same security positions', t => {
	const rbac: SidecarFilter = { kind: 'typed', name: 'envoy.filters.http.rbac', typedConfig: {}, comment: '' };
	t.deepEqual(names(gatewayHttpChain(() => [], { extAuthz: [], rbac: [rbac] })), [
		'(istio.metadata_exchange)', 'envoy.filters.http.rbac', 'envoy.filters.http.grpc_stats', '(istio.alpn)', 'envoy.filters.http.fault', 'envoy.filters.http.cors', '(istio.stats)',
	]);
});

test('PeerAuthentication mode: mesh, then namespace, then workload, then its port; UNSET inherits', t => {
	const peer = (name: string, namespace: string, spec: Record<string, unknown>) => ({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace }, spec });
	const mode = (documents: unknown[], port = 8080) => peerAuthenticationMode({ namespace: 'shop', labels: { app: 'shop' }, port, resources: resources(documents), rootNamespace: 'istio-system' });
	t.is(mode([]), 'PERMISSIVE');
	t.is(mode([peer('mesh', 'istio-system', { mtls: { mode: 'STRICT' } })]), 'STRICT');
	t.is(mode([peer('mesh', 'istio-system', { mtls: { mode: 'STRICT' } }), peer('ns', 'shop', { mtls: { mode: 'DISABLE' } })]), 'DISABLE');
	t.is(mode([peer('mesh', 'istio-system', { mtls: { mode: 'STRICT' } }), peer('ns', 'shop', { mtls: { mode: 'UNSET' } })]), 'STRICT');
	const workloadPolicy = peer('app', 'shop', { selector: { matchLabels: { app: 'shop' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 9090: { mode: 'DISABLE' } } });
	t.is(mode([peer('mesh', 'istio-system', { mtls: { mode: 'STRICT' } }), workloadPolicy]), 'PERMISSIVE');
	t.is(mode([peer('mesh', 'istio-system', { mtls: { mode: 'STRICT' } }), workloadPolicy], 9090), 'DISABLE');
	t.is(mode([peer('other', 'shop', { selector: { matchLabels: { app: 'cart' } }, mtls: { mode: 'DISABLE' } })]), 'PERMISSIVE', 'another workload\'s policy');
});

test('principals of the default trust domain follow meshConfig.trustDomain (trustdomain/bundle.go); others stay', async t => {
	const config = resources([policy('allow', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/a/sa/b', 'other.td/ns/a/sa/b', '*/ns/a/sa/b'] } }] }] })]);
	const built = await securityFilters({ port: 8080, resources: config, meshConfig: { ...defaultMeshConfig, trustDomain: 'example.org' }, rootNamespace: 'istio-system',
		lookupService: noServices, traits: versionTraits('1.29'), proxy: { ...workload, kind: 'sidecar', name: 'shop' } });
	const text = JSON.stringify(built.rbac[0]?.kind === 'typed' ? built.rbac[0].typedConfig : {});
	t.true(text.includes('"exact":"spiffe://example.org/ns/a/sa/b"'), text);
	t.true(text.includes('"exact":"spiffe://other.td/ns/a/sa/b"'));
	t.true(text.includes('"safe_regex":{"regex":"spiffe://.*/ns/a/sa/b"}'));
	t.false(text.includes('spiffe://cluster.local/'));
});

test('1.30 refuses provider names that cannot go into metadata keys: the CUSTOM rules become a deny; 1.29 takes them', async t => {
	const config = resources([policy('ext', { action: 'CUSTOM', provider: { name: 'Ext_Authz' }, rules: [{ to: [{ operation: { paths: ['/private'] } }] }] })]);
	const meshConfig = { ...defaultMeshConfig, extensionProviders: [{ name: 'Ext_Authz', envoyExtAuthzHttp: { service: 'ext-authz.shop.svc.cluster.local', port: 8000 } }] };
	const lookupService = () => ({ hostname: 'ext-authz.shop.svc.cluster.local', cluster: 'outbound|8000||ext-authz.shop.svc.cluster.local', endpoints: [] });
	const build = async (version: IstioVersion) => securityFilters({ port: 8080, resources: config, meshConfig, rootNamespace: 'istio-system', lookupService, traits: versionTraits(version), proxy: { ...workload, kind: 'sidecar', name: 'shop' } });
	const newer = await build('1.30');
	t.deepEqual(names(newer.extAuthz), ['envoy.filters.http.rbac']);
	t.true(newer.notes.some(note => note.includes('invalid provider name "Ext_Authz": uppercase letters not allowed')), newer.notes.join('\n'));
	t.deepEqual(names((await build('1.29')).extAuthz), ['envoy.filters.http.rbac', 'envoy.filters.http.ext_authz']);
});
