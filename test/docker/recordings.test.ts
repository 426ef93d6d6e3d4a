/**
 * The docker runtime's upstream keeps a bounded ring of recordings too (MESHBOX_MAX_RECORDINGS reaches the
 * container), and `hits()` over its control API counts every request, dropped ones included.
 */
import { startSandbox } from '../../src/index.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test('more requests than the bound: the newest are kept, every one is counted, clear() forgets both', async t => {
	// Each test file runs in a process of its own: the variable is this file's only.
	process.env.MESHBOX_MAX_RECORDINGS = '2';
	const box = await startSandbox({ runtime: 'docker' });
	t.teardown(async () => box.stop());

	for (const path of ['/1', '/2', '/3', '/4']) {
		t.is((await box.request(path)).status, 200);
	}

	t.deepEqual((await box.upstream.requests()).map(request => request.path), ['/3', '/4']);
	t.is(await box.upstream.hits(), 4);
	await box.upstream.clear();
	t.is(await box.upstream.hits(), 0);
	t.deepEqual(await box.upstream.requests(), []);
});
