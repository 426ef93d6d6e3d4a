/**
 * Selection and ordering as istiod does it (pilot/pkg/model/push_context.go, policyattachment.go,
 * extensions.go matchListener; cf. push_context_test.go TestWasmPlugins and extensions_test.go TestMatchListener).
 */
import test from 'ava';
import type { Extension } from '../../src/istio/resources.ts';
import { selectExtensions, type ProxyView } from '../../src/istio/select.ts';
import { versionTraits } from '../../src/istio/version.ts';
import { parse } from './helpers.ts';

function plugins(...docs: string[]): Extension[] {
	const parsed = parse(docs.join('---\n'));
	if (parsed.findings.some(finding => finding.severity === 'error')) {
		throw new Error(JSON.stringify(parsed.findings));
	}

	return [...parsed.extensions];
}

function doc(name: string, spec: string, namespace = 'default', extraMeta = ''): string {
	return `apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: ${name}, namespace: ${namespace}${extraMeta}}\nspec:\n  url: oci://r/${name}\n${spec.split('\n').filter(Boolean).map(line => `  ${line}`).join('\n')}\n`;
}

const proxy: ProxyView = { namespace: 'default', labels: { app: 'my-app', version: 'v1' }, rootNamespace: 'istio-system', listenerClass: 'SERVER', port: 8080, traits: versionTraits('1.29') };

function applied(extensions: Extension[], view: ProxyView = proxy): string[] {
	return selectExtensions(extensions, view).filter(outcome => outcome.applied).map(outcome => outcome.extension.name);
}

test('phase groups in AUTHN, AUTHZ, STATS, UNSPECIFIED order; priority descending inside a phase', t => {
	const list = plugins(
		doc('unspecified', ''),
		doc('stats', 'phase: STATS'),
		doc('authz-low', 'phase: AUTHZ\npriority: 1'),
		doc('authz-high', 'phase: AUTHZ\npriority: 100'),
		doc('authn', 'phase: AUTHN'),
	);
	t.deepEqual(applied(list), ['authn', 'authz-high', 'authz-low', 'stats', 'unspecified']);
});

test('an unset priority sorts below 0 and below negative priorities (MinInt32)', t => {
	const list = plugins(doc('a-unset', ''), doc('b-zero', 'priority: 0'), doc('c-negative', 'priority: -5'));
	t.deepEqual(applied(list), ['b-zero', 'c-negative', 'a-unset']);
});

test('equal priority: creationTimestamp, then name; own namespace before the root namespace', t => {
	const list = plugins(
		doc('zz-old', 'priority: 1', 'default', ', creationTimestamp: "2020-01-01T00:00:00Z"'),
		doc('aa-new', 'priority: 1', 'default', ', creationTimestamp: "2024-01-01T00:00:00Z"'),
		doc('bb', 'priority: 1', 'default', ', creationTimestamp: "2024-01-01T00:00:00Z"'),
		doc('aa-root', 'priority: 1', 'istio-system'),
	);
	t.deepEqual(applied(list), ['zz-old', 'aa-new', 'bb', 'aa-root']);
});

test('1.30 names translated WasmPlugins `<name>~istio-translated-wasmplugin`, which flips name ties', t => {
	const created = ', creationTimestamp: "2024-01-01T00:00:00Z"';
	const list = plugins(doc('a', '', 'default', created), doc('a-b', '', 'default', created));
	t.deepEqual(applied(list), ['a', 'a-b']);
	// "a~…" vs "a-b~…": '-' (0x2D) < '~' (0x7E).
	t.deepEqual(applied(list, { ...proxy, traits: versionTraits('1.30') }), ['a-b', 'a']);
});

test('selector: label subset; other namespaces never; root namespace mesh-wide; targetRefs ignored by sidecars', t => {
	const list = plugins(
		doc('match', 'selector: {matchLabels: {app: my-app}}'),
		doc('mismatch', 'selector: {matchLabels: {app: other}}'),
		doc('no-selector', ''),
		doc('other-ns', '', 'shop'),
		doc('root', 'selector: {matchLabels: {version: v1}}', 'istio-system'),
		doc('gateway', 'targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]'),
	);
	const outcomes = selectExtensions(list, proxy);
	t.deepEqual(outcomes.filter(outcome => outcome.applied).map(outcome => outcome.extension.name).sort(), ['match', 'no-selector', 'root']);
	const reasons = Object.fromEntries(outcomes.filter(outcome => !outcome.applied).map(outcome => [outcome.extension.name, outcome.reason]));
	t.regex(reasons.mismatch ?? '', /needs app=other/);
	t.regex(reasons['other-ns'] ?? '', /own namespace and the root namespace/);
	t.regex(reasons.gateway ?? '', /targetRefs/);
});

test('a Gateway API gateway takes plugins whose targetRefs name its Gateway, and selector ones; others do not (policyattachment.go)', t => {
	const list = plugins(
		doc('mine', 'targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: web}]'),
		doc('other-gateway', 'targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: other}]'),
		doc('other-namespace', 'targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: web}]', 'shop'),
		doc('by-selector', 'selector: {matchLabels: {app: web-istio}}'),
	);
	const gateway: ProxyView = { ...proxy, labels: { app: 'web-istio', 'gateway.networking.k8s.io/gateway-name': 'web' }, listenerClass: 'CLIENT', port: 80 };
	t.deepEqual(applied(list, gateway).sort(), ['by-selector', 'mine']);
	const istioGateway: ProxyView = { ...proxy, labels: { istio: 'ingressgateway' }, listenerClass: 'CLIENT', port: 8080 };
	t.deepEqual(applied(list, istioGateway), []);
	const reasons = Object.fromEntries(selectExtensions(list, gateway).filter(outcome => !outcome.applied).map(outcome => [outcome.extension.name, outcome.reason]));
	t.regex(reasons['other-gateway'] ?? '', /do not name this proxy's Gateway default\/web/);
});

test('match: mode against the traffic class, ports against the listener port (OR across entries)', t => {
	const list = plugins(
		doc('server', 'match: [{mode: SERVER}]'),
		doc('client', 'match: [{mode: CLIENT}]'),
		doc('both', 'match: [{mode: CLIENT_AND_SERVER}]'),
		doc('port-8080', 'match: [{ports: [{number: 8080}]}]'),
		doc('port-9090', 'match: [{ports: [{number: 9090}]}]'),
		doc('client-or-8080', 'match: [{mode: CLIENT}, {mode: SERVER, ports: [{number: 8080}]}]'),
	);
	t.deepEqual(applied(list).sort(), ['both', 'client-or-8080', 'port-8080', 'server']);
	t.deepEqual(applied(list, { ...proxy, listenerClass: 'CLIENT', port: 80 }).sort(), ['both', 'client', 'client-or-8080']);
});

test('NETWORK plugins go to the network chain', t => {
	const outcomes = selectExtensions(plugins(doc('tcp', 'type: NETWORK'), doc('http', '')), proxy);
	t.deepEqual(outcomes.map(outcome => [outcome.extension.name, outcome.chain]), [['tcp', 'network'], ['http', 'http']]);
});
