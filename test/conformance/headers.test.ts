/**
 * Conformance: headers (fixtures/plugins/CONFORMANCE.md "headers"). One filter per SDK adds, replaces and
 * removes request and response headers, names itself in `x-chain` and echoes `x-wasm-echo` back.
 */
import test from 'ava';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { loggedDuring, sandboxFor } from './helpers.ts';

for (const sdk of sdksFor('headers')) {
	test(cell(sdk, 'headers', 'add, replace and remove request and response headers'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'hdr', wasm: fixtureFor(sdk, 'headers') }] });
		const [response, logged] = await loggedDuring(box, async () => box.request('/h', {
			headers: { 'x-wasm-added': 'client', 'x-wasm-replaced': ['client-1', 'client-2'], 'x-wasm-removed': 'client', 'x-wasm-echo': 'e' },
		}), { plugin: 'hdr', level: 'info' });

		const [upstream] = await box.upstream.requests();
		t.is(await box.upstream.hits(), 1);
		t.is(upstream?.headers['x-wasm-added'], 'client, added', 'appended: the client value stays');
		t.is(upstream?.headers['x-wasm-replaced'], 'replaced', 'every client value replaced');
		t.is(upstream?.headers['x-wasm-removed'], undefined, 'removed before the upstream');
		t.is(upstream?.headers['x-chain'], 'hdr', 'the plugin_name property');

		t.is(response.status, 200);
		t.is(response.body, 'Hello, world!\n');
		t.is(response.headers['content-type'], 'text/x-wasm', 'replaced the upstream\'s text/plain');
		t.is(response.headers['x-wasm-added'], 'added');
		t.is(response.headers['x-wasm-replaced'], 'replaced');
		t.is(response.headers['x-wasm-echo'], 'e', 'the request\'s x-wasm-echo, remembered');
		t.is(response.headers['x-chain'], 'hdr');
		t.is(response.headers['x-envoy-upstream-service-time'], undefined, 'removed from the router\'s response');
		t.deepEqual(logged, ['chain request hdr', 'chain response hdr']);

		const withoutEcho = await box.request('/h');
		t.is(withoutEcho.headers['x-wasm-echo'], '-', 'no x-wasm-echo in the request → -');
		t.is(withoutEcho.headers['x-wasm-replaced'], 'replaced', 'added when the client sent none');
		t.is((await box.upstream.requests())[1]?.headers['x-wasm-replaced'], 'replaced', 'added to the request when absent');
	});
}
