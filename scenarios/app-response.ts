/**
 * The app behind Envoy answers what the sandbox spec says (`upstream:`), on every runtime, so a scenario can
 * put a plugin in front of the response it cares about: an error status, a JSON body, trailers.
 */
import test from 'ava';
import { stories } from 'meshbox';

// Await the runtimes before declaring anything: ava wants every test and hook declared synchronously.
const story = await stories(test);

story('the app answers with the status, headers and body of the spec', async (t, { sandbox }) => {
	const box = await sandbox({ upstream: { status: 503, headers: { 'content-type': 'application/json', 'retry-after': '7' }, body: '{"error":"busy"}' } });
	const response = await box.request('/anything');
	t.is(response.status, 503);
	t.is(response.headers['content-type'], 'application/json');
	t.is(response.headers['retry-after'], '7');
	t.is(response.body, '{"error":"busy"}');
	t.is(await box.upstream.hits(), 1);
});

story('response trailers from the app reach the plugin\'s trailers callback and the client', async (t, { sandbox }) => {
	const box = await sandbox({
		upstream: { body: 'streamed\n', trailers: { 'x-app-checksum': 'abc123' } },
		plugins: [{ name: 'trailers', wasm: 'fixtures/plugins/rust-trailers/rust-trailers.wasm' }],
	});
	const response = await box.request('/stream', { http2: true });
	t.is(response.status, 200);
	t.is(response.body, 'streamed\n');
	t.is(response.trailers['x-app-checksum'], 'abc123', 'the app\'s trailer passed through Envoy');
	t.is(response.trailers['x-wasm-response-trailer'], 'added', 'the plugin added its trailer in on_response_trailers');
	t.truthy(await box.waitForLog({ plugin: 'trailers', message: 'response trailers: 1' }, 2000), 'the plugin saw the app\'s one trailer');
});
