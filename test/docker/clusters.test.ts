/**
 * A plugin's http_call to a scenario's mock service works on the docker runtime too: the mock listens on
 * this machine's loopback and Envoy in its container reaches it through meshbox's relay.
 */
import { mockService, startSandbox } from '../../src/index.ts';
import { fixturePlugin } from '../helpers/paths.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test('http_call from the Envoy container reaches a loopback mock service', async t => {
	const box = await startSandbox({
		runtime: 'docker',
		plugins: [{ name: 'caller', wasm: fixturePlugin('rust-http-call'), configuration: 'auth' }],
		clusters: { auth: mockService(request => ({ status: 200, headers: { 'x-mock-reply': 'yes' }, body: `seen ${request.path}` })) },
	});
	try {
		const response = await box.request('/app', { headers: { 'x-http-call-path': '/check' } });
		t.is(response.status, 200, response.body);
		t.is(response.headers['x-http-call-status'], '200');
		t.is(response.headers['x-http-call-body'], 'seen /check');
		t.is(response.headers['x-http-call-mock-reply'], 'yes');
		const [call] = await box.mocks.auth!.requests();
		t.is(call?.path, '/check');
		t.is(call?.headers['x-wasm-http-call'], '1');
		const [appRequest] = await box.upstream.requests();
		t.is(appRequest?.headers['x-http-call-status'], '200', 'the plugin resumed the request to the app');
	} finally {
		await box.stop();
	}
});
