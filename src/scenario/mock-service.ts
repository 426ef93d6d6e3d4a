/**
 * Mock services for plugins' `http_call`s: a scenario declares `clusters: { auth: mockService(handler) }`,
 * meshbox starts an HTTP server for it, adds an Envoy cluster named `auth` pointing at it, and records
 * every call so the scenario can assert both what the plugin sent and what it got back.
 */
import { RecordingUpstream, recordingsOf, type RecordedRequest, type RequestHandler, type ServerResponse } from '../upstream/recording-server.ts';
import type { UpstreamRecordings } from '../upstream/recordings.ts';
import type { AppProtocol } from '../config/responses.ts';

export type MockRequest = RecordedRequest;
export type MockResponse = ServerResponse;
export type MockHandler = RequestHandler;

/** How a mock service speaks: `protocol: 'http2'` is HTTP/2 without TLS (h2c), as a gRPC service does. */
export type MockOptions = {
	readonly protocol?: AppProtocol;
};

/** A mock service declaration; meshbox starts it with the sandbox. */
export class MockService {
	constructor(readonly handler: MockHandler, readonly protocol: AppProtocol = 'http1') {}
}

/**
 * Declares a mock service answering with `handler` (default: 200 `ok`). With `{ protocol: 'http2' }` it speaks
 * h2c and its Envoy cluster HTTP/2, so a plugin's `grpc_call` reaches it and its trailers (`grpc-status`) arrive.
 */
export function mockService(handler: MockHandler | MockResponse = { status: 200, body: 'ok' }, options: MockOptions = {}): MockService {
	return new MockService(typeof handler === 'function' ? handler : () => handler, options.protocol);
}

export type StartedMock = {
	readonly name: string;
	readonly address: string;
	readonly protocol: AppProtocol;
	readonly recordings: UpstreamRecordings;
	stop(): Promise<void>;
};

export async function startMock(name: string, mock: MockService): Promise<StartedMock> {
	const server = await RecordingUpstream.start({ host: '127.0.0.1', respond: mock.handler, protocol: mock.protocol });
	return {
		name,
		address: `127.0.0.1:${server.address.port}`,
		protocol: mock.protocol,
		recordings: recordingsOf(server),
		stop: async () => server.stop(),
	};
}

/** A mock service running on its own, outside any sandbox: for a plugin's http_call to a `host:port` cluster, or any HTTP peer a scenario needs. */
export type StandaloneMock = UpstreamRecordings & {
	/** `http://127.0.0.1:<port>` */
	readonly url: string;
	/** `127.0.0.1:<port>`: what a `clusters:` entry takes. */
	readonly address: string;
	stop(): Promise<void>;
};

/**
 * Starts a mock service now, on a free port on 127.0.0.1, answering with `handler` (default: 200 `ok`) and
 * recording every request. Stop it when done (sandboxFor's teardown does not know about it):
 *
 *   const authz = await startMockService(request => ({ status: 200 }));
 *   t.teardown(() => authz.stop());
 */
export async function startMockService(handler: MockHandler | MockResponse = { status: 200, body: 'ok' }, options: MockOptions = {}): Promise<StandaloneMock> {
	const started = await startMock('standalone', mockService(handler, options));
	return {
		url: `http://${started.address}`,
		address: started.address,
		requests: async () => started.recordings.requests(),
		hits: async () => started.recordings.hits(),
		clear: async () => started.recordings.clear(),
		stop: async () => started.stop(),
	};
}
