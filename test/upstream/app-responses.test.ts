/**
 * What apps and the default upstream answer beyond one fixed body (issue #20 item 18): a body streamed in
 * timed chunks (a plugin's on_http_response_body sees each one), trailers after it (the client and the
 * plugin's on_http_response_trailers see them), `delayMs` on `upstream:` as on `apps:`, and apps speaking
 * HTTP/2 (h2c) with gRPC-style trailers for a plugin's http_call / grpc_call. Real Envoy, a real plugin
 * (fixtures/plugins/rust-body-chunks, built from source).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { modelFromFile, modelFromSpec } from '../../src/compose/model.ts';
import { buildBootstrap, type JsonObject } from '../../src/envoy/bootstrap.ts';
import { MeshboxError } from '../../src/errors.ts';
import { mockService, type MockResponse } from '../../src/scenario/mock-service.ts';
import { loggedDuring, sandboxFor } from '../conformance/helpers.ts';
import { fixturePlugin, repoRoot } from '../helpers/paths.ts';
import { testPlacement } from '../helpers/placement.ts';

/** A program that streams a slow answer, stops its app mid-stream, and should then exit by itself. */
const stopMidStream = `
import http from 'node:http';
import { RecordingUpstream } from './src/upstream/recording-server.ts';
const app = await RecordingUpstream.start({ respond: () => ({ chunks: [{ data: 'first' }, { data: 'never', delayMs: 600000 }] }) });
http.get('http://127.0.0.1:' + app.address.port + '/', response => {
	response.once('data', () => { void app.stop().then(() => console.log('stopped')); });
	response.on('error', () => undefined);
});
`;

const bodyChunks = { name: 'chunks', wasm: fixturePlugin('rust-body-chunks') };

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-app-responses-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

/** The plugin's log lines about response body chunks that carried data, as `[data, end_of_stream]`. */
function chunksLogged(messages: readonly string[]): Array<[string, string]> {
	return messages.flatMap(message => {
		const match = /^response body chunk \d+: size=(\d+) end_of_stream=(\w+) data=(.*)$/s.exec(message);
		return match && match[1] !== '0' ? [[match[3]!, match[2]!] as [string, string]] : [];
	});
}

test('upstream: chunks reach the plugin one on_http_response_body call each, then trailers reach the plugin and the client', async t => {
	const box = await sandboxFor(t, {
		plugins: [bodyChunks],
		upstream: {
			chunks: [{ data: 'one,' }, { data: 'two,', delayMs: 300 }, { data: 'three', delayMs: 300 }],
			trailers: { 'x-checksum': 'abc123' },
		},
	});

	const [response, logged] = await loggedDuring(box, async () => box.request('/stream'));
	t.is(response.status, 200);
	t.is(response.body, 'one,two,three');
	t.is(response.headers['content-length'], undefined, 'streamed: no content-length');
	t.is(response.trailers['x-checksum'], 'abc123', 'the trailers reach the client (HTTP/1.1, chunked)');
	t.deepEqual(chunksLogged(logged), [['one,', 'false'], ['two,', 'false'], ['three', 'false']], logged.join('\n'));
	t.true(logged.includes('response trailer x-checksum: abc123'), logged.join('\n'));
});

test('an HTTP/2 app streams its chunks and native trailers through its h2 cluster, routed by host', async t => {
	const box = await sandboxFor(t, {
		plugins: [bodyChunks],
		apps: {
			h2stream: {
				protocol: 'http2',
				chunks: [{ data: 'alpha ' }, { data: 'beta', delayMs: 300 }],
				trailers: { 'x-done': 'yes' },
			},
		},
		routes: [{ hosts: ['h2.example.com'], app: 'h2stream' }],
	});

	const [response, logged] = await loggedDuring(box, async () => box.request('/h2', { headers: { host: 'h2.example.com' }, http2: true }));
	t.is(response.status, 200);
	t.is(response.body, 'alpha beta');
	t.is(response.trailers['x-done'], 'yes');
	t.deepEqual(chunksLogged(logged), [['alpha ', 'false'], ['beta', 'false']], logged.join('\n'));
	t.true(logged.includes('response trailer x-done: yes'), logged.join('\n'));
	const [recorded] = await box.apps.h2stream!.requests();
	t.is(recorded?.path, '/h2');
	t.is(recorded?.headers['x-meshbox-request-id'], response.requestId, 'the app recorded the request it got over HTTP/2');
});

