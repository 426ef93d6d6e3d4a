/**
 * Conformance: local-reply (fixtures/plugins/CONFORMANCE.md "local-reply"). The plugin answers from the
 * request headers phase (the upstream is not reached) or replaces the upstream's answer from the response
 * headers phase.
 */
import test from 'ava';
import { assertShortCircuit } from 'meshbox';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { loggedDuring, sandboxFor } from './helpers.ts';

for (const sdk of sdksFor('local-reply')) {
	test(cell(sdk, 'local-reply', 'replies from request and response headers'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'reply', wasm: fixtureFor(sdk, 'local-reply') }] });
		const statusLogs = { plugin: 'reply', level: 'info', message: 'response headers status' } as const;

		const [text, textLogs] = await loggedDuring(box, async () => box.request('/reply/request?q=1'), statusLogs);
		await assertShortCircuit(t, text, box, 403);
		t.is(text.headers['x-wasm-local-reply'], 'request');
		t.is(text.headers['content-type'], 'text/plain', 'added by Envoy');
		t.is(text.headers['content-length'], '26');
		t.is(text.body, 'denied in request headers\n');
		t.deepEqual(textLogs, ['response headers status 403'], 'the plugin sees its own reply');

		const [json, jsonLogs] = await loggedDuring(box, async () => box.request('/reply/request-json'), statusLogs);
		await assertShortCircuit(t, json, box, 418);
		t.is(json.headers['x-wasm-local-reply'], 'request');
		t.is(json.headers['content-type'], 'application/json', 'the plugin\'s own content-type');
		t.is(json.body, '{"phase":"request"}');
		t.deepEqual(jsonLogs, ['response headers status 418']);

		const [empty, emptyLogs] = await loggedDuring(box, async () => box.request('/reply/request-empty'), statusLogs);
		await assertShortCircuit(t, empty, box, 401);
		t.is(empty.headers['x-wasm-local-reply'], 'request');
		t.is(empty.headers['content-length'], '0');
		t.is(empty.headers['content-type'], undefined, 'no body, no content-type');
		t.is(empty.body, '');
		t.deepEqual(emptyLogs, ['response headers status 401']);

		const [replaced, replacedLogs] = await loggedDuring(box, async () => box.request('/reply/response'), statusLogs);
		t.is(replaced.status, 502);
		t.is(await box.upstream.hits(), 1, 'the upstream answered first');
		t.is(replaced.headers['x-wasm-local-reply'], 'response');
		t.is(replaced.headers['content-type'], 'text/plain');
		t.is(replaced.headers['x-envoy-upstream-service-time'], undefined, 'a local reply');
		t.is(replaced.body, 'replaced in response headers\n');
		t.deepEqual(replacedLogs, ['response headers status 200'], 'not called again for its own response-phase reply');

		await box.upstream.clear();
		const [passed, passedLogs] = await loggedDuring(box, async () => box.request('/other?reply/request'), statusLogs);
		t.is(passed.status, 200);
		t.is(passed.body, 'Hello, world!\n', 'the upstream\'s response, untouched');
		t.is(passed.headers['x-wasm-local-reply'], undefined);
		t.truthy(passed.headers['x-envoy-upstream-service-time']);
		t.is(await box.upstream.hits(), 1);
		t.deepEqual(passedLogs, ['response headers status 200']);
	});
}
