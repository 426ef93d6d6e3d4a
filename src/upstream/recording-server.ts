/**
 * The hello-world upstream: answers every request `200 Hello, world!\n` and records what it received, so
 * a scenario can tell whether a request reached the app (and what it looked like after the plugins).
 *
 * A request is recorded once its body has been read and *before* the response is sent, so by the time a
 * client sees the response its recording is there.
 *
 * The recordings are bounded by count and by bytes: the latest `maxRecordings` requests (default 1000, or
 * MESHBOX_MAX_RECORDINGS) within `maxRecordingBytes` (default 64 MiB, or MESHBOX_MAX_RECORDING_BYTES), so a
 * long `meshbox up` session or a load test of large POSTs does not grow without bound (issue #20: 150 POSTs of
 * 4 MB took the harness to 1.5 GB and `/recordings` failed). Of each body only a head is kept (1 MiB, at most
 * the byte budget); a recording whose body was cut says so (`bodyTruncated`, `bodySize`). `hits` still counts
 * every request since start or the last clear().
 *
 * `protocol: 'http2'` serves HTTP/2 without TLS (h2c, prior knowledge), as a gRPC service does for Envoy's
 * clusters with `http2_protocol_options`; trailers are then native HTTP/2 trailers.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { MeshboxError } from '../errors.ts';
import { RecordingStore } from './recording-store.ts';
import type { RecordedRequest, UpstreamRecordings } from './recordings.ts';

export type { RecordedRequest } from './recordings.ts';

/** What a server answers; headers' names as given. */
export type ServerResponse = {
	status?: number;
	headers?: Record<string, string>;
	body?: string;
	/**
	 * The body in parts, instead of `body`: each part is written (and flushed) after waiting its `delayMs`, so
	 * Envoy passes each one on as it comes (a plugin's on_http_response_body sees them one by one). HTTP/1.1:
	 * chunked encoding, no content-length.
	 */
	chunks?: readonly ResponseChunk[];
	/** Sent after the body; the response then uses chunked encoding instead of content-length. */
	trailers?: Record<string, string>;
	/** Close the connection without answering (a reset, as a crashed service would). */
	reset?: boolean;
	/** Milliseconds to wait before answering (a slow app, `apps.<name>.delayMs`). */
	delayMs?: number;
};

/** One part of a streamed response body. */
export type ResponseChunk = {
	readonly data: string;
	/** Milliseconds to wait before writing this part (after the headers or the previous part). Default 0. */
	readonly delayMs?: number;
};

/** What a server speaks: HTTP/1.1, or HTTP/2 without TLS (h2c, prior knowledge: what Envoy's h2 clusters send). */
export type ServerProtocol = 'http1' | 'http2';

/** Decides the answer to a request (a scenario's mock service). */
export type RequestHandler = (request: RecordedRequest) => ServerResponse | Promise<ServerResponse>;

export type UpstreamOptions = {
	host?: string;
	/** 0 or absent: any free port. */
	port?: number;
	/** Response body. Default `Hello, world!\n`. */
	body?: string;
	/** Answer requests with this instead of the fixed body (mock services). */
	respond?: RequestHandler;
	/** How many recordings to keep (the latest). Default: MESHBOX_MAX_RECORDINGS, else 1000. */
	maxRecordings?: number;
	/** How many bytes the kept recordings may hold in all. Default: MESHBOX_MAX_RECORDING_BYTES, else 64 MiB. */
	maxRecordingBytes?: number;
	/** Default `http1`. */
	protocol?: ServerProtocol;
};

export const helloWorldBody = 'Hello, world!\n';

/** How many requests an upstream or mock service keeps by default. */
export const defaultMaxRecordings = 1000;

/** The environment variable that sets how many recordings are kept (a positive integer). */
export const maxRecordingsVariable = 'MESHBOX_MAX_RECORDINGS';

/** The bound from `env` (MESHBOX_MAX_RECORDINGS), else the default; a value that is not a positive integer is an error. */
export function maxRecordingsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
	const value = env[maxRecordingsVariable]?.trim();
	if (value === undefined || value === '') {
		return defaultMaxRecordings;
	}

	if (!/^\d+$/.test(value) || Number(value) < 1) {
		throw new MeshboxError('USAGE', `${maxRecordingsVariable}=${value}: expected a positive integer (how many recorded requests the app keeps)`, `unset it for the default (${defaultMaxRecordings}), or set e.g. ${maxRecordingsVariable}=5000`);
	}

	return Number(value);
}

