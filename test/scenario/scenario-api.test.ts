/**
 * The scenario API as a user meets it (issue #8): how box.request() frames bodies, how the assertions decide
 * from the app's own recordings, what the box says after Envoy died or reset a stream, and plugin metrics by
 * their own names. Each test runs real Envoy; they run one at a time (several Envoys compete for the CPU).
 */
import test, { type ExecutionContext } from 'ava';
import got from 'got';
import { assertReachedUpstream, assertShortCircuit, startSandbox, type Sandbox, type SandboxOptions } from '../../src/index.ts';
import { fixturePlugin, seedWasm } from '../helpers/paths.ts';

/** Runs an assertion helper as an ava attempt and discards it: whether it passed, and its failure message. */
async function attempt(t: ExecutionContext, assertion: (tt: ExecutionContext) => Promise<void>): Promise<{ passed: boolean; message: string }> {
	const result = await t.try(assertion);
	const outcome = { passed: result.passed, message: result.errors.map(error => error.message).join('\n') };
	result.discard();
	return outcome;
}

async function sandbox(t: ExecutionContext, options: SandboxOptions = {}): Promise<Sandbox> {
	const box = await startSandbox(options);
	t.teardown(async () => box.stop());
	return box;
}

test.serial('a body is sent with content-length, as curl does; `chunked: true` sends it chunked (HTTP/1.1 and HTTP/2)', async t => {
	const box = await sandbox(t);
	for (const http2 of [false, true]) {
		const protocol = http2 ? 'HTTP/2' : 'HTTP/1.1';
		await box.upstream.clear();
		await box.request('/known', { method: 'POST', body: 'hello', http2 });
		await box.request('/chunked', { method: 'POST', body: 'hello', http2, chunked: true });
		const [known, chunked] = await box.upstream.requests();
		t.is(known?.headers['content-length'], '5', `${protocol}: the app sees the client's content-length`);
		t.is(known?.headers['transfer-encoding'], undefined, `${protocol}: and no chunked encoding`);
		t.is(chunked?.headers['content-length'], undefined, `${protocol}, chunked: no content-length`);
		t.is(chunked?.headers['transfer-encoding'], 'chunked', `${protocol}, chunked: the app sees chunked encoding`);
		t.is(chunked?.body, 'hello');
	}
});

test.serial('assertReachedUpstream decides from the app\'s recordings: a plugin that removes x-envoy-upstream-service-time does not fool it', async t => {
	// rust-headers removes x-envoy-upstream-service-time from every response (fixtures/plugins/CONFORMANCE.md).
	const box = await sandbox(t, { plugins: [{ name: 'headers', wasm: fixturePlugin('rust-headers') }] });
	const response = await box.request('/h');
	t.is(response.status, 200);
	t.is(response.headers['x-envoy-upstream-service-time'], undefined, 'the plugin removed it');
	await assertReachedUpstream(t, response, box);

	const shortCircuit = await attempt(t, async tt => assertShortCircuit(tt, response, box));
	t.false(shortCircuit.passed, 'the request reached the app, so it is no short-circuit');
	t.regex(shortCircuit.message, /the request reached the app: the app recorded GET \/h with x-meshbox-request-id/);
});

test.serial('assertShortCircuit is about this request; both assertions fail when they should, saying why', async t => {
	// rust-local-reply answers /reply/request itself (403) and lets anything else through to the app.
	const box = await sandbox(t, { plugins: [{ name: 'reply', wasm: fixturePlugin('rust-local-reply') }] });
	const passed = await box.request('/through');
	const replied = await box.request('/reply/request');
	t.is(await box.upstream.hits(), 1);
	await assertShortCircuit(t, replied, box, 403);
	await assertReachedUpstream(t, passed, box);

	const reached = await attempt(t, async tt => assertReachedUpstream(tt, replied, box));
	t.false(reached.passed, 'a local reply did not reach the app');
	t.regex(reached.message, /the request did not reach the app \(status 403\): none of the 1 requests it recorded carries x-meshbox-request-id: [\da-f-]{36}/);

	// A request that reached the app but was not sent by box.request() (no x-meshbox-request-id, as when a plugin
	// strips that header) cannot be told apart: a short-circuit cannot be asserted then, and the failure says so.
	await got(`${box.url}/unmarked`, { retry: { limit: 0 } });
	const unsure = await attempt(t, async tt => assertShortCircuit(tt, replied, box));
	t.false(unsure.passed);
	t.regex(unsure.message, /cannot tell whether the request reached the app: 1 of its 2 recorded requests carry no x-meshbox-request-id \(GET \/unmarked\)\. A plugin that removes that request header/);
});

