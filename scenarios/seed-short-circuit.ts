/**
 * The seed article's story: a plugin answers the request itself, so the app behind Envoy is never reached.
 *
 *   curl -i -H 'host: my-app.example.com' http://127.0.0.1:10000/hello
 *   → 200, x-service-name: my-custom-service, "Hello from Wasm!\n", and the plugin logged host and path.
 *
 * Told on every runtime (local, docker): the story must not depend on how Envoy runs.
 */
import test from 'ava';
import { assertLogged, assertShortCircuit, forEachRuntime, scenarioRuntimes, type Sandbox } from 'meshbox';

// Await the runtimes before declaring anything: ava wants every test and hook declared synchronously.
const runtimes = await scenarioRuntimes();

const seedPlugin = { name: 'my-wasm-plugin', wasm: 'fixtures/plugins/seed-rust/seed-rust.wasm' };

forEachRuntime(runtimes, ({ title, startSandbox }) => {
	let box: Sandbox | undefined;
	// One sandbox per runtime for the whole file; each test starts from an empty upstream recording.
	const sandbox = async () => {
		box ??= await startSandbox({ plugins: [seedPlugin] });
		await box.upstream.clear();
		return box;
	};

	test.after.always(async () => box?.stop());

	test.serial(title('the plugin answers: 200, its header and its body'), async t => {
		const response = await (await sandbox()).request('/hello', { headers: { host: 'my-app.example.com' } });
		t.is(response.status, 200);
		t.is(response.headers['x-service-name'], 'my-custom-service');
		t.is(response.headers['content-type'], 'text/plain', 'Envoy adds text/plain to a local reply without content-type');
		t.is(response.body, 'Hello from Wasm!\n');
	});

	test.serial(title('it is a short-circuit: the upstream saw nothing'), async t => {
		const box = await sandbox();
		const response = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
		await assertShortCircuit(t, response, box, 200);
	});

	test.serial(title('the plugin logged the host and path it saw, at info'), async t => {
		const box = await sandbox();
		await box.request('/orders/42?expand=1', { headers: { host: 'shop.example.com' } });
		const entry = await assertLogged(t, box, { plugin: 'my-wasm-plugin', level: 'info', message: 'Received request for: shop.example.com /orders/42?expand=1' });
		t.is(entry?.context, 'stream');
	});

	test.serial(title('every method and path is answered the same way'), async t => {
		const box = await sandbox();
		for (const method of ['GET', 'POST', 'DELETE']) {
			const response = await box.request('/any/path', { method, headers: { host: 'my-app.example.com' }, body: method === 'POST' ? 'payload' : undefined });
			t.is(response.status, 200, method);
			t.is(response.body, 'Hello from Wasm!\n', method);
		}

		t.is(await box.upstream.hits(), 0);
		const stats = await box.stats('http.ingress_http.downstream_rq_');
		t.true((stats.counters.get('http.ingress_http.downstream_rq_2xx') ?? 0) >= 3, 'Envoy counted the local replies as 2xx');
	});
});
