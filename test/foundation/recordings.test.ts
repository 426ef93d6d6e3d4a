/**
 * The app's recordings are bounded (a ring of the latest requests) while the count stays exact, on every
 * path a user reads them: in process, over the control API (docker runtime), and from `meshbox up`.
 */
import test from 'ava';
import got from 'got';
import { UpstreamControlServer } from '../../src/upstream/control.ts';
import { controlClient } from '../../src/upstream/control-client.ts';
import { defaultMaxRecordings, maxRecordingsFromEnv, RecordingUpstream, recordingsOf } from '../../src/upstream/recording-server.ts';
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
	const cli = RunningCli.start(['up', '--port', '0', '--admin-port', '0', '--config', 'test/foundation/no-plugins.meshbox.yaml']);
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