test.serial('after Envoy exits: logs are still readable, stats() and waitForLog() say ENVOY_EXITED at once', async t => {
	const box = await sandbox(t, { plugins: [{ name: 'my-wasm-plugin', wasm: seedWasm }] });
	await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	t.truthy(await box.waitForLog({ message: 'Received request for: my-app.example.com /hello' }));

	// A wait under way ends when Envoy exits. Its timeout is far beyond the test's (2 min): waiting it out would fail the test.
	const waiting = box.waitForLog({ message: 'a line no plugin writes' }, 30 * 60_000);
	await got.post(`${box.adminUrl}/quitquitquit`, { retry: { limit: 0 } });
	await t.throwsAsync(waiting, { code: 'ENVOY_EXITED', message: /^Envoy exited \(status 0\)/ });

	const logs = await box.logs({ plugin: 'my-wasm-plugin' });
	t.true(logs.some(entry => entry.message === 'Received request for: my-app.example.com /hello'), 'what the plugin logged before is still there');
	t.true((await box.envoyLogs({ logger: 'main' })).length > 0, 'Envoy\'s own log too');
	await t.throwsAsync(box.stats(''), { code: 'ENVOY_EXITED' });
	await t.throwsAsync(box.waitForLog({ message: 'a line no plugin writes' }, 30 * 60_000), { code: 'ENVOY_EXITED' });
	t.like(await box.waitForLog({ message: 'Received request for' }), { plugin: 'my-wasm-plugin' }, 'an entry captured before the exit is still found');
	await t.throwsAsync(box.request('/hello'), { code: 'ENVOY_EXITED' });
});

test.serial('a 20 MB response through a body-buffering plugin: Envoy reset the stream, and the error says it was its buffer limit', async t => {
	// rust-body pauses in on_http_response_body until end_of_stream: the whole body is buffered.
	const box = await sandbox(t, {
		plugins: [{ name: 'body', wasm: fixturePlugin('rust-body') }],
		upstream: { body: 'x'.repeat(20 * 1024 * 1024) },
	});
	for (const [http2, count] of [[false, 1], [true, 2]] as const) {
		const error = await t.throwsAsync(box.request('/large', { http2 }), { code: 'ENVOY_RESET_STREAM' });
		t.regex(error?.message ?? '', /^Envoy reset the stream: the response body exceeded the buffer limit of a filter that buffers it/);
		t.regex(error?.message ?? '', /per_connection_buffer_limit_bytes, 1048576 bytes = 1 MiB, Envoy's default/);
		t.regex(error?.message ?? '', new RegExp(`stat http\\.ingress_http\\.rs_too_large = ${count}`), http2 ? 'HTTP/2' : 'HTTP/1.1');
	}

	t.is((await box.request('/small', { method: 'HEAD' })).status, 200, 'Envoy itself is fine');
});

test.serial('box.stats() finds a plugin\'s metric by the plugin\'s own name (Envoy files it under wasmcustom.)', async t => {
	const box = await sandbox(t, { plugins: [{ name: 'metrics', wasm: fixturePlugin('rust-metrics') }] });
	await box.request('/');
	await box.request('/', { headers: { 'x-gauge-set': '4' } });
	const stats = await box.stats('meshbox_fixture_requests');
	t.deepEqual([...stats.counters.keys()], ['wasmcustom.meshbox_fixture_requests'], 'under the name Envoy uses');
	t.is(stats.counters.get('meshbox_fixture_requests'), 2, 'found by the plugin\'s name');
	t.is(stats.counters.get('wasmcustom.meshbox_fixture_requests'), 2);
	t.false(stats.gauges.has('meshbox_fixture_gauge'), 'the prefix still selects');
	t.is((await box.stats('meshbox_fixture_')).gauges.get('meshbox_fixture_gauge'), 4);
	t.is((await box.stats('http.ingress_http.downstream_rq_2xx')).counters.get('http.ingress_http.downstream_rq_2xx'), 2, 'Envoy\'s own stats as before');
});
