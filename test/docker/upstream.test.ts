/**
 * A request that reaches the app: with no plugins, the upstream container records it and `box.upstream`
 * reads the recording over the upstream's control API, as the local runtime reads it in process.
 */
import { assertReachedUpstream, startSandbox, type Sandbox } from '../../src/index.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

let box: Sandbox;
test.before(async () => {
	box = await startSandbox({ runtime: 'docker' });
});
test.after.always(async () => box?.stop());

test.serial('the upstream answers and records method, path, headers and body', async t => {
	await box.upstream.clear();
	const response = await box.request('/orders/42?expand=1', {
		method: 'POST',
		headers: { host: 'shop.example.com', 'x-test': 'docker', 'content-type': 'text/plain' },
		body: 'payload',
	});
	t.is(response.status, 200);
	t.is(response.body, 'Hello, world!\n');
	await assertReachedUpstream(t, response, box);

	const [recorded, ...more] = await box.upstream.requests();
	t.deepEqual(more, []);
	t.is(recorded?.method, 'POST');
	t.is(recorded?.path, '/orders/42?expand=1');
	t.is(recorded?.headers.host, 'shop.example.com');
	t.is(recorded?.headers['x-test'], 'docker');
	t.is(recorded?.body, 'payload');
	t.truthy(recorded?.headers['x-request-id'], 'Envoy added its request id on the way');
	t.true(recorded?.rawHeaders.includes('x-test'));
});

test.serial('clear() forgets the recordings; hits() counts', async t => {
	await box.request('/one');
	await box.request('/two');
	t.true(await box.upstream.hits() >= 2);
	await box.upstream.clear();
	t.is(await box.upstream.hits(), 0);
	await box.request('/three');
	t.deepEqual((await box.upstream.requests()).map(request => request.path), ['/three']);
});
