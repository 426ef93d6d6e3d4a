/**
 * A sandbox is one pod, and its updates (`box.applyIstio()`, `up --watch`) are writes to the API server: each
 * change bumps the object's resourceVersion, which istio-agent's cache (pkg/wasm/cache.go) compares to decide
 * whether `imagePullPolicy: Always` pulls again. Against a real registry (docker-registry on loopback).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IstioPod } from '../../src/istio/pod.ts';
import { resolveIstioSidecar } from '../../src/istio/sidecar.ts';
import { decideRequirement } from '../helpers/requirements.ts';
import { requirementTest } from '../helpers/skip.ts';
import { registryRequirement, startRegistry, type Registry } from './registry.ts';

const test = requirementTest(decideRequirement(registryRequirement()));

const seed = await readFile('fixtures/plugins/seed-rust/seed-rust.wasm');
const strict = await readFile('fixtures/plugins/rust-strict-config/rust-strict-config.wasm');

let registry: Registry;
let dir: string;
test.before(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-pod-updates-'));
	registry = await startRegistry();
});
test.after.always(async () => {
	await registry?.stop();
	if (dir) {
		await rm(dir, { recursive: true, force: true });
	}
});

const workload = { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 };

function wasmPlugin(spec: Record<string, unknown>): Record<string, unknown> {
	return { apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', metadata: { name: 'always', namespace: 'default' }, spec };
}

test('imagePullPolicy Always: an updated WasmPlugin gets a new resourceVersion and the re-pushed tag is pulled; an unchanged one is not', async t => {
	const url = `oci://${registry.host}/updates/plugin:v1`;
	await registry.push('updates/plugin', 'v1', { variant: 'compat', wasm: seed });
	const pod = new IstioPod();
	const resolve = async (pluginConfig: Record<string, unknown>) => resolveIstioSidecar({
		workload, baseDir: dir, pod,
		istio: { cacheDir: path.join(dir, 'cache'), resources: [wasmPlugin({ url, imagePullPolicy: 'Always', pluginConfig })] },
	});
	const first = await resolve({ round: 1 });
	t.deepEqual(await readFile(first.plugins[0]?.wasmPath ?? ''), seed);

	await registry.push('updates/plugin', 'v1', { variant: 'compat', wasm: strict });
	// The same object applied again: no write, same resourceVersion, the module this pod has.
	const unchanged = await resolve({ round: 1 });
	t.deepEqual(await readFile(unchanged.plugins[0]?.wasmPath ?? ''), seed, 'unchanged WasmPlugin: no pull');

	const updated = await resolve({ round: 2 });
	t.deepEqual(await readFile(updated.plugins[0]?.wasmPath ?? ''), strict, 'changed WasmPlugin + Always: the tag is pulled again');
});

test('box.applyIstio(): a changed WasmPlugin with imagePullPolicy Always runs the module the tag names now (real Envoy)', async t => {
	const { startSandbox, wasmPlugin: plugin } = await import('meshbox');
	const url = `oci://${registry.host}/updates/live:v1`;
	await registry.push('updates/live', 'v1', { variant: 'compat', wasm: seed });
	const resource = (round: number) => plugin({ name: 'live', url, imagePullPolicy: 'Always', pluginConfig: { round } });
	const box = await startSandbox({ workload, istio: { cacheDir: path.join(dir, 'live-cache'), resources: [resource(1)] } });
	t.teardown(async () => box.stop());
	t.is((await box.request('/')).body, 'Hello from Wasm!\n');

	// The tag now names rust-headers (it echoes x-wasm-echo); the WasmPlugin changes, as a `kubectl apply` of a new pluginConfig.
	await registry.push('updates/live', 'v1', { variant: 'compat', wasm: await readFile('fixtures/plugins/rust-headers/rust-headers.wasm') });
	await box.applyIstio([resource(2)]);
	const response = await box.request('/', { headers: { 'x-wasm-echo': 'new-module' } });
	t.is(response.headers['x-wasm-echo'], 'new-module', box.istioNotes.join('\n'));
});
