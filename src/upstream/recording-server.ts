/**
 * The hello-world upstream: answers every request `200 Hello, world!\n` and records what it received, so
 * a scenario can tell whether a request reached the app (and what it looked like after the plugins).
 *
 * A request is recorded once its body has been read and *before* the response is sent, so by the time a
 * client sees the response its recording is there.
 *
 * The recordings are a ring: the latest `maxRecordings` requests (default 1000, or MESHBOX_MAX_RECORDINGS) are
 * kept, so a long `meshbox up` session or a load test does not grow without bound; `hits` still counts every
 * request since start or the last clear().
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MeshboxError } from '../errors.ts';
import { Ring } from '../util/ring.ts';
import type { RecordedRequest, UpstreamRecordings } from './recordings.ts';

export type { RecordedRequest } from './recordings.ts';

/** What a server answers; headers' names as given. */
export type ServerResponse = {
	status?: number;
	headers?: Record<string, string>;
	body?: string;
	/** Sent after the body; the response then uses chunked encoding instead of content-length. */
	trailers?: Record<string, string>;
	/** Close the connection without answering (a reset, as a crashed service would). */
	reset?: boolean;
	/** Milliseconds to wait before answering (a slow app, `apps.<name>.delayMs`). */
	delayMs?: number;
};

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

export class RecordingUpstream {
	/** The latest requests, with an exact count of all (src/util/ring.ts). */
	private readonly recorded: Ring<RecordedRequest>;
	private readonly server: http.Server;
	private readonly respond: RequestHandler;

	private constructor(options: UpstreamOptions) {
		this.recorded = new Ring(options.maxRecordings ?? maxRecordingsFromEnv());
		const body = options.body ?? helloWorldBody;
		this.respond = options.respond ?? (() => ({ status: 200, headers: { 'content-type': 'text/plain' }, body }));
		this.server = http.createServer((request, response) => {
			this.handle(request, response);
		});
		// Longer than Envoy's upstream idle_timeout (4 s): Envoy closes idle connections first, never this side.
		this.server.keepAliveTimeout = 60_000;
		this.server.headersTimeout = 61_000;
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
		await closeServer(this.server);
	}

	private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
		const time = Date.now();
		const chunks: Buffer[] = [];
		request.on('data', (chunk: Buffer) => chunks.push(chunk));
		request.on('end', () => {
			const headers: Record<string, string> = {};
			for (const [name, value] of Object.entries(request.headers)) {
				if (value !== undefined) {
					headers[name] = Array.isArray(value) ? value.join(', ') : value;
				}
			}

			const recorded: RecordedRequest = {
				method: request.method ?? 'GET',
				path: request.url ?? '/',
				headers,
				rawHeaders: [...request.rawHeaders],
				body: Buffer.concat(chunks).toString('utf8'),
				trailers: Object.fromEntries(Object.entries(request.trailers).filter((entry): entry is [string, string] => typeof entry[1] === 'string')),
				time,
			};
			this.record(recorded);
			void this.answer(recorded, response);
		});
	}

	private async answer(recorded: RecordedRequest, response: http.ServerResponse): Promise<void> {
		let answer: ServerResponse;
		try {
			answer = await this.respond(recorded);
		} catch (error) {
			// A failing mock handler is a scenario bug: make it visible as a 500 with the reason.
			answer = { status: 500, headers: { 'content-type': 'text/plain' }, body: `meshbox mock handler failed: ${(error as Error).message}\n` };
		}

		if (answer.delayMs) {
			await new Promise(resolve => setTimeout(resolve, answer.delayMs));
		}

		if (answer.reset) {
			response.socket?.destroy();
			return;
		}

		const body = answer.body ?? '';
		const trailers = answer.trailers && Object.keys(answer.trailers).length > 0 ? answer.trailers : undefined;
		response.writeHead(answer.status ?? 200, trailers
			? { ...answer.headers, trailer: Object.keys(trailers).join(', ') }
			: { ...answer.headers, 'content-length': Buffer.byteLength(body) });
		if (trailers) {
			response.addTrailers(trailers);
		}

		response.end(recorded.method === 'HEAD' ? undefined : body);
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
