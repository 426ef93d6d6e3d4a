/**
 * The docker runtime's upstream keeps a bounded ring of recordings too (MESHBOX_MAX_RECORDINGS and
 * MESHBOX_MAX_RECORDING_BYTES reach the container), and `hits()` over its control API counts every request,
 * dropped ones included.
 */
import { startSandbox } from '../../src/index.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

// Each test file runs in a process of its own: the variable is this file's only. Room for one 1 MiB body head.
const recordingBytes = 1.5 * 1024 * 1024;
process.env.MESHBOX_MAX_RECORDING_BYTES = String(recordingBytes);

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

test('large POSTs: the container keeps body heads within MESHBOX_MAX_RECORDING_BYTES and says what it cut', async t => {
	const box = await startSandbox({ runtime: 'docker' });
	t.teardown(async () => box.stop());
	const body = 'x'.repeat(4_000_000);
	for (const path of ['/a', '/b', '/c']) {
		t.is((await box.request(path, { method: 'POST', body })).status, 200);
	}

	const recorded = await box.upstream.requests();
	t.deepEqual(recorded.map(request => request.path), ['/c'], 'one 1 MiB head fits the budget: the newest');
	t.like(recorded[0], { bodyTruncated: true, bodySize: 4_000_000 });
	t.is(recorded[0]?.body.length, 1024 * 1024);
	t.is(await box.upstream.hits(), 3);
});
