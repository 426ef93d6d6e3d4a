/**
 * Run only by test/scenario/conformance-report.test.ts, in a child ava (conformance.config.mjs here): a
 * conformance cell that fails on purpose, with the conformance tests' own sandboxFor (test/conformance/helpers.ts),
 * so the parent can check that it leaves the debug report a plugin author's failing test leaves.
 */
import test from 'ava';
import { cell, fixtureFor } from '../../../scripts/conformance-matrix.ts';
import { sandboxFor } from '../../conformance/helpers.ts';

test(cell('rust', 'headers', 'a conformance cell that fails on purpose'), async t => {
	const box = await sandboxFor(t, { plugins: [{ name: 'headers', wasm: fixtureFor('rust', 'headers') }] });
	t.is((await box.request('/')).status, 599, 'deliberately wrong');
});
