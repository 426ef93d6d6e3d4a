/**
 * Conformance: trailers (fixtures/plugins/CONFORMANCE.md "trailers"). The plugin logs and edits request
 * trailers and adds a response trailer from its last response body callback. meshbox enables HTTP/1.1
 * trailers on the connection manager and the clusters, so both HTTP/2 and chunked HTTP/1.1 carry them.
 */
import test from 'ava';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { loggedDuring, sandboxFor } from './helpers.ts';

const requestTrailers = { 'x-client-trailer': 'two', 'x-wasm-remove': 'gone' };
const trailerLogs = ['request trailer x-client-trailer: two', 'request trailer x-wasm-remove: gone'];

for (const sdk of sdksFor('trailers')) {
	test(cell(sdk, 'trailers', 'HTTP/2: request trailers edited, a response trailer added'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'trailers', wasm: fixtureFor(sdk, 'trailers') }] });
		const [response, logged] = await loggedDuring(box, async () => box.request('/t', { method: 'POST', body: 'abc', trailers: requestTrailers, http2: true }), { plugin: 'trailers', level: 'info' });
		t.is(response.httpVersion, '2');
		t.is(response.status, 200);
		t.is(response.body, 'Hello, world!\n');
		t.is(response.trailers['x-wasm-response-trailer'], 'added');
		t.deepEqual(logged, trailerLogs, 'each request trailer logged, in order');
		const [upstream] = await box.upstream.requests();
		t.is(upstream?.body, 'abc');
		t.deepEqual(upstream?.trailers, { 'x-client-trailer': 'two', 'x-wasm-request-trailer': 'added' }, 'one trailer added, x-wasm-remove removed');

		const get = await box.request('/t', { http2: true });
		t.is(get.status, 200);
		t.is(get.trailers['x-wasm-response-trailer'], 'added', 'also without a request body');
		t.deepEqual((await box.upstream.requests())[1]?.trailers, {}, 'no request trailers: the plugin adds none');
	});

	test(cell(sdk, 'trailers', 'HTTP/1.1 chunked: request trailers edited'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'trailers', wasm: fixtureFor(sdk, 'trailers') }] });
		const [response, logged] = await loggedDuring(box, async () => box.request('/t', { method: 'POST', body: 'abc', trailers: requestTrailers }), { plugin: 'trailers', level: 'info' });
		t.is(response.httpVersion, '1.1');
		t.is(response.status, 200);
		t.is(response.body, 'Hello, world!\n');
		t.deepEqual(logged, trailerLogs);
		const [upstream] = await box.upstream.requests();
		t.is(upstream?.body, 'abc');
		t.deepEqual(upstream?.trailers, { 'x-client-trailer': 'two', 'x-wasm-request-trailer': 'added' });
		// The hello-world upstream answers with content-length; over HTTP/1.1 such a reply cannot carry the
		// trailer the plugin adds (CONFORMANCE.md: the client gets it only when the upstream reply is chunked).
		t.is(response.trailers['x-wasm-response-trailer'], undefined);
	});
}
