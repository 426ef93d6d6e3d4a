/**
 * AuthorizationPolicy ALLOW on `from.principals` with mTLS between two workloads (issue #22, scenario (d);
 * fixtures/mesh/authz): httpbin allows only sleep's SPIFFE identity. The RBAC filter istiod builds matches the
 * caller's certificate (pilot/pkg/security/authz/model/principal.go: `principals` → the peer's URI SAN), so
 * sleep gets through and other gets `403 RBAC: access denied`; the AUTHZ-phase plugin runs before RBAC (it sees
 * both), the STATS-phase one after it (only sleep's). A client from outside the mesh can call with a mesh
 * identity of its choosing (`requestInbound(path, { identity })`: a certificate from the mesh CA).
 */
import test from 'ava';
import { meshFor, scenarioRuntimes, type Mesh } from 'meshbox';

const runtimes = await scenarioRuntimes();

const spec = {
	baseDir: 'fixtures/mesh/authz',
	mesh: {
		gateways: [],
		workloads: [
			{ name: 'sleep', namespace: 'default', labels: { app: 'sleep' }, serviceAccount: 'sleep' },
			{ name: 'other', namespace: 'default', labels: { app: 'other' }, serviceAccount: 'other' },
			{ name: 'httpbin', namespace: 'default', labels: { app: 'httpbin' }, serviceAccount: 'httpbin', port: 8080, app: { status: 200, body: 'httpbin\n' } },
		],
		services: [{ name: 'httpbin', namespace: 'default', selector: { app: 'httpbin' }, ports: [{ port: 8000, targetPort: 8080, name: 'http' }] }],
	},
	istio: { version: '1.29', files: ['../mtls/strict.yaml', 'policy.yaml'] },
};

async function probeLines(mesh: Mesh, probe: string): Promise<string[]> {
	return (await mesh.proxy('httpbin').logs({ message: `${probe}: ` })).map(entry => entry.message);
}

for (const runtime of runtimes) {
	test(`[${runtime}] ALLOW from.principals: sleep's mTLS identity gets through, other's gets RBAC's 403; AUTHZ plugins see both, STATS only the allowed`, async t => {
		const mesh = await meshFor(t, { runtime, ...spec });
		const allowed = await mesh.workload('sleep').request('http://httpbin:8000/get');
		t.is(allowed.status, 200);
		t.is(allowed.body, 'httpbin\n');
		const denied = await mesh.workload('other').request('http://httpbin:8000/get');
		t.is(denied.status, 403);
		t.is(denied.body, 'RBAC: access denied');
		t.is(await mesh.workload('httpbin').recordings.hits(), 1, 'only sleep\'s request reached the app');

		const authz = await probeLines(mesh, 'probe-authz');
		t.true(authz.includes('probe-authz: connection.uri_san_peer_certificate=spiffe://cluster.local/ns/default/sa/sleep'), authz.join('\n'));
		t.true(authz.includes('probe-authz: connection.uri_san_peer_certificate=spiffe://cluster.local/ns/default/sa/other'), authz.join('\n'));
		const stats = await probeLines(mesh, 'probe-stats');
		t.true(stats.includes('probe-stats: connection.uri_san_peer_certificate=spiffe://cluster.local/ns/default/sa/sleep'), stats.join('\n'));
		t.false(stats.some(line => line.includes('/sa/other')), 'the STATS plugin never sees the request RBAC refused');
		t.is(mesh.proxy('httpbin').notes.some(note => note.includes('AuthorizationPolicy default/httpbin-from-sleep') && note.includes('applies')), true, mesh.proxy('httpbin').notes.join('\n'));
	});

	test(`[${runtime}] a client outside the mesh calls with a mesh identity (a certificate from the mesh CA): the policy decides by it`, async t => {
		const mesh = await meshFor(t, { runtime, ...spec });
		const asSleep = await mesh.workload('httpbin').requestInbound('/get', { identity: { serviceAccount: 'sleep' } });
		t.is(asSleep.status, 200);
		const asOther = await mesh.workload('httpbin').requestInbound('/get', { identity: { namespace: 'default', serviceAccount: 'other' } });
		t.is(asOther.status, 403);
		t.is(asOther.body, 'RBAC: access denied');
		// STRICT: plain text has no filter chain to match.
		await t.throwsAsync(mesh.workload('httpbin').requestInbound('/get'));
		t.is(await mesh.workload('httpbin').recordings.hits(), 1);
	});
}
