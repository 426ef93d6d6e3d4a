/**
 * istio-agent's registry realm check, per patch release (pkg/wasm/imagefetcher.go ssrfProtectionTransport,
 * from 1.27.8 / 1.28.5 / 1.29.1 / 1.30.0): a registry whose 401 names a token realm on loopback (here: a
 * token-auth front on 127.0.0.1 for a real docker-registry) is refused, so the pull fails and FAIL_CLOSE
 * answers 403; the patch before it pulls and serves. On a real Envoy.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startSandbox, wasmPlugin } from 'meshbox';
import { unsafeRealm } from '../../src/istio/fetch/oci-fetch.ts';
import { versionTraits } from '../../src/istio/version.ts';
import { decideRequirement } from '../helpers/requirements.ts';
import { requirementTest } from '../helpers/skip.ts';
import { startTokenFront, type TokenFront } from './registry-extra.ts';
import { registryRequirement, startRegistry, type Registry } from './registry.ts';

const registryNeeded = decideRequirement(registryRequirement());
const ociTest = requirementTest(registryNeeded);
const workload = { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 };
const seed = await readFile('fixtures/plugins/seed-rust/seed-rust.wasm');

let registry: Registry;
let front: TokenFront;
let dir: string;
test.before(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-realm-'));
	if (registryNeeded.run) {
		registry = await startRegistry();
		front = await startTokenFront(registry);
		await registry.push('realm/seed', 'v1', { variant: 'compat', wasm: seed });
	}
});
test.after.always(async () => {
	await front?.stop();
	await registry?.stop();
	if (dir) {
		await rm(dir, { recursive: true, force: true });
	}
});

const sandboxOn = async (version: string) => startSandbox({
	workload,
	// The fetch is the point, not the release's own Envoy (1.37): the default one, which CI installs beforehand.
	envoy: { version: '1.40' },
	istio: {
		version: version as '1.29',
		// A cache of its own: the point is the pull.
		cacheDir: path.join(dir, `cache-${version}`),
		resources: [wasmPlugin({ name: 'seed', url: `oci://${front.host}/realm/seed:v1`, pluginName: 'seed' })],
	},
});

ociTest('1.29.6 (what istio.version 1.29 means) refuses a registry whose token realm is on loopback: FAIL_CLOSE answers 403', async t => {
	const box = await sandboxOn('1.29');
	t.teardown(async () => box.stop());
	const response = await box.request('/hello');
	t.is(response.status, 403);
	t.is(response.body, 'RBAC: access denied');
	const notes = box.istioNotes.join('\n');
	t.regex(notes, /rejected unsafe bearer realm: realm targets private\/loopback\/link-local IP.*applying deny RBAC filter/, notes);
});

ociTest('1.29.0, the patch before the check, pulls through the same realm (with its token) and serves 200', async t => {
	const box = await sandboxOn('1.29.0');
	t.teardown(async () => box.stop());
	const response = await box.request('/hello');
	t.is(response.status, 200);
	t.is(response.body, 'Hello from Wasm!\n');
	t.true(front.requests.some(request => request.startsWith('GET /token')), 'the token came from the realm');
});

test('the releases with the realm check are the patches that have imagefetcher.go\'s ssrfProtectionTransport', t => {
	const checked = (version: '1.25' | '1.26' | '1.27' | '1.28' | '1.29' | '1.30', patch?: number) => versionTraits(version, patch).registryRealmCheck;
	t.deepEqual([checked('1.27', 7), checked('1.27', 8), checked('1.28', 4), checked('1.28', 5), checked('1.29', 0), checked('1.29', 1), checked('1.30', 0)],
		[false, true, false, true, false, true, true]);
	t.deepEqual([checked('1.25'), checked('1.26'), checked('1.27'), checked('1.29')], [false, false, true, true], 'a release alone is its latest patch');
});

test('validateRealmURL\'s rules: http(s) to a public host only; Basic realms count too', t => {
	t.is(unsafeRealm('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'), undefined);
	t.is(unsafeRealm('Bearer realm="https://8.8.8.8/token"'), undefined);
	t.is(unsafeRealm('Bearer realm="http://127.0.0.1:5001/token"'), 'realm targets private/loopback/link-local IP');
	t.is(unsafeRealm('Bearer realm="http://[::1]:5001/token"'), 'realm targets private/loopback/link-local IP');
	t.is(unsafeRealm('Bearer realm="http://169.254.169.254/latest/meta-data"'), 'realm targets private/loopback/link-local IP');
	t.is(unsafeRealm('Bearer realm="http://10.1.2.3/token"'), 'realm targets private/loopback/link-local IP');
	t.is(unsafeRealm('Bearer realm="http://[fd00::1]/token"'), 'realm targets private/loopback/link-local IP');
	t.is(unsafeRealm('Bearer realm="http://localhost:5001/token"'), 'realm targets localhost');
	t.is(unsafeRealm('Bearer realm="http://metadata.google.internal/x"'), 'realm targets cloud metadata service');
	t.is(unsafeRealm('Bearer realm="file:///etc/passwd"'), 'realm scheme "file" not allowed');
	t.is(unsafeRealm('Basic realm="Registry Realm"'), 'realm scheme "" not allowed');
	t.is(unsafeRealm('Bearer realm="https:///token"'), 'realm missing host');
});
