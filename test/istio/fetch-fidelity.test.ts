/**
 * istio-agent's fetch, against a real registry (docker-registry on loopback), where meshbox used to differ
 * from a pod: every sandbox is a new pod (a re-pushed tag is fetched again; stored layers are reused only when
 * the manifest names them now), cached content is verified on every read, an image index without linux/amd64
 * fails, an HTTPS registry listed as insecure keeps HTTPS without certificate checks, and credentials in an
 * oci URL are neither used nor shown (pkg/wasm/cache.go, imagefetcher.go; go-containerregistry).
 */
import { readdir, readFile, rm, writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WasmCache } from '../../src/istio/fetch/cache.ts';
import { fetchRequest as request } from './fetch-request.ts';
import { resolveIstioSidecar } from '../../src/istio/sidecar.ts';
import { decideRequirement, type RequirementDecision } from '../helpers/requirements.ts';
import { requirementTest } from '../helpers/skip.ts';
import { freePort } from '../helpers/ports.ts';
import { opensslRequirement, pushIndex, startFileServer, startHttpsFront } from './registry-extra.ts';
import { registryRequirement, startRegistry, type Registry } from './registry.ts';

// Without docker-registry or openssl (a fresh machine) every test here is skipped with one line saying how to get it.
const decisions = [decideRequirement(registryRequirement()), decideRequirement(opensslRequirement())];
const test = requirementTest(decisions.find(decision => !decision.run) ?? ({ run: true } satisfies RequirementDecision));

const seed = await readFile('fixtures/plugins/seed-rust/seed-rust.wasm');
const strict = await readFile('fixtures/plugins/rust-strict-config/rust-strict-config.wasm');

let registry: Registry;
let dir: string;
test.before(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-fetch-fidelity-'));
	registry = await startRegistry();
});
test.after.always(async () => {
	await registry?.stop();
	if (dir) {
		await rm(dir, { recursive: true, force: true });
	}
});

async function filesUnder(root: string): Promise<string[]> {
	const entries = await readdir(root, { recursive: true, withFileTypes: true });
	return entries.filter(entry => entry.isFile()).map(entry => path.join(entry.parentPath, entry.name));
}

const workload = { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 };