/** How many bytes of recordings an upstream or mock service keeps by default (all recordings together). */
export const defaultMaxRecordingBytes = 64 * 1024 * 1024;

/** How much of one request body a recording keeps at most (the head; the rest is counted, not kept). */
export const maxRecordedBodyBytes = 1024 * 1024;

/** The environment variable that sets how many bytes the recordings may hold (a positive integer). */
export const maxRecordingBytesVariable = 'MESHBOX_MAX_RECORDING_BYTES';

/** The byte budget from `env` (MESHBOX_MAX_RECORDING_BYTES), else 64 MiB; a value that is not a positive integer is an error. */
export function maxRecordingBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number {
	const value = env[maxRecordingBytesVariable]?.trim();
	if (value === undefined || value === '') {
		return defaultMaxRecordingBytes;
	}

	if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
		throw new MeshboxError('USAGE', `${maxRecordingBytesVariable}=${value}: expected a positive integer (how many bytes of recorded requests the app keeps)`,
			`unset it for the default (${defaultMaxRecordingBytes}, 64 MiB), or set e.g. ${maxRecordingBytesVariable}=${16 * 1024 * 1024}`);
	}

	return Number(value);
}

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

export class RecordingUpstream {
	/** The latest requests within the count and byte bounds, with an exact count of all (./recording-store.ts). */
	private readonly recorded: RecordingStore;
	private readonly server: http.Server | http2.Http2Server;
	/** HTTP/2 sessions, closed by stop() (an Http2Server has no closeAllConnections). */
	private readonly sessions = new Set<http2.ServerHttp2Session>();
	private readonly respond: RequestHandler;
	private readonly bodyHeadBytes: number;

	private constructor(options: UpstreamOptions) {
		const maxBytes = options.maxRecordingBytes ?? maxRecordingBytesFromEnv();
		this.recorded = new RecordingStore(options.maxRecordings ?? maxRecordingsFromEnv(), maxBytes);
		// A body head never larger than the whole budget, so the newest recording always fits.
		this.bodyHeadBytes = Math.min(maxRecordedBodyBytes, maxBytes);
		const body = options.body ?? helloWorldBody;
		this.respond = options.respond ?? (() => ({ status: 200, headers: { 'content-type': 'text/plain' }, body }));
		if (options.protocol === 'http2') {
			const server = http2.createServer();
			server.on('request', (request, response) => {
				this.handle(request, response);
			});
			server.on('session', session => {
				this.sessions.add(session);
				session.once('close', () => this.sessions.delete(session));
			});
			this.server = server;
		} else {
			const server = http.createServer((request, response) => {
				this.handle(request, response);
			});
			// Longer than Envoy's upstream idle_timeout (4 s): Envoy closes idle connections first, never this side.
			server.keepAliveTimeout = 60_000;
			server.headersTimeout = 61_000;
			this.server = server;
		}
	}

