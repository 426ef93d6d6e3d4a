/**
 * `measure()` on the docker runtime: Envoy's memory and CPU come from the container's statistics (the daemon's,
 * so a remote daemon works too). The leaking fixture's 4 KiB per request shows in them. The leak verdict
 * itself is test/measure's (the daemon refreshes statistics about once a second, so a short run here has few
 * samples: README "What your plugin costs").
 */
import { measure } from '../../src/index.ts';
import { fixturePlugin } from '../helpers/paths.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test('measure() on the docker runtime reads the Envoy container\'s memory and CPU: the leak\'s growth shows, the baseline\'s does not', async t => {
	const requests = 6000;
	const result = await measure({ runtime: 'docker', plugins: [fixturePlugin('rust-leak')], requests });
	t.is(result.runtime, 'docker');
	t.deepEqual(result.chains.map(chain => chain.name), ['baseline', 'plugins']);
	const [baseline, plugins] = result.chains;
	t.is(plugins!.requests, requests);
	t.true(plugins!.memory.samples.length >= 2, 'sampled at the start and the end at least');
	const grown = plugins!.memory.rssEndBytes - plugins!.memory.rssStartBytes;
	t.true(grown > requests * 2048, `the container's memory grew by about ${requests} × 4 KiB: ${grown} bytes`);
	t.true(baseline!.memory.rssEndBytes - baseline!.memory.rssStartBytes < requests * 512, 'without the plugin it did not');
	t.true(plugins!.cpu.usPerRequest > 0 && baseline!.cpu.usPerRequest > 0, 'CPU time from the container\'s statistics');
});
