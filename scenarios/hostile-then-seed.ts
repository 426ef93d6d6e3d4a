/**
 * One bad plugin never reaches the next test (issue #19): the first test loads a plugin that loops forever in
 * request headers, the second is the seed article's story. They run in this order, in one process, on the
 * warm Envoy the local runtime shares between sandboxes:
 *
 * - the first test's request fails with PLUGIN_STUCK, naming the plugin (Envoy's watchdog saw the worker
 *   stuck), and that Envoy is retired when the sandbox stops (SIGTERM, SIGKILL after a second);
 * - the second passes, on another Envoy;
 * - no Envoy of this file outlives it (test/runtime/hostile.test.ts runs this file in a child process and
 *   looks for survivors).
 */
import test from 'ava';
import { startSandbox } from 'meshbox';

const loopingPlugin = { name: 'looping', wasm: 'fixtures/plugins/rust-hostile/rust-hostile.wasm', configuration: 'loop' };
const seedPlugin = { name: 'my-wasm-plugin', wasm: 'fixtures/plugins/seed-rust/seed-rust.wasm' };

test.serial('a plugin that never returns: the request fails with PLUGIN_STUCK, naming it', async t => {
	const box = await startSandbox({ plugins: [loopingPlugin] });
	try {
		const error = await t.throwsAsync(box.request('/', { timeoutMs: 3000 }), { code: 'PLUGIN_STUCK' });
		t.regex(error?.message ?? '', /the plugin looping did not return from a callback/);
	} finally {
		await box.stop();
	}
});

test.serial('the seed scenario right after it passes', async t => {
	const box = await startSandbox({ plugins: [seedPlugin] });
	try {
		const response = await box.request('/hello', { headers: { host: 'my-app.example.com' }, timeoutMs: 10_000 });
		t.is(response.status, 200);
		t.is(response.headers['x-service-name'], 'my-custom-service');
		t.is(response.body, 'Hello from Wasm!\n');
		t.is(await box.upstream.hits(), 0, 'the plugin answered itself');
	} finally {
		await box.stop();
	}
});
