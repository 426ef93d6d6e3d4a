/**
 * Run only by test/scenario/report.test.ts, in a child ava (titles.config.mjs here): passing scenarios with
 * sandboxFor() whose titles are paths. A passing test removes its older report: these must remove nothing else.
 */
import test from 'ava';
import { sandboxFor } from 'meshbox';

const seed = { name: 'my-wasm-plugin', wasm: 'fixtures/plugins/seed-rust/seed-rust.wasm' };

for (const title of ['..', '.', '/', '../..']) {
	test.serial(title, async t => {
		const box = await sandboxFor(t, { plugins: [seed] });
		t.is((await box.request('/hello')).status, 200);
	});
}
