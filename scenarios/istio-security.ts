/**
 * Istio's security filters around WasmPlugins on a real Envoy sidecar (issue #22): a RequestAuthentication's
 * jwt_authn between the AUTHN and AUTHZ phases, a DENY AuthorizationPolicy's RBAC between AUTHZ and STATS, and a
 * CUSTOM policy's ext_authz before every phase. The plugin is the probe fixture (fixtures/plugins/rust-probe): it
 * logs what it sees, so each story shows which plugin ran and what it read. Tokens are signed here (RS256).
 */
import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import test from 'ava';
import { mockService, stories, wasmPlugin } from 'meshbox';

// Await the runtimes before declaring anything: ava wants every test and hook declared synchronously.
const story = await stories(test);

const probeWasm = 'file://fixtures/plugins/rust-probe/rust-probe.wasm';
const workload = { name: 'shop', namespace: 'shop', labels: { app: 'shop' }, port: 8080 };
const issuer = 'https://issuer.meshbox.test';
const subjectPath = ['metadata', 'filter_metadata', 'envoy.filters.http.jwt_authn', 'payload', 'sub'];

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'meshbox', alg: 'RS256', use: 'sig' }] });

function signJwt(claims: Record<string, unknown>, key: KeyObject = privateKey): string {
	const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
	const unsigned = `${encode({ alg: 'RS256', typ: 'JWT', kid: 'meshbox' })}.${encode({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}`;
	return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(key).toString('base64url')}`;
}

/** A probe WasmPlugin in `phase` that logs the verified token's subject (jwt_authn's dynamic metadata). */
function probe(name: string, phase: 'AUTHN' | 'AUTHZ' | 'STATS') {
	return wasmPlugin({ name, namespace: 'shop', url: probeWasm, phase, pluginConfig: { name, log: [subjectPath] } });
}

const logged = async (box: { logs: (filter: { plugin: string }) => Promise<Array<{ message: string }>> }, plugin: string) =>
	(await box.logs({ plugin })).map(entry => entry.message);

story('RequestAuthentication: the AUTHZ plugin reads the verified subject, the AUTHN plugin runs before jwt_authn; a bad token gets 401 before AUTHZ', async (t, { sandbox }) => {
	const box = await sandbox({
		workload,
		istio: {
			resources: [
				probe('authn', 'AUTHN'),
				probe('authz', 'AUTHZ'),
				{ apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: 'jwt', namespace: 'shop' },
					spec: { selector: { matchLabels: { app: 'shop' } }, jwtRules: [{ issuer, jwks }] } },
			],
		},
	});

	const good = await box.request('/orders', { headers: { authorization: `Bearer ${signJwt({ iss: issuer, sub: 'alice' })}` } });
	t.is(good.status, 200);
	const path = subjectPath.join('.');
	t.true((await logged(box, 'shop.authz')).includes(`authz: ${path}=alice`), 'the AUTHZ plugin read the claim jwt_authn verified');
	t.true((await logged(box, 'shop.authn')).includes(`authn: ${path}=(none)`), 'the AUTHN plugin ran before jwt_authn: no payload yet');

	// Signed by another key: jwt_authn refuses it with 401; the AUTHN plugin saw the request, the AUTHZ plugin never did.
	const before = (await logged(box, 'shop.authz')).length;
	const { privateKey: otherKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
	const bad = await box.request('/orders', { headers: { authorization: `Bearer ${signJwt({ iss: issuer, sub: 'mallory' }, otherKey)}` } });
	t.is(bad.status, 401);
	t.is(bad.body, 'Jwt verification fails');
	t.is((await logged(box, 'shop.authz')).length, before, 'no AUTHZ plugin ran for the refused token');
	t.true((await logged(box, 'shop.authn')).includes('authn: request GET /orders'));

	// No token at all: allowed (istiod's requirement allows a missing token; only a policy would require one).
	const anonymous = await box.request('/orders');
	t.is(anonymous.status, 200);
	t.true((await logged(box, 'shop.authz')).includes(`authz: ${path}=(none)`));
});

story('DENY on a path: the AUTHZ plugin runs, the client gets RBAC: access denied, the STATS plugin never sees it', async (t, { sandbox }) => {
	const box = await sandbox({
		workload,
		istio: {
			resources: [
				probe('authz', 'AUTHZ'),
				probe('stats', 'STATS'),
				{ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-admin', namespace: 'shop' },
					spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] } },
			],
		},
	});

	const denied = await box.request('/admin/users');
	t.is(denied.status, 403);
	t.is(denied.body, 'RBAC: access denied');
	t.true((await logged(box, 'shop.authz')).includes('authz: request GET /admin/users'), 'the AUTHZ plugin ran before RBAC');
	t.false((await logged(box, 'shop.stats')).some(line => line.includes('/admin/users')), 'the STATS plugin never saw the denied request');
	t.is(await box.upstream.hits(), 0);

	const allowed = await box.request('/catalog');
	t.is(allowed.status, 200);
	t.true((await logged(box, 'shop.stats')).includes('stats: request GET /catalog'));
});

story('CUSTOM: ext_authz decides before every wasm phase; a denied request reaches no plugin', async (t, { sandbox }) => {
	const extAuthz = mockService(request => (request.path.startsWith('/check/private') ? { status: 403, body: 'denied by ext-authz' } : { status: 200, body: '' }));
	const box = await sandbox({
		workload,
		clusters: { 'ext-authz': extAuthz },
		istio: {
			meshConfig: { extensionProviders: [{ name: 'ext-authz', envoyExtAuthzHttp: { service: 'ext-authz.shop.svc.cluster.local', port: 8000, pathPrefix: '/check' } }] },
			resources: [
				probe('authn', 'AUTHN'),
				probe('authz', 'AUTHZ'),
				probe('stats', 'STATS'),
				{ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'ext', namespace: 'shop' },
					spec: { action: 'CUSTOM', provider: { name: 'ext-authz' }, rules: [{ to: [{ operation: { paths: ['/private/*'] } }] }] } },
			],
		},
	});

	const denied = await box.request('/private/report');
	t.is(denied.status, 403);
	t.is(denied.body, 'denied by ext-authz');
	for (const plugin of ['authn', 'authz', 'stats']) {
		t.false((await logged(box, `shop.${plugin}`)).some(line => line.includes('/private/report')), `${plugin} never saw the request ext_authz denied`);
	}

	const [check] = await box.mocks['ext-authz'].requests();
	t.is(check?.path, '/check/private/report', 'ext_authz asked the provider with its pathPrefix');

	// A path no CUSTOM rule matches: the shadow RBAC records no match, so ext_authz is not asked at all.
	const open = await box.request('/public');
	t.is(open.status, 200);
	t.is((await box.mocks['ext-authz'].requests()).length, 1);
	t.true((await logged(box, 'shop.authn')).includes('authn: request GET /public'));
});

story('a DENY policy applied to a running sidecar refuses the next request; removing it lets requests through again', async (t, { sandbox }) => {
	const box = await sandbox({ workload, istio: { resources: [probe('authz', 'AUTHZ')] } });
	t.is((await box.request('/admin/users')).status, 200);

	const deny = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-admin', namespace: 'shop' },
		spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] } };
	await box.applyIstio([deny]);
	const denied = await box.request('/admin/users');
	t.is(denied.status, 403);
	t.is(denied.body, 'RBAC: access denied');

	await box.applyIstio([probe('authz', 'AUTHZ')], { replace: true });
	t.is((await box.request('/admin/users')).status, 200);
});

story('requestPrincipals on upstream Envoy: an ALLOW for one subject; claims reach the app as headers, the token does not', async (t, { sandbox }) => {
	const box = await sandbox({
		workload,
		istio: {
			resources: [
				{ apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: 'jwt', namespace: 'shop' },
					spec: { jwtRules: [{ issuer, jwks, fromHeaders: [{ name: 'x-jwt', prefix: 'Token ' }], outputClaimToHeaders: [{ header: 'x-user', claim: 'sub' }] }] } },
				{ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'only-alice', namespace: 'shop' },
					spec: { rules: [{ from: [{ source: { requestPrincipals: [`${issuer}/alice`] } }], when: [{ key: 'request.auth.claims[role]', values: ['admin'] }] }] } },
			],
		},
	});

	const alice = await box.request('/orders', { headers: { 'x-jwt': `Token ${signJwt({ iss: issuer, sub: 'alice', role: 'admin' })}` } });
	t.is(alice.status, 200);
	const [seen] = await box.upstream.requests();
	t.is(seen?.headers['x-user'], 'alice', 'outputClaimToHeaders');
	t.false(seen !== undefined && 'x-jwt' in seen.headers, 'without forwardOriginalToken jwt_authn removes the token');

	const notAdmin = await box.request('/orders', { headers: { 'x-jwt': `Token ${signJwt({ iss: issuer, sub: 'alice', role: 'viewer' })}` } });
	t.is(notAdmin.status, 403, 'request.auth.claims[role] must be admin');
	const bob = await box.request('/orders', { headers: { 'x-jwt': `Token ${signJwt({ iss: issuer, sub: 'bob', role: 'admin' })}` } });
	t.is(bob.status, 403);
	t.is(bob.body, 'RBAC: access denied');
	const anonymous = await box.request('/orders');
	t.is(anonymous.status, 403, 'no token: jwt_authn lets it through, the ALLOW policy matches nothing');
	t.is(await box.upstream.hits(), 1);
});
