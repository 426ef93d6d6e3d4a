/**
 * A plugin that asks another service before letting a request through (an `http_call`), told on every
 * runtime: the service is a mock the scenario controls, so the test sees both what the plugin asked and what
 * the client finally got. The plugin is the conformance fixture `rust-http-call` (fixtures/plugins/CONFORMANCE.md):
 * it calls the cluster named by its configuration, holds the request, then forwards it with the call's status.
 */
import test from 'ava';
import { assertShortCircuit, mockService, stories } from 'meshbox';

// Await the runtimes before declaring anything: ava wants every test and hook declared synchronously.
const story = await stories(test);

const plugin = { name: 'auth', wasm: 'fixtures/plugins/rust-http-call/rust-http-call.wasm', configuration: 'authz' };

story('the plugin calls the auth service, then the request reaches the app with its verdict', async (t, { sandbox }) => {
	const authz = mockService(request => ({ status: request.headers['x-wasm-http-call'] === '1' ? 200 : 400, headers: { 'x-mock-reply': 'checked' }, body: 'allowed' }));
	const box = await sandbox({ plugins: [plugin], clusters: { authz } });

	const response = await box.request('/orders', { headers: { host: 'shop.example.com' } });
	t.is(response.status, 200);
	t.is(response.body, 'Hello, world!\n');
	t.is(response.headers['x-http-call-body'], 'allowed');

	const [call] = await box.mocks.authz.requests();
	t.like(call, { method: 'GET', path: '/' });
	t.is(call?.headers.host, 'authz', 'the plugin named the cluster as :authority');
	const [forwarded] = await box.upstream.requests();
	t.is(forwarded?.headers['x-http-call-status'], '200', 'the app saw the verdict the plugin added');
	t.truthy(await box.waitForLog({ plugin: 'auth', message: 'http_call response: status=200 body=allowed' }, 2000));
});

story('a call to a cluster that does not exist fails at once, and the app is never reached', async (t, { sandbox }) => {
	const box = await sandbox({ plugins: [{ ...plugin, configuration: 'no-such-cluster' }] });

	const response = await box.request('/orders');
	await assertShortCircuit(t, response, box, 500);
	t.is(response.body, 'http_call failed: BadArgument\n', 'Envoy refused the call synchronously with BadArgument');
});
