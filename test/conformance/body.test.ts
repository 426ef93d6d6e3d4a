/**
 * Conformance: body (fixtures/plugins/CONFORMANCE.md "body"). The plugin buffers both bodies and rewrites
 * each once: `x-wasm-body-op` selects append, prepend or (default) replace = upper-case a–z.
 */
import test from 'ava';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { loggedDuring, sandboxFor } from './helpers.ts';

for (const sdk of sdksFor('body')) {
	test(cell(sdk, 'body', 'request and response bodies rewritten: replace, append, prepend'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'body', wasm: fixtureFor(sdk, 'body') }] });
		const cases = [
			{ op: undefined, upstream: 'HELLO BODY', client: 'HELLO, WORLD!\n', echoed: 'replace' },
			{ op: 'append', upstream: 'hello body[appended]', client: 'Hello, world!\n[appended]', echoed: 'append' },
			{ op: 'prepend', upstream: '[prepended]hello body', client: '[prepended]Hello, world!\n', echoed: 'prepend' },
		];
		for (const [index, { op, upstream, client, echoed }] of cases.entries()) {
			const [response, logged] = await loggedDuring(box, async () => box.request('/b', {
				method: 'POST',
				headers: op ? { 'x-wasm-body-op': op } : {},
				body: 'hello body',
			}), { plugin: 'body', level: 'info' });
			const recorded = (await box.upstream.requests())[index];
			t.is(recorded?.body, upstream, `${echoed}: the upstream's body`);
			t.is(recorded?.headers['content-length'], undefined, `${echoed}: request content-length removed`);
			t.is(recorded?.headers['transfer-encoding'], 'chunked', `${echoed}: the request is sent chunked`);
			t.is(response.status, 200);
			t.is(response.body, client, `${echoed}: the client's body`);
			t.is(response.headers['content-length'], undefined, `${echoed}: response content-length removed`);
			t.is(response.headers['x-wasm-body-op'], echoed);
			t.deepEqual(logged, ['request body: hello body', 'response body size: 14']);
		}

		const [get, getLogs] = await loggedDuring(box, async () => box.request('/b'), { plugin: 'body', level: 'info' });
		t.is(get.body, 'HELLO, WORLD!\n', 'GET: the response body is still rewritten');
		t.is(get.headers['x-wasm-body-op'], 'replace');
		t.deepEqual(getLogs, ['response body size: 14'], 'GET: no request body, no request body log');
		t.is((await box.upstream.requests())[3]?.body, '');
	});
}
