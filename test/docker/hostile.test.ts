/**
 * A request timeout on the docker runtime (issue #19, item 8): a code like every meshbox error, and
 * PLUGIN_STUCK naming the plugin when Envoy's watchdog saw a worker stuck in a plugin's loop.
 */
import { startSandbox } from '../../src/index.ts';
import { fixturePlugin } from '../helpers/paths.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test('a plugin that loops in request headers: PLUGIN_STUCK naming it; a paused request: REQUEST_TIMEOUT naming it', async t => {
	for (const [mode, code, message] of [
		['loop', 'PLUGIN_STUCK', /^GET \/: no response within 3000 ms: the plugin hostile did not return from a callback/],
		['pause', 'REQUEST_TIMEOUT', /^GET \/: no response within 3000 ms \(through the plugin hostile; none was stuck in a callback\)$/],
	] as const) {
		const box = await startSandbox({ runtime: 'docker', plugins: [{ name: 'hostile', wasm: fixturePlugin('rust-hostile'), configuration: mode }] });
		try {
			await t.throwsAsync(box.request('/', { timeoutMs: 3000 }), { code, message }, mode);
		} finally {
			await box.stop();
		}
	}
});
