/**
 * The app's recordings are bounded (the latest requests, by count and by bytes) while the count stays exact,
 * on every path a user reads them: in process, over the control API (docker runtime), and from `meshbox up`.
 */
import test from 'ava';
import got from 'got';
import { startSandbox } from '../../src/index.ts';
import { UpstreamControlServer } from '../../src/upstream/control.ts';
import { controlClient } from '../../src/upstream/control-client.ts';
import {
	defaultMaxRecordingBytes, defaultMaxRecordings, maxRecordedBodyBytes, maxRecordingBytesFromEnv, maxRecordingsFromEnv, RecordingUpstream, recordingsOf,
} from '../../src/upstream/recording-server.ts';
import { RunningCli } from '../helpers/cli.ts';

async function send(upstream: RecordingUpstream, paths: readonly string[]): Promise<void> {
	for (const path of paths) {
		await got(`http://127.0.0.1:${upstream.address.port}${path}`, { retry: { limit: 0 } });
	}
}

test('more requests than the bound: requests() has the newest, hits() counts every one; clear() forgets both', async t => {
	const upstream = await RecordingUpstream.start({ maxRecordings: 3 });
	t.teardown(async () => upstream.stop());

	await send(upstream, ['/1', '/2', '/3', '/4', '/5', '/6', '/7']);
	t.deepEqual(upstream.requests().map(request => request.path), ['/5', '/6', '/7'], 'the newest three, oldest first');
	t.is(upstream.hits, 7, 'dropped requests are still counted');

	upstream.clear();
	t.deepEqual(upstream.requests(), []);
	t.is(upstream.hits, 0);
	await send(upstream, ['/after']);
	t.deepEqual(upstream.requests().map(request => request.path), ['/after']);
	t.is(upstream.hits, 1);
});

test('over the control API (how the docker runtime reads them) the count stays exact too', async t => {
	const upstream = await RecordingUpstream.start({ maxRecordings: 2 });
	const control = await UpstreamControlServer.start(recordingsOf(upstream));
	t.teardown(async () => Promise.all([upstream.stop(), control.stop()]));
	const recordings = controlClient(`http://127.0.0.1:${control.address.port}`);

	await send(upstream, ['/a', '/b', '/c', '/d', '/e']);
	t.deepEqual((await recordings.requests()).map(request => request.path), ['/d', '/e']);
	t.is(await recordings.hits(), 5);
	await recordings.clear();
	t.is(await recordings.hits(), 0);
	t.deepEqual(await recordings.requests(), []);
});

test('the bound is 1000 unless MESHBOX_MAX_RECORDINGS says otherwise; a bad value is a usage error', t => {
	t.is(defaultMaxRecordings, 1000);
	t.is(maxRecordingsFromEnv({}), 1000);
	t.is(maxRecordingsFromEnv({ MESHBOX_MAX_RECORDINGS: '25' }), 25);
	for (const bad of ['0', '-1', 'lots', '1.5']) {
		const error = t.throws(() => maxRecordingsFromEnv({ MESHBOX_MAX_RECORDINGS: bad }));
		t.like(error, { code: 'USAGE' });
		t.regex(error?.message ?? '', /MESHBOX_MAX_RECORDINGS/);
	}
});

test('`meshbox up` prints where to read what the app received, and DELETE there clears it', async t => {
	// No plugin: every request reaches the app.
	const cli = RunningCli.start(['up', '--port', '0', '--admin-port', '0', '--config', 'test/upstream/no-plugins.meshbox.yaml']);
	try {
		const [, url] = await cli.waitForLine(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/);
		const [, recordingsUrl] = await cli.waitForLine(/^meshbox: what the app received: curl (http:\/\/127\.0\.0\.1:\d+\/recordings) {3}\(clear: curl -X DELETE \1\)$/);
		for (const path of ['/one', '/two']) {
			t.is((await got(`${url!}${path}`, { retry: { limit: 0 } })).statusCode, 200);
		}

		const recorded = await got(recordingsUrl!, { retry: { limit: 0 } });
		t.deepEqual(JSON.parse(recorded.body).map((request: { path: string }) => request.path), ['/one', '/two']);
		t.is(recorded.headers['x-meshbox-hits'], '2');

		t.is((await got.delete(recordingsUrl!, { retry: { limit: 0 } })).statusCode, 204);
		const cleared = await got(recordingsUrl!, { retry: { limit: 0 } });
		t.deepEqual(JSON.parse(cleared.body), []);
		t.is(cleared.headers['x-meshbox-hits'], '0');
	} finally {
		t.is(await cli.stop('SIGTERM'), 0, cli.lines.join('\n'));
	}
});

const fourMegabytes = 'x'.repeat(4 * 1000 * 1000);

/** POSTs `count` bodies of 4 MB to `url`, one after the other. */
async function postLargeBodies(url: string, count: number): Promise<void> {
	for (let index = 0; index < count; index++) {
		const response = await got.post(`${url}/upload-${index}`, { body: fourMegabytes, retry: { limit: 0 } });
		if (response.statusCode !== 200) {
			throw new Error(`POST ${index}: ${response.statusCode}`);
		}
	}
}