function wasmPlugin(name: string, spec: Record<string, unknown>): Record<string, unknown> {
	return { apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', metadata: { name, namespace: 'default' }, spec };
}

test('each sandbox is a new pod: a re-pushed tag is fetched again under IfNotPresent, unset and Always; unchanged layers come from the content cache', async t => {
	const cacheDir = path.join(dir, 'new-pod');
	const url = `oci://${registry.host}/pods/plugin:v1`;
	const first = await registry.push('pods/plugin', 'v1', { variant: 'compat', wasm: seed });
	t.like(await new WasmCache(cacheDir).get(request(url, { pullPolicy: 'IfNotPresent' })), { checksum: first, source: 'download' });

	const second = await registry.push('pods/plugin', 'v1', { variant: 'compat', wasm: strict });
	for (const pullPolicy of ['IfNotPresent', 'UNSPECIFIED_POLICY', 'Always'] as const) {
		// A new sandbox on the same meshbox cache dir, the WasmPlugin unchanged (resourceVersion 1).
		const fetched = await new WasmCache(cacheDir).get(request(url, { pullPolicy }));
		t.is(fetched.checksum, second, `${pullPolicy}: the digest the registry names now`);
		t.deepEqual(await readFile(fetched.path), strict, pullPolicy);
		t.is(fetched.source, pullPolicy === 'IfNotPresent' ? 'download' : 'manifest', `${pullPolicy}: the layer is downloaded once, then reused`);
	}
});

test('a sandbox says where each module came from; a second sandbox reuses the verified layer after asking the registry', async t => {
	const digest = await registry.push('notes/seed', 'v1', { variant: 'oci-artifact', wasm: seed });
	const istio = { cacheDir: path.join(dir, 'notes'), resources: [wasmPlugin('seed', { url: `oci://${registry.host}/notes/seed:v1`, imagePullPolicy: 'IfNotPresent' })] };
	const first = await resolveIstioSidecar({ workload, istio, baseDir: dir });
	t.true(first.sidecar.notes.some(note => note.includes(`fetched oci://${registry.host}/notes/seed:v1 (sha256 ${digest})`)), first.sidecar.notes.join('\n'));
	const second = await resolveIstioSidecar({ workload, istio, baseDir: dir });
	t.true(second.sidecar.notes.some(note => /fetched the manifest of .* the module it names was already here/.test(note)), second.sidecar.notes.join('\n'));
	t.deepEqual(await readFile(second.plugins[0]?.wasmPath ?? ''), seed);
});

test('cached content is verified on every read: a replaced file is a fetch failure with a note, and the entry is discarded', async t => {
	const cacheDir = path.join(dir, 'tampered');
	const digest = await registry.push('tamper/seed', 'v1', { variant: 'compat', wasm: seed });
	const url = `oci://${registry.host}/tamper/seed:v1`;
	await new WasmCache(cacheDir).get(request(url, { sha256: digest }));
	// Whatever meshbox keeps on disk is replaced by another valid module.
	const stored = await filesUnder(cacheDir);
	t.true(stored.length > 0);
	await Promise.all(stored.map(async file => writeFile(file, strict)));

	const error = await t.throwsAsync(new WasmCache(cacheDir).get(request(url, { sha256: digest })));
	t.regex(error?.message ?? '', /does not match its digest .*: it was modified; discarded it, the next start downloads the layer again/);
	const again = await new WasmCache(cacheDir).get(request(url, { sha256: digest }));
	t.like(again, { checksum: digest, source: 'download' }, 'the discarded entry is fetched again');
	t.deepEqual(await readFile(again.path), seed);

	// In the sandbox: FAIL_CLOSE's deny-all in the plugin's place, and the reason in the notes.
	await Promise.all((await filesUnder(cacheDir)).map(async file => writeFile(file, strict)));
	const resolved = await resolveIstioSidecar({ workload, baseDir: dir, istio: { cacheDir, resources: [wasmPlugin('pinned', { url, sha256: digest })] } });
	t.deepEqual(resolved.plugins, []);
	t.true(resolved.sidecar.notes.some(note => /does not match its digest.*applying deny RBAC filter/.test(note)), resolved.sidecar.notes.join('\n'));
});

test('within a sandbox too: a module file replaced after the fetch is refused on the next read (http:// with sha256)', async t => {
	const server = await startFileServer({ '/seed.wasm': seed });
	t.teardown(async () => server.stop());
	const { createHash } = await import('node:crypto');
	const sha256 = createHash('sha256').update(seed).digest('hex');
	const cache = new WasmCache(path.join(dir, 'pod-tamper'));
	const fetched = await cache.get(request(`${server.url}/seed.wasm`, { sha256 }));
	await writeFile(fetched.path, strict);
	await t.throwsAsync(cache.get(request(`${server.url}/seed.wasm`, { sha256 })), { message: /was modified after it was fetched .*discarded it/ });
	t.like(await cache.get(request(`${server.url}/seed.wasm`, { sha256 })), { checksum: sha256, source: 'download' });
});

test('an image index without a linux/amd64 entry fails as go-containerregistry does; with one, that entry is used', async t => {
	const arm = await registry.push('index/plugin', 'arm64', { variant: 'compat', wasm: strict });
	const amd = await registry.push('index/plugin', 'amd64', { variant: 'compat', wasm: seed });
	await pushIndex(registry, 'index/plugin', 'arm-only', [{ digest: arm, platform: { os: 'linux', architecture: 'arm64' } }]);
	await pushIndex(registry, 'index/plugin', 'multi', [{ digest: arm, platform: { os: 'linux', architecture: 'arm64' } }, { digest: amd, platform: { os: 'linux', architecture: 'amd64' } }]);
	const cache = new WasmCache(path.join(dir, 'index'));
	await t.throwsAsync(cache.get(request(`oci://${registry.host}/index/plugin:arm-only`)), {
		message: `could not fetch Wasm OCI image: could not fetch image: no child with platform linux/amd64 in index ${registry.host}/index/plugin:arm-only`,
	});
	const multi = await cache.get(request(`oci://${registry.host}/index/plugin:multi`));
	t.is(multi.checksum, amd, 'the checksum is the chosen image\'s manifest digest');
	t.deepEqual(await readFile(multi.path), seed);

	const resolved = await resolveIstioSidecar({ workload, baseDir: dir, istio: { cacheDir: path.join(dir, 'index-sidecar'), resources: [wasmPlugin('arm', { url: `oci://${registry.host}/index/plugin:arm-only` })] } });
	const filter = resolved.sidecar.httpFilters.find(entry => entry.kind === 'typed' && entry.name.endsWith('default.arm'));
	t.like(filter, { kind: 'typed', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: {} } }, 'FAIL_CLOSE: deny-all in its place');
});

