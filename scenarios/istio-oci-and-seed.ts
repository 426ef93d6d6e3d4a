/**
 * The seed article, done as Istio does it: its YAML is explained by `meshbox check`, its real equivalent (a
 * WasmPlugin) short-circuits on a real Envoy sidecar, from `file://` and from an `oci://` registry (a real
 * docker-registry on loopback) with the manifest digest as sha256 and an image pull secret.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { assertLogged, assertShortCircuit, forEachRuntime, scenarioRuntimes, wasmPlugin } from 'meshbox';
import { registryRequirement, startRegistry, type Registry } from '../test/istio/registry.ts';
import { decideRequirement } from '../test/helpers/requirements.ts';
import { requirementTest } from '../test/helpers/skip.ts';

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

test('meshbox check explains each non-API construct of the seed article and exits 1', async t => {
	const result = await execa('node', ['bin/meshbox.js', 'check', 'fixtures/istio/seed-article.yaml'], { reject: false });
	t.is(result.exitCode, 1);
	t.regex(result.stdout, /seed-article\.yaml:17:7: error: .*extensionProviders\[0\]\.wasm: not Istio API: meshConfig\.extensionProviders has no wasm provider/);
	t.regex(result.stdout, /proxyMetadata\.WASM_ENABLED: not Istio API: no proxy setting named WASM_ENABLED/);
	t.regex(result.stdout, /spec\.http\[0\]\.wasm: not Istio API: a VirtualService http route has no `wasm` field/);
	t.regex(result.stdout, /warning: .*x-wasm-plugin: header manipulation does not enable plugins/);
	t.regex(result.stdout, /kind: WasmPlugin\n\s+metadata:\n\s+name: my-wasm-plugin/);
	const good = await execa('node', ['bin/meshbox.js', 'check', 'fixtures/istio/seed-wasmplugin.yaml'], { reject: false });
	t.is(good.exitCode, 0, good.stdout);
});

// Every story below is told on every runtime (local, docker).
forEachRuntime(runtimes, ({ runtime, title, startSandbox }) => {
	test(title('the seed WasmPlugin (file://) reproduces the seed short-circuit on an Istio sidecar'), async t => {
		const box = await startSandbox({ workload, istio: ['fixtures/istio/seed-wasmplugin.yaml'] });
		t.teardown(async () => box.stop());
		const response = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
		t.is(response.headers['x-service-name'], 'my-custom-service');
		t.is(response.body, 'Hello from Wasm!\n');
		await assertShortCircuit(t, response, box, 200);
		await assertLogged(t, box, { plugin: 'default.my-wasm-plugin', level: 'info', message: 'Received request for: my-app.example.com /hello' });
	});

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
