/**
 * The seed article's WasmPlugin from an `oci://` registry (a real docker-registry on loopback) on an Istio
 * sidecar, with the manifest digest as sha256 and an image pull secret; and a pull secret istiod cannot find.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { forEachRuntime, scenarioRuntimes, wasmPlugin } from 'meshbox';
import { registryRequirement, startRegistry, type Registry } from './registry.ts';
import { decideRequirement } from '../helpers/requirements.ts';
import { requirementTest } from '../helpers/skip.ts';

// Await the runtimes before declaring anything: ava wants every test and hook declared synchronously.
const runtimes = await scenarioRuntimes();

const workload = { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 };
// The oci:// stories need docker-registry: without it (a fresh machine) they are skipped with one line saying
// how to get it, and the others still run.
const registryNeeded = decideRequirement(registryRequirement());
const ociTest = requirementTest(registryNeeded);
let registry: Registry;
let dir: string;
test.before(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-istio-oci-'));
	if (registryNeeded.run) {
		registry = await startRegistry();
	}
});
test.after.always(async () => {
	// Either may be missing when the before hook failed.
	await registry?.stop();
	if (dir) {
		await rm(dir, { recursive: true, force: true });
	}
});

// Every story below is told on every runtime (local, docker).
forEachRuntime(runtimes, ({ runtime, title, startSandbox }) => {
	ociTest(title('oci:// from a local registry: the manifest digest as sha256, a pull secret from a docker config file'), async t => {
		const digest = await registry.push('plugins/seed', 'v1', { variant: 'compat', wasm: await readFile('fixtures/plugins/seed-rust/seed-rust.wasm') });
		const dockerConfig = path.join(dir, 'config.json');
		await writeFile(dockerConfig, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from('user:secret').toString('base64') } } }));
		const box = await startSandbox({
			workload,
			istio: {
				// A cache of this runtime's own: the point is the pull, not another test's cache hit.
				cacheDir: path.join(dir, `cache-${runtime}`),
				pullSecrets: { 'reg-cred': dockerConfig },
				resources: [wasmPlugin({
					name: 'my-wasm-plugin',
					selector: { matchLabels: { app: 'my-app' } }, url: `oci://${registry.host}/plugins/seed:v1`, sha256: digest, imagePullSecret: 'reg-cred', imagePullPolicy: 'IfNotPresent', pluginName: 'my-wasm-plugin',
				})],
			},
		});
		t.teardown(async () => box.stop());
		const response = await box.request('/hello');
		t.is(response.body, 'Hello from Wasm!\n');
		t.true(box.istioNotes.some(note => note.includes(`fetched oci://${registry.host}/plugins/seed:v1 (sha256 ${digest})`)), box.istioNotes.join('\n'));
	});

	ociTest(title('oci:// with a pull secret istiod cannot find: deny-all, no network call'), async t => {
		const box = await startSandbox({
			workload,
			istio: { resources: [wasmPlugin({ name: 'p', url: `oci://${registry.host}/plugins/seed:v1`, imagePullSecret: 'nope' })] },
		});
		t.teardown(async () => box.stop());
		t.is((await box.request('/')).status, 403);
		t.true(box.istioNotes.some(note => note.includes('missing image pulling secret')));
	});
});
