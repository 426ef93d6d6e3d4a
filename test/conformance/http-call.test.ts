/**
 * Conformance: http-call (fixtures/plugins/CONFORMANCE.md "http-call"). The plugin calls a mock service in
 * request headers, holds the request until the answer arrives and reports it; a call that cannot be
 * dispatched (unknown cluster) is answered 500 by the plugin.
 */
import test from 'ava';
import { assertShortCircuit, mockService } from 'meshbox';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { loggedDuring, sandboxFor } from './helpers.ts';

const backend = mockService(async request => {
	switch (request.path) {
		case '/unavailable': {
			return { status: 503, body: 'down for maintenance' };
		}

		case '/reset': {
			return { reset: true };
		}

		case '/slow': {
			await new Promise(resolve => setTimeout(resolve, 1500));
			return { status: 200, headers: { 'x-mock-reply': 'late' }, body: 'too late' };
		}

		default: {
			return { status: 200, headers: { 'x-mock-reply': 'yes' }, body: 'mock says hi' };
		}
	}
});

for (const sdk of sdksFor('http-call')) {
	test(cell(sdk, 'http-call', 'a call to a mock service, its reply reported; 503, timeout, unknown cluster'), async t => {
		// The configuration names the cluster to call.
		const box = await sandboxFor(t, { plugins: [{ name: 'caller', wasm: fixtureFor(sdk, 'http-call'), configuration: 'backend' }], clusters: { backend } });

		const [ok, okLogs] = await loggedDuring(box, async () => box.request('/call'), { plugin: 'caller' });
		t.is(ok.status, 200);
		t.is(ok.body, 'Hello, world!\n');
		t.is(ok.headers['x-http-call-status'], '200');
		t.is(ok.headers['x-http-call-body'], 'mock says hi');
		t.is(ok.headers['x-http-call-body-size'], '12');
		t.is(ok.headers['x-http-call-mock-reply'], 'yes');
		t.deepEqual(okLogs, ['http_call dispatched to backend', 'http_call response: status=200 body=mock says hi']);
		const [call] = (await box.mocks.backend?.requests()) ?? [];
		t.like(call, { method: 'GET', path: '/', body: '' });
		t.is(call?.headers.host, 'backend', ':authority is the cluster name');
		t.is(call?.headers['x-wasm-http-call'], '1');
		const [upstream] = await box.upstream.requests();
		t.is(upstream?.headers['x-http-call-status'], '200', 'the held request resumed with the call\'s status');

		const unavailable = await box.request('/call', { headers: { 'x-http-call-path': '/unavailable' } });
		t.is(unavailable.status, 200, 'a 503 from the mock is still a reply');
		t.is(unavailable.headers['x-http-call-status'], '503');
		t.is(unavailable.headers['x-http-call-body'], 'down for maintenance');
		t.is(unavailable.headers['x-http-call-mock-reply'], '-');
		t.is((await box.mocks.backend?.requests())?.[1]?.path, '/unavailable');

		const [late, lateLogs] = await loggedDuring(box, async () => box.request('/call', { headers: { 'x-http-call-path': '/slow', 'x-http-call-timeout-ms': '200' } }), { plugin: 'caller' });
		t.is(late.status, 200);
		t.is(late.headers['x-http-call-status'], '504', 'Envoy answers the call 504 after its timeout');
		t.is(late.headers['x-http-call-body'], 'upstream request timeout');
		t.is(late.headers['x-http-call-body-size'], '24');
		t.is(late.headers['x-http-call-mock-reply'], '-');
		t.deepEqual(lateLogs, ['http_call dispatched to backend', 'http_call response: status=504 body=upstream request timeout']);
		t.is(await box.upstream.hits(), 3);

		await box.upstream.clear();
		const [reset, resetLogs] = await loggedDuring(box, async () => box.request('/call', { headers: { 'x-http-call-path': '/reset' } }), { plugin: 'caller' });
		// A service that resets the connection does not leave the plugin without a reply: Envoy's router answers
		// the call itself, 503 with its "upstream connect error" body, and the plugin reports it like any reply.
		t.is(reset.status, 200);
		t.is(reset.headers['x-http-call-status'], '503');
		t.is(reset.headers['x-http-call-body'], 'upstream connect error or disconnect/reset before headers. reset reason: connection termination');
		t.deepEqual(resetLogs, ['http_call dispatched to backend', `http_call response: status=503 body=${reset.headers['x-http-call-body'] as string}`]);

		await box.upstream.clear();
		const [failed, failedLogs] = await loggedDuring(box, async () => box.request('/call', { headers: { 'x-http-call-cluster': 'nowhere' } }), { plugin: 'caller' });
		await assertShortCircuit(t, failed, box, 500);
		t.is(failed.headers['x-http-call-error'], 'BadArgument');
		t.is(failed.body, 'http_call failed: BadArgument\n');
		t.deepEqual(failedLogs, ['http_call failed: BadArgument']);
		t.is((await box.logs({ plugin: 'caller', level: 'warn' })).map(entry => entry.message).at(-1), 'http_call failed: BadArgument');
	});
}
