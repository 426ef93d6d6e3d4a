/**
 * The seed article, done as Istio does it: its YAML is explained by `meshbox check`, and its real equivalent
 * (a WasmPlugin) short-circuits on a real Envoy sidecar. (The same plugin from an `oci://` registry:
 * test/istio/oci-sidecar.test.ts, which runs a docker-registry.)
 */
import test from 'ava';
import { execa } from 'execa';
import { assertLogged, assertShortCircuit, stories } from 'meshbox';

const story = await stories(test);
const workload = { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 };

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

story('the seed WasmPlugin (file://) reproduces the seed short-circuit on an Istio sidecar', async (t, { sandbox }) => {
	const box = await sandbox({ workload, istio: ['fixtures/istio/seed-wasmplugin.yaml'] });
	const response = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	t.is(response.headers['x-service-name'], 'my-custom-service');
	t.is(response.body, 'Hello from Wasm!\n');
	await assertShortCircuit(t, response, box, 200);
	await assertLogged(t, box, { plugin: 'default.my-wasm-plugin', level: 'info', message: 'Received request for: my-app.example.com /hello' });
});
