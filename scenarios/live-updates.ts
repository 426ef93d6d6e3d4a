/**
 * A running sandbox changes like a sidecar does: its plugins arrive over xDS (ECDS), so a new module or
 * configuration replaces the old one without restarting Envoy. What these stories pin down was measured on
 * real Envoy 1.40 first:
 * - a request already inside the old plugin finishes with it (the old filter config lives as long as the
 *   stream that holds it), while new requests get the new one;
 * - shared data belongs to the vm_id, not to a module: it survives a swap, even to another SDK's build;
 * - a module whose on_configure fails is refused (NACK) and the old one keeps answering;
 * - rollback() brings the previous accepted config back.
 */
import test from 'ava';
import { forEachRuntime, isMeshboxError, scenarioRuntimes } from 'meshbox';

const seed = 'fixtures/plugins/seed-rust/seed-rust.wasm';
const headers = 'fixtures/plugins/rust-headers/rust-headers.wasm';

// Both runtimes drive Envoy over xDS; in Docker the control plane is reached through the network's gateway.
const runtimes = await scenarioRuntimes();

forEachRuntime(runtimes, ({ title, startSandbox }) => {
	test(title('a request in flight during a swap finishes with the old plugin; the next one gets the new plugin'), async t => {
		// The timers plugin holds every request until its next tick (1.5 s here), then lets it through to the app.
		const box = await startSandbox({ plugins: [{ name: 'gate', wasm: 'fixtures/plugins/rust-timers/rust-timers.wasm', configuration: '1500' }] });
		t.teardown(async () => box.stop());

		const inFlight = box.request('/in-flight');
		t.truthy(await box.waitForLog({ plugin: 'gate', message: /^holding request/ }, 5000), 'the old plugin holds the request');
		await box.swapPlugin('gate', seed);

		const after = await box.request('/after', { headers: { host: 'my-app.example.com' } });
		t.is(after.body, 'Hello from Wasm!\n', 'a new request is answered by the new plugin');
		const held = await inFlight;
		t.is(held.status, 200);
		t.is(held.headers['x-wasm-resumed-by'], 'tick', 'the held request was resumed by the old plugin\'s timer');
		t.deepEqual((await box.upstream.requests()).map(request => request.path), ['/in-flight'], 'only the held request reached the app');
		t.is((await box.stats('http.ingress_http.downstream_rq_total')).counters.get('http.ingress_http.downstream_rq_total'), 2, 'one Envoy process counted both requests');
	});

	test(title('shared data with the same vm_id survives a swap, even to another SDK\'s build of the plugin'), async t => {
		const box = await startSandbox({ plugins: [{ name: 'counter', vmId: 'shared', wasm: 'fixtures/plugins/rust-shared-data/rust-shared-data.wasm' }] });
		t.teardown(async () => box.stop());
		t.is((await box.request('/1')).headers['x-shared-counter'], '1');
		t.is((await box.request('/2')).headers['x-shared-counter'], '2');

		await box.swapPlugin('counter', { vmId: 'shared', wasm: 'fixtures/plugins/go-shared-data/go-shared-data.wasm' });
		t.is((await box.request('/3')).headers['x-shared-counter'], '3', 'the Go build reads the counter the Rust build left');
	});

	test(title('an update whose on_configure fails is refused, and the old plugin keeps serving'), async t => {
		const box = await startSandbox({ plugins: [{ name: 'answer', wasm: seed }] });
		t.teardown(async () => box.stop());
		const before = box.configVersion;

		const error = await t.throwsAsync(box.swapPlugin('answer', { wasm: 'fixtures/plugins/rust-strict-config/rust-strict-config.wasm', configuration: 'not json' }));
		t.true(isMeshboxError(error) && error.code === 'ENVOY_REJECTED_CONFIG');
		t.regex(error?.message ?? '', /Envoy rejected the update: Unable to create Wasm plugin answer/);
		t.true(isMeshboxError(error) && (error.details ?? []).some(line => line.includes('invalid plugin configuration')), 'the plugin\'s own reason is in the error');
		t.is(box.configVersion, before, 'the accepted version did not move');

		const response = await box.request('/still', { headers: { host: 'my-app.example.com' } });
		t.is(response.body, 'Hello from Wasm!\n', 'the old module answers');
	});

	test(title('rollback() restores the previous accepted config'), async t => {
		const box = await startSandbox({ plugins: [{ name: 'answer', wasm: seed }] });
		t.teardown(async () => box.stop());
		const first = box.configVersion;

		await box.swapPlugin('answer', headers);
		const swapped = await box.request('/h');
		t.is(swapped.headers['x-chain'], 'answer', 'the headers plugin runs after the swap');
		t.is(swapped.body, 'Hello, world!\n', 'and the app answers');
		t.true(box.configVersion > first);

		await box.rollback();
		const restored = await box.request('/r', { headers: { host: 'my-app.example.com' } });
		t.is(restored.body, 'Hello from Wasm!\n', 'the seed answers again');
		t.is(await box.upstream.hits(), 1, 'only the request during the swap reached the app');
		t.true(box.configVersion > first, 'a rollback is a new version with the old contents');
	});

	test(title('update() changes the app\'s answer and adds a plugin to the chain without a new Envoy'), async t => {
		const box = await startSandbox({ plugins: [{ name: 'first', wasm: headers }] });
		t.teardown(async () => box.stop());
		await box.update({ upstream: { status: 202, body: 'accepted\n' }, plugins: [{ name: 'first', wasm: headers }, { name: 'second', wasm: headers }] });
		const response = await box.request('/u');
		t.is(response.status, 202);
		t.is(response.body, 'accepted\n');
		t.is(response.headers['x-chain'], 'second, first', 'both plugins ran, in chain order');

		const error = await t.throwsAsync(box.update({ port: 1 } as never));
		t.true(isMeshboxError(error) && error.code === 'USAGE', 'a port cannot change while Envoy runs');
	});
});