test('insecureRegistries keeps HTTPS and skips the certificate check (WASM_INSECURE_REGISTRIES); without it the self-signed certificate fails', async t => {
	const front = await startHttpsFront(registry, { '/seed.wasm': seed });
	t.teardown(async () => front.stop());
	const digest = await registry.push('tls/seed', 'v1', { variant: 'compat', wasm: seed });
	const url = `oci://${front.host}/tls/seed:v1`;
	const fetched = await new WasmCache(path.join(dir, 'tls')).get(request(url, { insecureRegistries: [front.host] }));
	t.is(fetched.checksum, digest);
	t.deepEqual(await readFile(fetched.path), seed);
	t.like(await new WasmCache(path.join(dir, 'tls-all')).get(request(url, { insecureRegistries: ['*'] })), { checksum: digest });

	const error = await t.throwsAsync(new WasmCache(path.join(dir, 'tls-strict')).get(request(url)));
	t.regex(error?.message ?? '', /^could not fetch Wasm OCI image: could not fetch manifest: .*certificate.*istio\.insecureRegistries/);
	// Istio matches the host as written, port included.
	await t.throwsAsync(new WasmCache(path.join(dir, 'tls-hostname')).get(request(url, { insecureRegistries: ['127.0.0.1'] })));

	// https:// modules: the same list turns the check off for the HTTP fetcher (httpfetcher.go).
	t.like(await new WasmCache(path.join(dir, 'tls-http')).get(request(`https://${front.host}/seed.wasm`, { insecureRegistries: [front.host] })), { source: 'download' });
	await t.throwsAsync(new WasmCache(path.join(dir, 'tls-http-strict')).get(request(`https://${front.host}/seed.wasm`, { timeoutMs: 2000 })));
});

test('credentials in an oci URL are not used (istio-agent pulls host + path) and never shown: notes, errors, render comments', async t => {
	const password = 's3cret-in-url';
	await registry.push('creds/seed', 'v1', { variant: 'compat', wasm: seed });
	const url = `oci://meshbox:${password}@${registry.host}/creds/seed:v1`;
	const fetched = await new WasmCache(path.join(dir, 'creds')).get(request(url));
	t.deepEqual(await readFile(fetched.path), seed, 'pulled anonymously from host + path');

	const closed = await freePort();
	const resolved = await resolveIstioSidecar({
		workload, baseDir: dir,
		istio: { cacheDir: path.join(dir, 'creds-sidecar'), fetchTimeoutMs: 2000, resources: [
			wasmPlugin('works', { url }),
			wasmPlugin('fails', { url: `oci://meshbox:${password}@127.0.0.1:${closed}/creds/seed:v1`, sha256: 'a'.repeat(64) }),
			wasmPlugin('http-fails', { url: `http://meshbox:${password}@127.0.0.1:${closed}/x.wasm`, failStrategy: 'FAIL_OPEN' }),
		] },
	});
	const output = [...resolved.sidecar.notes, ...resolved.sidecar.summary, ...resolved.sidecar.httpFilters.map(filter => filter.comment)].join('\n');
	t.false(output.includes(password), output);
	t.regex(output, /oci:\/\/xxxxx@127\.0\.0\.1:\d+\/creds\/seed:v1/);
	t.regex(output, /the credentials in the URL are not used; give them with imagePullSecret/);
	t.regex(output, /istio-agent: error in converting the wasm config to local: .*applying deny RBAC filter/);
	t.is(resolved.plugins.length, 1);

	const error = await t.throwsAsync(new WasmCache(path.join(dir, 'creds-error')).get(request(`oci://meshbox:${password}@127.0.0.1:${closed}/creds/seed:v1`, { sha256: 'b'.repeat(64), timeoutMs: 2000 })));
	t.false(error?.message.includes(password), error?.message);
});
