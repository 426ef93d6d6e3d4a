/**
 * istio-agent's fetch and cache against a real registry (docker-registry on loopback): the image variants
 * Istio accepts and its reason for the others, sha256 = manifest digest, and the pull policies
 * (cf. pkg/wasm/cache_test.go TestWasmCache, imagefetcher_test.go).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WasmCache } from '../../src/istio/fetch/cache.ts';
import { fetchRequest as request } from './fetch-request.ts';
import { decideRequirement } from '../helpers/requirements.ts';
import { requirementTest } from '../helpers/skip.ts';
import { registryRequirement, startRegistry, type Registry } from './registry.ts';

// Without docker-registry (a fresh machine) every test here is skipped with one line saying how to get it.
const test = requirementTest(decideRequirement(registryRequirement()));

const seed = await readFile('fixtures/plugins/seed-rust/seed-rust.wasm');
const strict = await readFile('fixtures/plugins/rust-strict-config/rust-strict-config.wasm');

let registry: Registry;
let dir: string;
test.before(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-oci-cache-'));
	registry = await startRegistry();
});
test.after.always(async () => {
	// Either may be missing when the before hook failed.
	await registry?.stop();
	if (dir) {
		await rm(dir, { recursive: true, force: true });
	}
});

test('compat, docker and oci-artifact images give the module; the checksum is the manifest digest', async t => {
	const cache = new WasmCache(path.join(dir, 'variants'));
	for (const variant of ['compat', 'docker', 'oci-artifact'] as const) {
		const digest = await registry.push(`variants/${variant}`, 'v1', { variant, wasm: seed });
		const result = await cache.get(request(`oci://${registry.host}/variants/${variant}:v1`, { sha256: digest }));
		t.is(result.checksum, digest, variant);
		t.deepEqual(await readFile(result.path), seed, variant);
	}
});

test('wasm-to-oci images are rejected with Istio\'s reason', async t => {
	await registry.push('variants/wasm-to-oci', 'v1', { variant: 'wasm-to-oci', wasm: seed });
	const cache = new WasmCache(path.join(dir, 'rejected'));
	await t.throwsAsync(cache.get(request(`oci://${registry.host}/variants/wasm-to-oci:v1`)), {
		message: /the given image is in invalid format as an OCI image: could not parse as compat variant: invalid media type application\/vnd\.wasm\.content\.layer\.v1\+wasm .*could not parse as oci variant: number of layers must be 2 but got 1/,
	});
});

test('sha256 is the manifest digest: the .wasm file\'s hash does not match', async t => {
	await registry.push('sums/seed', 'v1', { variant: 'compat', wasm: seed });
	const fileHash = (await import('node:crypto')).createHash('sha256').update(seed).digest('hex');
	const cache = new WasmCache(path.join(dir, 'sums'));
	await t.throwsAsync(cache.get(request(`oci://${registry.host}/sums/seed:v1`, { sha256: fileHash })), { message: /has checksum [a-f0-9]{64}, which does not match: / });
});

test('pull policy: IfNotPresent keeps the cached module; Always and :latest re-pull when resourceVersion changes', async t => {
	const cache = new WasmCache(path.join(dir, 'policy'));
	const url = `oci://${registry.host}/policy/plugin:v1`;
	const first = await registry.push('policy/plugin', 'v1', { variant: 'compat', wasm: seed });
	t.like(await cache.get(request(url)), { checksum: first, source: 'download' });
	const second = await registry.push('policy/plugin', 'v1', { variant: 'compat', wasm: strict });
	t.like(await cache.get(request(url, { pullPolicy: 'IfNotPresent', resourceVersion: '2' })), { checksum: first, source: 'cache' }, 'IfNotPresent ignores the new upstream');
	t.like(await cache.get(request(url, { resourceVersion: '3' })), { checksum: first, source: 'cache' }, 'default policy for a non-latest tag = IfNotPresent');
	t.like(await cache.get(request(url, { pullPolicy: 'Always', resourceVersion: '3' })), { checksum: first, source: 'cache' }, 'Always with the last-pulled resourceVersion: no pull (cache.go)');
	// The resource's remembered version is now 3 (from the IfNotPresent lookups); an edit bumps it.
	t.like(await cache.get(request(url, { pullPolicy: 'Always', resourceVersion: '4' })), { checksum: second, source: 'download' }, 'Always + a changed WasmPlugin re-pulls');

	const latest = `oci://${registry.host}/policy/plugin:latest`;
	await registry.push('policy/plugin', 'latest', { variant: 'compat', wasm: seed });
	const before = await cache.get(request(latest, { resourceVersion: '1' }));
	await registry.push('policy/plugin', 'latest', { variant: 'compat', wasm: strict });
	t.like(await cache.get(request(latest, { resourceVersion: '1' })), { checksum: before.checksum, source: 'cache' });
	// The pod already has that content (pulled as v1 above): only the manifest is fetched (cache.go getOrFetch).
	t.like(await cache.get(request(latest, { resourceVersion: '2' })), { checksum: second, source: 'manifest' }, ':latest defaults to Always');
});

test('digest URLs and a missing manifest', async t => {
	const digest = await registry.push('digests/seed', 'v1', { variant: 'compat', wasm: seed });
	const cache = new WasmCache(path.join(dir, 'digests'));
	t.like(await cache.get(request(`oci://${registry.host}/digests/seed@sha256:${digest}`)), { checksum: digest });
	await t.throwsAsync(cache.get(request(`oci://${registry.host}/digests/none:v1`)), { message: /^could not fetch Wasm OCI image: could not fetch manifest: .*404/ });
});

test('a registry that needs credentials: the pull secret\'s docker config entry is used (HTTP Basic), and its absence is the failure', async t => {
	const { registryUser } = await import('./registry.ts');
	const secured = await startRegistry({ auth: true });
	t.teardown(async () => secured.stop());
	const digest = await secured.push('private/seed', 'v1', { variant: 'compat', wasm: seed });
	const dockerConfig = (password: string) => Buffer.from(JSON.stringify({ auths: { [secured.host]: { auth: Buffer.from(`${registryUser.username}:${password}`).toString('base64') } } }));

	const cache = new WasmCache(path.join(dir, 'private'));
	const pulled = await cache.get(request(`oci://${secured.host}/private/seed:v1`, { sha256: digest, pullSecret: dockerConfig(registryUser.password) }));
	t.deepEqual(await readFile(pulled.path), seed);

	const anonymous = new WasmCache(path.join(dir, 'private-anonymous'));
	const error = await t.throwsAsync(anonymous.get(request(`oci://${secured.host}/private/seed:v1`, { sha256: digest })));
	t.regex(error?.message ?? '', /could not fetch manifest: .* unexpected status code 401 Unauthorized/);
	const wrong = new WasmCache(path.join(dir, 'private-wrong'));
	await t.throwsAsync(wrong.get(request(`oci://${secured.host}/private/seed:v1`, { sha256: digest, pullSecret: dockerConfig('not-the-password') })));
});
