/**
 * Istio's delivery semantics on a running sidecar: WasmPlugins reach Envoy as ECDS extension configs over ADS,
 * and `box.applyIstio()` re-runs selection, fetch and translation and pushes like istiod, to the same Envoy.
 * A plugin Envoy refuses is NACKed and the last good config keeps serving; a module istio-agent cannot fetch
 * is replaced by its deny-all RBAC filter (Istio ≥ 1.25: that ECDS update is accepted).
 *
 * The plugin is rust-strict-config: pluginConfig `{header, value}` puts `<header>: <value>` on every response;
 * any other config makes on_configure return false.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { isMeshboxError, stories, wasmPlugin, type EnvoyStats } from 'meshbox';

const story = await stories(test);

const workload = { name: 'my-app', labels: { app: 'my-app' }, port: 8080 };
const strict = 'file://fixtures/plugins/rust-strict-config/rust-strict-config.wasm';
const tagger = (value: string, fields: Record<string, unknown> = {}) => wasmPlugin({ name: 'tagger', url: strict, pluginConfig: { header: 'x-tag', value }, ...fields });
/** Envoy's own request counter for the sidecar's listener: it keeps counting only if Envoy did not restart. */
const requestCount = async (box: { stats(prefix: string): Promise<EnvoyStats> }) => {
	const { counters } = await box.stats('http.');
	// Admin's own requests (these stats reads) count under http.admin: not the sidecar's listener.
	return [...counters].find(([name]) => name.endsWith('.downstream_rq_total') && !name.startsWith('http.admin.'))?.[1] ?? 0;
};

// A module server that has nothing: every fetch is a 404 (istio-agent's fetch fails at once).
let missing: string;
let server: http.Server;
test.before(async () => {
	server = http.createServer((_request, response) => response.writeHead(404).end('not found'));
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	missing = `http://127.0.0.1:${(server.address() as AddressInfo).port}/missing.wasm`;
});
test.after.always(async () => {
	await new Promise(resolve => server?.close(resolve));
});

story('applyIstio() changes a WasmPlugin\'s pluginConfig on the running sidecar (ECDS), Envoy keeps running', async (t, { sandbox }) => {
	const box = await sandbox({ workload, istio: { resources: [tagger('one')] } });
	t.is((await box.request('/')).headers['x-tag'], 'one');
	const before = await requestCount(box);
	const version = box.configVersion;

	await box.applyIstio([tagger('two')]);
	t.true(box.configVersion > version);
	t.is((await box.request('/')).headers['x-tag'], 'two');
	t.is(await requestCount(box), before + 1, 'the same Envoy counts on: no restart');
});

story('applyIstio() with YAML text, as kubectl apply reads it', async (t, { sandbox }) => {
	const box = await sandbox({ workload, istio: { resources: [tagger('one')] } });
	await box.applyIstio([
		'apiVersion: extensions.istio.io/v1alpha1',
		'kind: WasmPlugin',
		'metadata: { name: tagger, namespace: default }',
		'spec:',
		`  url: ${strict}`,
		'  pluginConfig: { header: x-tag, value: yaml }',
	].join('\n'));
	t.is((await box.request('/')).headers['x-tag'], 'yaml');
});

story('a WasmPlugin update Envoy refuses (on_configure fails) is NACKed: the last good config keeps serving', async (t, { sandbox }) => {
	const box = await sandbox({ workload, istio: { resources: [tagger('good')] } });
	const version = box.configVersion;
	const error = await t.throwsAsync(box.applyIstio([wasmPlugin({ name: 'tagger', url: strict, pluginConfig: { header: '' } })]));
	t.true(isMeshboxError(error) && error.code === 'ENVOY_REJECTED_CONFIG', String(error));
	t.regex(error?.message ?? '', /tagger/);
	t.is(box.configVersion, version);
	const response = await box.request('/');
	t.is(response.status, 200);
	t.is(response.headers['x-tag'], 'good', 'the old plugin config still serves');
});

story('a module istio-agent cannot fetch on update: FAIL_CLOSE puts the deny-all RBAC filter in its place (403)', async (t, { sandbox }) => {
	const box = await sandbox({ workload, istio: { resources: [tagger('fetched')] } });
	await box.applyIstio([tagger('fetched', { url: missing })]);
	const denied = await box.request('/');
	t.is(denied.status, 403);
	t.is(denied.body, 'RBAC: access denied');
	t.true(box.istioNotes.some(note => note.endsWith('applying deny RBAC filter')), box.istioNotes.join('\n'));

	await box.rollback();
	t.is((await box.request('/')).headers['x-tag'], 'fetched', 'rollback() restores the plugin');
});

story('applyIstio(…, { replace: true }) is the whole set: a WasmPlugin left out is removed', async (t, { sandbox }) => {
	const box = await sandbox({ workload, istio: { resources: [tagger('here')] } });
	await box.applyIstio([], { replace: true });
	const response = await box.request('/');
	t.is(response.status, 200);
	t.is(response.headers['x-tag'], undefined);
	t.is(await box.upstream.hits(), 1);
});