	static async start(options: UpstreamOptions = {}): Promise<RecordingUpstream> {
		const upstream = new RecordingUpstream(options);
		await new Promise<void>((resolve, reject) => {
			upstream.server.once('error', reject);
			upstream.server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
				upstream.server.off('error', reject);
				resolve();
			});
		});
		return upstream;
	}

	get address(): { host: string; port: number } {
		const info = this.server.address() as AddressInfo;
		return { host: info.address, port: info.port };
	}

	/** A copy of the latest requests (at most `maxRecordings`) received since start or the last clear(), oldest first. */
	requests(): RecordedRequest[] {
		return this.recorded.toArray();
	}

	/** Every request received since start or the last clear(), including those no longer kept. */
	get hits(): number {
		return this.recorded.total;
	}

	clear(): void {
		this.recorded.clear();
	}

	private record(request: RecordedRequest): void {
		this.recorded.push(request);
	}

	async stop(): Promise<void> {
		if (this.server instanceof http.Server) {
			await closeServer(this.server);
			return;
		}

		const server = this.server;
		if (!server.listening) {
			return;
		}

		await new Promise<void>(resolve => {
			server.close(() => resolve());
			for (const session of this.sessions) {
				session.destroy();
			}
		});
	}

	private handle(request: AnyRequest, response: AnyResponse): void {
		const time = Date.now();
		// Only the body's head is kept; the rest is counted, so a large upload costs no memory (issue #20).
		const head: Buffer[] = [];
		let kept = 0;
		let size = 0;
		request.on('data', (chunk: Buffer) => {
			size += chunk.length;
			if (kept < this.bodyHeadBytes) {
				const part = chunk.length <= this.bodyHeadBytes - kept ? chunk : chunk.subarray(0, this.bodyHeadBytes - kept);
				// A copy of a cut part, so the rest of the socket's buffer is not held by the recording.
				head.push(part === chunk ? chunk : Buffer.from(part));
				kept += part.length;
			}
		});
		request.on('end', () => {
			const headers: Record<string, string> = {};
			for (const [name, value] of Object.entries(request.headers)) {
				// HTTP/2 pseudo-headers (:method, :path, …) are the recording's method and path.
				if (value !== undefined && !name.startsWith(':')) {
					headers[name] = Array.isArray(value) ? value.join(', ') : value;
				}
			}

			const recorded: RecordedRequest = {
				method: request.method ?? 'GET',
				path: request.url ?? '/',
				headers,
				rawHeaders: [...request.rawHeaders],
				body: Buffer.concat(head).toString('utf8'),
				...(size > kept ? { bodyTruncated: true as const, bodySize: size } : {}),
				trailers: Object.fromEntries(Object.entries(request.trailers).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
				time,
			};
			this.record(recorded);
			void this.answer(recorded, response);
		});
	}

	private async answer(recorded: RecordedRequest, response: AnyResponse): Promise<void> {
		let answer: ServerResponse;
		try {
			answer = await this.respond(recorded);
		} catch (error) {
			// A failing mock handler is a scenario bug: make it visible as a 500 with the reason.
			answer = { status: 500, headers: { 'content-type': 'text/plain' }, body: `meshbox mock handler failed: ${(error as Error).message}\n` };
		}

		if (answer.delayMs) {
			await pause(answer.delayMs);
		}

		if (answer.reset) {
			if (response instanceof http.ServerResponse) {
				response.socket?.destroy();
			} else {
				response.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
			}

			return;
		}

		const http1 = response instanceof http.ServerResponse;
		const trailers = answer.trailers && Object.keys(answer.trailers).length > 0 ? answer.trailers : undefined;
		const chunks = answer.chunks;
		const body = answer.body ?? '';
		const headers: Record<string, string | number> = { ...answer.headers };
		if (trailers && http1) {
			// HTTP/1.1 trailers need chunked encoding (no content-length): only then does Envoy's HTTP/1 codec pass
			// them on, with enable_trailers (api/envoy/config/core/v3/protocol.proto Http1ProtocolOptions,
			// envoy/http/codec.h Http1Settings::enable_trailers_). `Trailer` announces them (RFC 9110 §6.6.2).
			headers.trailer = Object.keys(trailers).join(', ');
		} else if (!chunks) {
			headers['content-length'] = Buffer.byteLength(body);
		}

		response.writeHead(answer.status ?? 200, headers);
		if (trailers) {
			response.addTrailers(trailers);
		}

		if (recorded.method === 'HEAD') {
			response.end();
			return;
		}

		if (!chunks) {
			response.end(body);
			return;
		}

		await writeChunks(response, chunks);
	}
}

/** A delay that does not hold the process open: a stopped sandbox must not wait out a slow answer (up to 10 min). */
async function pause(ms: number): Promise<void> {
	await new Promise<void>(resolve => {
		setTimeout(resolve, ms).unref();
	});
}

/**
 * Writes each part after its delay, the headers first (so the client sees the response start at once). Stops
 * when the client went away.
 */
async function writeChunks(response: AnyResponse, chunks: readonly ResponseChunk[]): Promise<void> {
	if (response instanceof http.ServerResponse) {
		response.flushHeaders();
	}

	// One signature for both protocols' write (their overloads do not unify).
	const write = (data: string) => response instanceof http.ServerResponse ? response.write(data) : response.write(data);
	for (const chunk of chunks) {
		if (chunk.delayMs) {
			await pause(chunk.delayMs);
		}

		if (response.destroyed) {
			return;
		}

		if (chunk.data !== '') {
			write(chunk.data);
		}
	}

	if (!response.destroyed) {
		response.end();
	}
}

/** The async view of an upstream in this process (the shape every runtime gives scenarios). */
export function recordingsOf(upstream: RecordingUpstream): UpstreamRecordings {
	return {
		requests: async () => upstream.requests(),
		hits: async () => upstream.hits,
		clear: async () => {
			upstream.clear();
		},
	};
}

/** Stops a server now: idle keep-alive connections are closed too, so nothing holds the process open. */
export async function closeServer(server: http.Server): Promise<void> {
	if (!server.listening) {
		return;
	}

	await new Promise<void>(resolve => {
		server.close(() => resolve());
		server.closeAllConnections();
	});
}
