/**
 * Conformance: chain (fixtures/plugins/CONFORMANCE.md "chain"). Two filters `first` and `second` built from
 * the same `<sdk>-headers` wasm: requests pass them in order, responses in reverse order.
 */
import test from 'ava';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { loggedDuring, sandboxFor } from './helpers.ts';

for (const sdk of sdksFor('chain')) {
	test(cell(sdk, 'chain', 'two filters: request order first, second; response order second, first'), async t => {
		const wasm = fixtureFor(sdk, 'chain');
		const box = await sandboxFor(t, { plugins: [{ name: 'first', wasm }, { name: 'second', wasm }] });
		const [response, logged] = await loggedDuring(box, async () => box.request('/chain', { headers: { 'x-wasm-echo': 'echo-me' } }), { level: 'info' });

		const [upstream] = await box.upstream.requests();
		t.is(upstream?.headers['x-chain'], 'first, second', 'request filters run in order');
		t.is(upstream?.headers['x-wasm-added'], 'added, added');
		t.is(response.status, 200);
		t.is(response.headers['x-chain'], 'second, first', 'response filters run in reverse order');
		t.is(response.headers['x-wasm-added'], 'added, added');
		t.is(response.headers['x-wasm-echo'], 'echo-me, echo-me');
		t.is(response.headers['x-wasm-replaced'], 'replaced');
		t.deepEqual(logged, ['chain request first', 'chain request second', 'chain response second', 'chain response first']);
		t.deepEqual((await box.logs({ plugin: 'second', message: 'chain' })).map(entry => entry.message), ['chain request second', 'chain response second'], 'each line names its filter');
	});
}
