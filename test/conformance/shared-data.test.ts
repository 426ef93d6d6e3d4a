/**
 * Conformance: shared-data (fixtures/plugins/CONFORMANCE.md "shared-data"). Two filters in one VM
 * (`vm_id: shared`) increment one shared counter with compare-and-swap, and show that a write with a stale
 * CAS is refused.
 */
import test from 'ava';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { loggedDuring, sandboxFor } from './helpers.ts';

for (const sdk of sdksFor('shared-data')) {
	test(cell(sdk, 'shared-data', 'two filters share a counter; a stale CAS is refused'), async t => {
		const wasm = fixtureFor(sdk, 'shared-data');
		const box = await sandboxFor(t, { plugins: [{ name: 'first', wasm, vmId: 'shared' }, { name: 'second', wasm, vmId: 'shared' }] });

		const [one, oneLogs] = await loggedDuring(box, async () => box.request('/'), { level: 'info' });
		t.is(one.status, 200);
		t.is(one.headers['x-shared-first'], '1');
		t.is(one.headers['x-shared-stale-cas-first'], 'skipped', 'the key was absent: CAS 0 would always overwrite');
		t.is(one.headers['x-shared-second'], '2', 'the second filter sees the first one\'s write');
		t.is(one.headers['x-shared-stale-cas-second'], 'CasMismatch');
		t.deepEqual(oneLogs, ['shared meshbox_counter = 1', 'shared meshbox_counter = 2']);
		const [upstreamOne] = await box.upstream.requests();
		t.is(upstreamOne?.headers['x-shared-first'], '1');
		t.is(upstreamOne?.headers['x-shared-second'], '2');

		const two = await box.request('/');
		t.is(two.headers['x-shared-first'], '3', 'the value survives between requests');
		t.is(two.headers['x-shared-stale-cas-first'], 'CasMismatch');
		t.is(two.headers['x-shared-second'], '4');
		t.is(two.headers['x-shared-stale-cas-second'], 'CasMismatch');
		t.is((await box.upstream.requests())[1]?.headers['x-shared-second'], '4');
	});
}
