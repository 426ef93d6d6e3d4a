/**
 * Conformance: timers (fixtures/plugins/CONFORMANCE.md "timers"). Every request is held in request
 * headers; the next tick of the root context's timer resumes all held requests.
 */
import test from 'ava';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { sandboxFor } from './helpers.ts';

for (const sdk of sdksFor('timers')) {
	test(cell(sdk, 'timers', 'requests held in request headers, resumed on the next tick'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'timers', wasm: fixtureFor(sdk, 'timers'), configuration: '200' }] });
		const responses = await Promise.all([box.request('/held-1'), box.request('/held-2')]);
		for (const response of responses) {
			t.is(response.status, 200);
			t.is(response.body, 'Hello, world!\n');
			t.is(response.headers['x-wasm-resumed-by'], 'tick');
		}

		t.is(await box.upstream.hits(), 2);
		const messages = (await box.logs({ plugin: 'timers', level: 'info' })).map(entry => entry.message);
		t.deepEqual(messages.filter(message => message.startsWith('holding request')).sort(), ['holding request 2', 'holding request 3'], 'context ids of a fresh sandbox: 2, 3');
		t.deepEqual(messages.filter(message => message.startsWith('resumed request')).sort(), ['resumed request 2 on tick', 'resumed request 3 on tick']);
		for (const id of [2, 3]) {
			t.true(messages.indexOf(`holding request ${id}`) < messages.indexOf(`resumed request ${id} on tick`), `request ${id}: held, then resumed`);
		}
	});
}
