/**
 * Run only by test/scenario/report.test.ts, in a child ava (ava.config.mjs here): one scenario that fails on
 * purpose and one that passes, both with sandboxFor(), so the parent can check which leaves a debug report.
 */
import test from 'ava';
import { sandboxFor, stories } from 'meshbox';

const seed = { name: 'my-wasm-plugin', wasm: 'fixtures/plugins/seed-rust/seed-rust.wasm' };

test('a scenario that fails on purpose', async t => {
	const box = await sandboxFor(t, { plugins: [seed] });
	await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	t.is((await box.request('/hello')).body, 'not what the plugin says', 'deliberately wrong');
});

test('a scenario that passes', async t => {
	const box = await sandboxFor(t, { plugins: [seed] });
	t.is((await box.request('/hello')).status, 200);
});

const story = await stories(test);
story('a story that fails on purpose', async (t, { sandbox }) => {
	const box = await sandbox({ plugins: [seed] });
	t.is((await box.request('/story')).status, 599, 'deliberately wrong');
});