test('an app stopped in the middle of a slow streamed answer leaves nothing holding its process open', async t => {
	// Before: the pending 10-minute wait for the next chunk kept Node alive after the app stopped (exit never came).
	const child = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', stopMidStream], { cwd: repoRoot, timeout: 60_000, reject: false });
	t.false(child.timedOut, 'the process exits once its app stopped');
	t.is(child.stdout, 'stopped', child.stderr);
});

test('upstream: delayMs holds the answer back (the request is recorded at once), as apps.<name>.delayMs does', async t => {
	const box = await sandboxFor(t, { plugins: [], upstream: { delayMs: 5000, body: 'late\n' } });
	// The client gives up long before the app answers; the app got the request all the same.
	await t.throwsAsync(box.request('/slow', { timeoutMs: 500 }));
	t.deepEqual((await box.upstream.requests()).map(request => request.path), ['/slow']);
});

test('an HTTP/2 app answers a plugin\'s http_call and grpc_call gRPC-style: grpc-status trailers and a framed message', async t => {
	const grpcHeaders = { 'content-type': 'application/grpc' };
	const box = await sandboxFor(t, {
		plugins: [bodyChunks],
		apps: {
			// One gRPC message, `hi`: flag 0, length 2 (big-endian), the bytes.
			echo: { protocol: 'http2', headers: grpcHeaders, body: '\0\0\0\0\x02hi', trailers: { 'grpc-status': '0' } },
			denied: { protocol: 'http2', headers: grpcHeaders, body: '', trailers: { 'grpc-status': '7', 'grpc-message': 'denied' } },
		},
	});

	const viaHttpCall = await box.request('/', { headers: { 'x-call-cluster': 'echo' } });
	t.is(viaHttpCall.headers['x-call-status'], '200', viaHttpCall.body);
	t.is(viaHttpCall.headers['x-call-grpc-status'], '0', 'the trailer reached the plugin\'s http_call');
	t.is(viaHttpCall.headers['x-call-trailers'], '1');
	t.is(viaHttpCall.body, '\0\0\0\0\x02hi');

	const deniedHttpCall = await box.request('/', { headers: { 'x-call-cluster': 'denied' } });
	t.is(deniedHttpCall.headers['x-call-grpc-status'], '7');
	t.is(deniedHttpCall.headers['x-call-grpc-message'], 'denied');

	const viaGrpcCall = await box.request('/', { headers: { 'x-call-cluster': 'echo', 'x-call-kind': 'grpc' } });
	t.is(viaGrpcCall.headers['x-call-status'], '0', viaGrpcCall.body);
	t.is(viaGrpcCall.body, 'hi', 'Envoy\'s gRPC client unframed the message');
	const deniedGrpcCall = await box.request('/', { headers: { 'x-call-cluster': 'denied', 'x-call-kind': 'grpc' } });
	t.is(deniedGrpcCall.headers['x-call-status'], '7', 'the grpc-status trailer is the call\'s status');

	const calls = await box.apps.echo!.requests();
	t.deepEqual(calls.map(call => [call.method, call.path, call.headers['content-type']]), [
		['POST', '/meshbox.Echo/Say', 'application/grpc'],
		['POST', '/meshbox.Echo/Say', 'application/grpc'],
	]);
	t.is(calls[0]?.body, '\0\0\0\0\x05hello', 'the app recorded the framed request message');
});