test('issue #20: 150 POSTs of 4 MB keep the recordings within 64 MiB, each a 1 MiB head saying what was cut, and /recordings answers', async t => {
	t.timeout(120_000);
	const upstream = await RecordingUpstream.start({ maxRecordingBytes: defaultMaxRecordingBytes });
	const control = await UpstreamControlServer.start(recordingsOf(upstream));
	t.teardown(async () => Promise.all([upstream.stop(), control.stop()]));
	const rssBefore = process.memoryUsage().rss;

	await postLargeBodies(`http://127.0.0.1:${upstream.address.port}`, 150);
	const rssAfter = process.memoryUsage().rss;

	// Before the byte bound every body was kept whole (600 MB) and this answered 502 "Invalid string length".
	const response = await got(`http://127.0.0.1:${control.address.port}/recordings`, { retry: { limit: 0 }, throwHttpErrors: false });
	t.is(response.statusCode, 200, response.body.slice(0, 200));
	t.is(response.headers['x-meshbox-hits'], '150', 'every request is counted');
	const recorded = JSON.parse(response.body) as Array<{ path: string; body: string; bodyTruncated?: boolean; bodySize?: number }>;
	t.true(response.body.length <= defaultMaxRecordingBytes, `/recordings is ${response.body.length} bytes`);
	t.true(recorded.length > 0 && recorded.length < 150, `${recorded.length} kept`);
	t.is(recorded.at(-1)!.path, '/upload-149', 'the newest are kept');
	for (const request of recorded) {
		t.is(request.body.length, maxRecordedBodyBytes);
		t.true(request.bodyTruncated);
		t.is(request.bodySize, fourMegabytes.length);
	}

	t.log(`${recorded.length} recordings kept, /recordings ${(response.body.length / 2 ** 20).toFixed(1)} MiB, harness RSS ${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MiB`);
});

test.serial('through real Envoy: MESHBOX_MAX_RECORDING_BYTES bounds the app\'s recordings of large POSTs; small bodies stay whole', async t => {
	t.timeout(120_000);
	// Read when the sandbox starts its upstream; ava runs each test file in a process of its own.
	const budget = 3 * 1024 * 1024;
	process.env.MESHBOX_MAX_RECORDING_BYTES = String(budget);
	const box = await startSandbox({ plugins: [] });
	t.teardown(async () => box.stop());
	delete process.env.MESHBOX_MAX_RECORDING_BYTES;

	t.is((await box.request('/small', { method: 'POST', body: 'small body' })).status, 200);
	await postLargeBodies(box.url, 20);

	const recorded = await box.upstream.requests();
	const keptBytes = recorded.reduce((sum, request) => sum + request.body.length, 0);
	t.true(keptBytes <= budget, `the kept bodies hold ${keptBytes} bytes, the budget is ${budget}`);
	t.is(await box.upstream.hits(), 21);
	t.deepEqual(recorded.map(request => request.path), ['/upload-18', '/upload-19'], 'the newest that fit, oldest dropped first');
	t.like(recorded.at(-1), { bodyTruncated: true, bodySize: 4_000_000 });

	await box.upstream.clear();
	t.is((await box.request('/small', { method: 'POST', body: 'small body' })).status, 200);
	const [small] = await box.upstream.requests();
	t.is(small?.body, 'small body');
	t.false('bodyTruncated' in small!, 'a body within the head is kept whole, without the flag');
});

test('the budget bounds /recordings as sent: bodies of NUL bytes (6 characters each as JSON) are counted as JSON', async t => {
	const budget = 4 * 1024 * 1024;
	const upstream = await RecordingUpstream.start({ maxRecordingBytes: budget });
	const control = await UpstreamControlServer.start(recordingsOf(upstream));
	t.teardown(async () => Promise.all([upstream.stop(), control.stop()]));
	const zeros = Buffer.alloc(300 * 1024);
	for (let index = 0; index < 20; index++) {
		await got.post(`http://127.0.0.1:${upstream.address.port}/zeros-${index}`, { body: zeros, retry: { limit: 0 } });
	}

	const response = await got(`http://127.0.0.1:${control.address.port}/recordings`, { retry: { limit: 0 } });
	const recorded = JSON.parse(response.body) as Array<{ path: string; body: string }>;
	t.true(Buffer.byteLength(response.body) <= budget, `/recordings is ${Buffer.byteLength(response.body)} bytes, the budget ${budget}`);
	t.is(recorded.at(-1)?.path, '/zeros-19');
	t.is(recorded.at(-1)?.body, '\0'.repeat(300 * 1024), 'a body within the head is kept whole, NUL bytes and all');
	t.is(response.headers['x-meshbox-hits'], '20');
});

test('the byte budget is 64 MiB unless MESHBOX_MAX_RECORDING_BYTES says otherwise; a bad value is a usage error', t => {
	t.is(maxRecordingBytesFromEnv({}), 64 * 1024 * 1024);
	t.is(maxRecordingBytesFromEnv({ MESHBOX_MAX_RECORDING_BYTES: '1048576' }), 1_048_576);
	for (const bad of ['0', '-1', '64MiB', '1.5']) {
		const error = t.throws(() => maxRecordingBytesFromEnv({ MESHBOX_MAX_RECORDING_BYTES: bad }));
		t.like(error, { code: 'USAGE' });
		t.regex(error?.message ?? '', /MESHBOX_MAX_RECORDING_BYTES/);
	}
});
