/**
 * The docker runtime's upstream container serves what the local runtime's apps serve (issue #20 item 18): a
 * body in timed chunks with trailers (the plugin sees each chunk), `upstream: delayMs`, and an HTTP/2 app
 * answering a plugin's grpc_call with gRPC trailers.
 */
import { startSandbox } from '../../src/index.ts';
import { fixturePlugin } from '../helpers/paths.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test('chunks, trailers, an h2 app and upstream delayMs through the upstream container', async t => {
	t.timeout(180_000);
	const box = await startSandbox({
		runtime: 'docker',
		plugins: [{ name: 'chunks', wasm: fixturePlugin('rust-body-chunks') }],
		upstream: { chunks: [{ data: 'one,' }, { data: 'two', delayMs: 300 }], trailers: { 'x-checksum': 'abc' } },
		apps: {
			echo: { protocol: 'http2', headers: { 'content-type': 'application/grpc' }, body: '\0\0\0\0\x02hi', trailers: { 'grpc-status': '0' } },
			slow: { delayMs: 5000 },
		},
		routes: [{ hosts: ['slow.example.com'], app: 'slow' }],
	});
	t.teardown(async () => box.stop());

	const before = (await box.logs()).length;
	const streamed = await box.request('/stream');
	t.is(streamed.body, 'one,two');
	t.is(streamed.trailers['x-checksum'], 'abc');
	const logged = (await box.logs()).slice(before).map(entry => entry.message);
	t.deepEqual(logged.filter(message => /^response body chunk \d+: size=[1-9]/.test(message)).map(message => message.replace(/^.* data=/, '')), ['one,', 'two'], logged.join('\n'));

	const grpc = await box.request('/', { headers: { 'x-call-cluster': 'echo', 'x-call-kind': 'grpc' } });
	t.is(grpc.headers['x-call-status'], '0', grpc.body);
	t.is(grpc.body, 'hi');
	t.is((await box.apps.echo!.requests())[0]?.path, '/meshbox.Echo/Say');

	await t.throwsAsync(box.request('/late', { headers: { host: 'slow.example.com' }, timeoutMs: 500 }));
	t.deepEqual((await box.apps.slow!.requests()).map(request => request.path), ['/late']);
});