test('a mock service with protocol http2 answers a plugin\'s grpc_call from its handler, with grpc-status trailers', async t => {
	const grpcHeaders = { 'content-type': 'application/grpc' };
	const box = await sandboxFor(t, {
		plugins: [bodyChunks],
		// A handler deciding per call, as a gRPC service does: the request message names the answer.
		clusters: {
			authz: mockService((request): MockResponse => (request.body.includes('hello')
				? { status: 200, headers: grpcHeaders, body: '\0\0\0\0\x02ok', trailers: { 'grpc-status': '0' } }
				: { status: 200, headers: grpcHeaders, body: '', trailers: { 'grpc-status': '7', 'grpc-message': 'no' } }), { protocol: 'http2' }),
		},
	});

	const viaGrpcCall = await box.request('/', { headers: { 'x-call-cluster': 'authz', 'x-call-kind': 'grpc' } });
	t.is(viaGrpcCall.headers['x-call-status'], '0', viaGrpcCall.body);
	t.is(viaGrpcCall.body, 'ok', 'Envoy\'s gRPC client unframed the handler\'s message');
	const viaHttpCall = await box.request('/', { headers: { 'x-call-cluster': 'authz' } });
	t.is(viaHttpCall.headers['x-call-grpc-status'], '0', 'the trailer reached the plugin\'s http_call');

	const calls = await box.mocks.authz!.requests();
	t.deepEqual(calls.map(call => [call.method, call.path, call.headers['content-type']]), [
		['POST', '/meshbox.Echo/Say', 'application/grpc'],
		['POST', '/meshbox.Echo/Say', 'application/grpc'],
	]);
});

test('an HTTP/2 app or clusters: entry gets an h2 Envoy cluster; HTTP/1.1 ones keep enable_trailers', async t => {
	const model = await modelFromSpec({
		apps: { grpc: { protocol: 'http2' }, plain: {} },
		clusters: { ext: { address: '127.0.0.1:9000', protocol: 'http2' }, old: '127.0.0.1:9001' },
	}, { baseDir: repoRoot });
	const clusters = (buildBootstrap(model, testPlacement).static_resources as { clusters: JsonObject[] }).clusters;
	const http = (name: string) => {
		const cluster = clusters.find(entry => entry.name === name) as { typed_extension_protocol_options: Record<string, { explicit_http_config: JsonObject }> };
		return cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']!.explicit_http_config;
	};

	t.deepEqual(http('grpc'), { http2_protocol_options: {} });
	t.deepEqual(http('ext'), { http2_protocol_options: {} });
	t.deepEqual(http('plain'), { http_protocol_options: { enable_trailers: true } });
	t.deepEqual(http('old'), { http_protocol_options: { enable_trailers: true } });
});

async function fileError(t: ExecutionContext, name: string, text: string): Promise<MeshboxError> {
	const file = path.join(scratch, name);
	await writeFile(file, text);
	const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
	t.is(error?.code, 'CONFIG_INVALID');
	return error!;
}

test('bad chunks, delays and protocols name the file, line, field and what to write', async t => {
	const both = await fileError(t, 'both.yaml', 'upstream:\n  body: x\n  chunks: [{ data: a }]\n');
	t.regex(both.message, /both\.yaml:3:\d+: upstream\.chunks: both `body` and `chunks` are given/);
	t.regex(both.hint ?? '', /chunks: \[\{ data, delayMs \}\]/);

	const typo = await fileError(t, 'typo.yaml', 'apps:\n  a:\n    chunks:\n      - { data: a }\n      - { dat: b }\n');
	t.regex(typo.message, /typo\.yaml:5:\d+: apps\.a\.chunks\[1\]\.dat: unknown field/);
	t.regex(typo.hint ?? '', /did you mean "data"\?/);

	const empty = await fileError(t, 'empty.yaml', 'upstream:\n  chunks: []\n');
	t.regex(empty.message, /empty\.yaml:2:\d+: upstream\.chunks: expected a non-empty list/);

	const delay = await fileError(t, 'delay.yaml', 'upstream:\n  delayMs: -5\n');
	t.regex(delay.message, /delay\.yaml:2:\d+: upstream\.delayMs: expected a whole number from 0 to 600000, found number -5/);

	const protocol = await fileError(t, 'protocol.yaml', 'apps:\n  g: { protocol: h2 }\n');
	t.regex(protocol.message, /protocol\.yaml:2:\d+: apps\.g\.protocol: expected one of http1, http2, found the string "h2"/);

	const cluster = await fileError(t, 'cluster.yaml', 'clusters:\n  g: { adress: 127.0.0.1:9000 }\n');
	t.regex(cluster.message, /cluster\.yaml:2:\d+: clusters\.g\.adress: unknown field/);
	t.regex(cluster.hint ?? '', /did you mean "address"\?/);
	const port = await fileError(t, 'port.yaml', 'clusters:\n  g: { address: nowhere, protocol: http2 }\n');
	t.regex(port.message, /port\.yaml:2:\d+: clusters\.g\.address: expected HOST:PORT, found "nowhere"/);
});
