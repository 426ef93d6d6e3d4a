/**
 * mTLS identity between proxies (issue #21, fixtures/mesh/mtls/): sleep (service account sleep) calls httpbin
 * (service account httpbin) through its sidecar's outbound; the mesh CA's SPIFFE certificates authenticate both
 * ends. The probe plugin on httpbin's inbound (SERVER) logs and echoes what Envoy knows of the caller; another
 * on sleep's outbound (CLIENT) adds a header httpbin's app records. Under STRICT a plain-text request from
 * outside the mesh (straight to httpbin's inbound) is refused; under PERMISSIVE it is accepted, and the plugin
 * sees no peer.
 *
 * Envoy's attributes have no `source.principal` (Istio's AuthorizationPolicy name for it): a plugin reads the
 * caller's principal as `connection.uri_san_peer_certificate`, the SPIFFE URI of the caller's certificate
 * (source/extensions/filters/common/expr/context.h in Envoy lists the connection and source attributes).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { meshFor, scenarioRuntimes, type Mesh, type MeshOptions } from 'meshbox';
import { parse } from 'yaml';

const sleepPrincipal = 'spiffe://cluster.local/ns/default/sa/sleep';
const httpbinPrincipal = 'spiffe://cluster.local/ns/default/sa/httpbin';

const runtimes = await scenarioRuntimes();

/** A mesh file as the scenario API takes it: `istio.files` resolved from the file's directory, as `meshbox up --config` does. */
async function meshFile(file: string): Promise<MeshOptions> {
	const spec = parse(await readFile(file, 'utf8')) as MeshOptions & { istio: { files: string[] } };
	return { ...spec, istio: { ...spec.istio, files: spec.istio.files.map(name => path.join(path.dirname(file), name)) } };
}

/** What the proxy's plugins log while `action` runs, limited to the lines starting with `prefix`. */
async function loggedDuring<T>(mesh: Mesh, proxy: string, prefix: string, action: () => Promise<T>): Promise<[T, string[]]> {
	const lines = async () => (await mesh.proxy(proxy).logs({ message: prefix })).map(entry => entry.message).filter(message => message.startsWith(prefix));
	const before = (await lines()).length;
	const result = await action();
	return [result, (await lines()).slice(before)];
}

for (const runtime of runtimes) {
	test(`[${runtime}] STRICT: the server's plugin sees the caller's SPIFFE principal over mTLS; the caller's CLIENT plugin adds a header its app records`, async t => {
		const mesh = await meshFor(t, { runtime, ...await meshFile('fixtures/mesh/mtls/meshbox.yaml') });
		const [response, serverLines] = await loggedDuring(mesh, 'httpbin', 'probe-server: ', async () => mesh.workload('sleep').request('http://httpbin:8000/headers'));
		t.is(response.status, 200);
		t.is(response.body, 'httpbin\n');
		t.is(response.headers['x-probe-server-peer'], sleepPrincipal, 'the server\'s plugin answers the caller\'s principal');

		t.deepEqual(serverLines, [
			'probe-server: request GET /headers',
			'probe-server: connection.mtls=true',
			`probe-server: connection.uri_san_peer_certificate=${sleepPrincipal}`,
			`probe-server: connection.uri_san_local_certificate=${httpbinPrincipal}`,
			'probe-server: source.principal=(none)',
			'probe-server: xds.cluster_name=inbound|8080||',
			'probe-server: header x-probe-client=sleep',
			'probe-server: response 200',
		]);

		const [recorded, ...more] = await mesh.workload('httpbin').recordings.requests();
		t.is(more.length, 0);
		t.is(recorded?.headers['x-probe-client'], 'sleep', 'added by the CLIENT-mode plugin on sleep\'s outbound');
		t.is(recorded?.headers['x-peer-principal'], sleepPrincipal, 'passed on by the server\'s plugin');

		// The CLIENT plugin ran on sleep's outbound, on the route and cluster istiod gives httpbin:8000.
		const clientLines = (await mesh.proxy('sleep').logs({ message: 'probe-client: ' })).map(entry => entry.message);
		t.true(clientLines.includes('probe-client: request GET /headers'), clientLines.join('\n'));
		t.true(clientLines.includes('probe-client: xds.cluster_name=outbound|8000||httpbin.default.svc.cluster.local'), clientLines.join('\n'));
		t.deepEqual(await mesh.proxy('httpbin').logs({ message: 'probe-client: ' }), [], 'the CLIENT plugin selects sleep only');
	});

	test(`[${runtime}] STRICT: a plain-text request from outside the mesh to httpbin's inbound is refused`, async t => {
		const mesh = await meshFor(t, { runtime, ...await meshFile('fixtures/mesh/mtls/meshbox.yaml') });
		// No filter chain of httpbin's inbound accepts plain text: Envoy closes the connection without an answer.
		const [, serverLines] = await loggedDuring(mesh, 'httpbin', 'probe-server: ', async () => t.throwsAsync(mesh.workload('httpbin').requestInbound('/headers')));
		t.deepEqual(serverLines, [], 'no HTTP request was decoded: the plugin never ran');
		t.is(await mesh.workload('httpbin').recordings.hits(), 0);
	});

	test(`[${runtime}] PERMISSIVE: plain text from outside is accepted (the plugin sees no peer); inside the mesh it is still mTLS`, async t => {
		const mesh = await meshFor(t, { runtime, ...await meshFile('fixtures/mesh/mtls/meshbox-permissive.yaml') });
		const [outside, outsideLines] = await loggedDuring(mesh, 'httpbin', 'probe-server: ', async () => mesh.workload('httpbin').requestInbound('/outside'));
		t.is(outside.status, 200);
		t.is(outside.body, 'httpbin\n');
		t.is(outside.headers['x-probe-server-peer'], undefined, 'no peer certificate, so no header');
		t.true(outsideLines.includes('probe-server: connection.mtls=false'), outsideLines.join('\n'));
		t.true(outsideLines.includes('probe-server: connection.uri_san_peer_certificate=(none)'), outsideLines.join('\n'));
		t.true(outsideLines.includes('probe-server: header x-probe-client=(none)'), 'no CLIENT plugin on the way');

		// Auto mTLS: sleep's sidecar still sends mTLS to a workload with a sidecar.
		const [inside, insideLines] = await loggedDuring(mesh, 'httpbin', 'probe-server: ', async () => mesh.workload('sleep').request('http://httpbin:8000/inside'));
		t.is(inside.headers['x-probe-server-peer'], sleepPrincipal);
		t.true(insideLines.includes('probe-server: connection.mtls=true'), insideLines.join('\n'));

		const recordings = await mesh.workload('httpbin').recordings.requests();
		t.deepEqual(recordings.map(request => [request.path, request.headers['x-peer-principal'], request.headers['x-probe-client']]), [
			['/outside', undefined, undefined],
			['/inside', sleepPrincipal, 'sleep'],
		]);

		// The CLIENT plugin is on sleep's outbound only: a request into sleep's inbound does not run it.
		const [, sleepInbound] = await loggedDuring(mesh, 'sleep', 'probe-client: ', async () => mesh.workload('sleep').requestInbound('/into-sleep'));
		t.deepEqual(sleepInbound, []);
		t.is((await mesh.workload('sleep').recordings.requests()).at(-1)?.headers['x-probe-client'], undefined);
	});
}
