/**
 * Conformance: hostile plugins (fixtures/plugins/CONFORMANCE.md "hostile", issue #19). Each test loads a plugin
 * that misbehaves in one way, asserts the clear error meshbox gives for it (a MeshboxError whose code says what
 * happened, naming the plugin), and then starts a well-behaved sandbox (the seed plugin) in the same process:
 * it must pass. Serial: "right after" is the point (the hostile sandbox's warm Envoy is the one the next
 * sandbox would get).
 */
import test, { type ExecutionContext } from 'ava';
import { startSandbox, type Sandbox, type SandboxOptions } from 'meshbox';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { seedWasm } from '../helpers/paths.ts';

/** The seed plugin's story: it answers /hello itself. What a well-behaved sandbox after a hostile one does. */
async function assertNextSandboxPasses(t: ExecutionContext): Promise<void> {
	const box = await startSandbox({ plugins: [{ name: 'my-wasm-plugin', wasm: seedWasm }] });
	try {
		const response = await box.request('/hello', { headers: { host: 'my-app.example.com' }, timeoutMs: 10_000 });
		t.is(response.status, 200, 'the next sandbox is served');
		t.is(response.body, 'Hello from Wasm!\n');
	} finally {
		await box.stop();
	}
}

/** Whether `check` came true (looked at every 200 ms) before `ms` passed. */
async function pollUntil(check: () => Promise<boolean>, ms: number): Promise<boolean> {
	const deadline = Date.now() + ms;
	while (Date.now() < deadline) {
		if (await check()) {
			return true;
		}

		await new Promise(resolve => setTimeout(resolve, 200));
	}

	return check();
}

/** A sandbox of the hostile plugin in `mode`, stopped after `use` whatever happens. */
async function withHostile(sdkWasm: string, mode: string, use: (box: Sandbox) => Promise<void>, options: Partial<SandboxOptions> = {}): Promise<void> {
	const box = await startSandbox({ plugins: [{ name: 'hostile', wasm: sdkWasm, configuration: mode }], ...options });
	try {
		await use(box);
	} finally {
		await box.stop();
	}
}

for (const sdk of sdksFor('hostile')) {
	const wasm = fixtureFor(sdk, 'hostile');

	test.serial(cell(sdk, 'hostile', 'a loop in request headers: PLUGIN_STUCK naming the plugin; the next sandbox passes'), async t => {
		await withHostile(wasm, 'loop', async box => {
			const error = await t.throwsAsync(box.request('/', { timeoutMs: 3000 }), { code: 'PLUGIN_STUCK' });
			t.regex(error?.message ?? '', /the plugin hostile did not return from a callback/);
		});
		await assertNextSandboxPasses(t);
	});

	test.serial(cell(sdk, 'hostile', 'a loop in on_configure: the start fails within readyTimeoutMs, naming the plugin; the next sandbox passes'), async t => {
		const error = await t.throwsAsync(startSandbox({ plugins: [{ name: 'hostile', wasm, configuration: 'configure-loop' }], readyTimeoutMs: 8000 }), { code: 'ENVOY_START_FAILED' });
		t.regex(error?.message ?? '', /did not take the sandbox's configuration within 8000 ms \(its plugin: hostile\)/);
		await assertNextSandboxPasses(t);
	});

	test.serial(cell(sdk, 'hostile', 'a trap in on_configure: ENVOY_REJECTED_CONFIG naming the plugin; the next sandbox passes'), async t => {
		const error = await t.throwsAsync(startSandbox({ plugins: [{ name: 'hostile', wasm, configuration: 'configure-trap' }] }), { code: 'ENVOY_REJECTED_CONFIG' });
		t.regex(error?.message ?? '', /Envoy refused to load plugin "hostile": panicked at 'hostile: trap in on_configure'/);
		await assertNextSandboxPasses(t);
	});

	test.serial(cell(sdk, 'hostile', 'allocating until the VM fails in on_configure: ENVOY_REJECTED_CONFIG naming the plugin; the next sandbox passes'), async t => {
		const error = await t.throwsAsync(startSandbox({ plugins: [{ name: 'hostile', wasm, configuration: 'configure-oom' }] }), { code: 'ENVOY_REJECTED_CONFIG' });
		t.regex(error?.message ?? '', /Envoy refused to load plugin "hostile": Function: proxy_on_configure failed/);
		await assertNextSandboxPasses(t);
	});

	test.serial(cell(sdk, 'hostile', 'a request paused forever: REQUEST_TIMEOUT naming the plugin; the next sandbox passes'), async t => {
		await withHostile(wasm, 'pause', async box => {
			const error = await t.throwsAsync(box.request('/', { timeoutMs: 1500 }), { code: 'REQUEST_TIMEOUT' });
			t.regex(error?.message ?? '', /GET \/: no response within 1500 ms \(through the plugin hostile; none was stuck in a callback\)/);
		});
		await assertNextSandboxPasses(t);
	});

	test.serial(cell(sdk, 'hostile', 'a 1 ms tick with http_call: served while it runs; the next sandbox passes; its Envoy, still ticking in the pin, is retired'), async t => {
		let adminUrl = '';
		await withHostile(wasm, 'tick-http-call', async box => {
			adminUrl = box.adminUrl;
			const response = await box.request('/');
			t.is(response.status, 200);
			t.is(response.headers['x-hostile'], 'tick-http-call');
			// The tick's calls reach the app too: many more requests than the one sent.
			await box.waitFor(async () => (await box.upstream.requests()).filter(request => request.path === '/tick').length > 10);
		});
		await assertNextSandboxPasses(t);
		// The pin of the module keeps its root context, and its tick, alive after the sandbox: the warm Envoy's
		// idle check sees it wake up a thousand times a second and retires it.
		const answers = async () => fetch(`${adminUrl}/ready`, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false);
		const gone = await pollUntil(async () => !(await answers()), 20_000);
		t.true(gone, 'the Envoy that ran the ticking plugin no longer runs');
	});
}
