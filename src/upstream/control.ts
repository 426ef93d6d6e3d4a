/**
 * The upstream's control API, for runtimes where the upstream runs in another process (a container): a
 * second port, separate from the app port, so that reading recordings never shows up as app traffic.
 *
 *   GET    /recordings   → 200, JSON `RecordedRequest[]` (the latest kept, oldest first); header
 *                          `x-meshbox-hits`: every request since start or the last clear, dropped ones too
 *   DELETE /recordings   → 204, recordings cleared (and the count)
 *   PUT    /response     → 204, the app answers every later request with this (JSON: status, headers, body,
 *                          chunks, trailers, delayMs); a live update of the sandbox's `upstream:` (docker runtime)
 *   GET    /healthz      → 200 `ok`
 *   GET, DELETE /apps/<name>/recordings → the same for a named app (`apps:`, ./apps.ts)
 *
 * `meshbox up` serves the same API for its upstream on any runtime (it prints the URL), so a curl user can
 * read and clear what the app received.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, type ServerResponse } from './recording-server.ts';
import type { UpstreamRecordings } from './recordings.ts';

/** The ports the standalone upstream (main.ts) listens on by default. */
export const upstreamAppPort = 8080;
export const upstreamControlPort = 8081;

/** The environment variable that carries the app's answer (JSON `ServerResponse`) into the upstream process. */
export const upstreamResponseVariable = 'MESHBOX_UPSTREAM_RESPONSE';

export const recordingsPath = '/recordings';
/** Response header of GET /recordings: the exact count of requests, including those the ring dropped. */
export const hitsHeader = 'x-meshbox-hits';
export const healthPath = '/healthz';
export const responsePath = '/response';

export type ControlOptions = {
	host?: string;
	port?: number;
	/** PUT /response: changes the app's answer. Absent: that endpoint answers 404. */
	setResponse?: (response: ServerResponse) => void;
	/** Named apps (./apps.ts): `/apps/<name>/recordings` reads and clears each one's recordings. */
	apps?: Readonly<Record<string, UpstreamRecordings>>;
};

export class UpstreamControlServer {
	private constructor(private readonly server: http.Server) {}

	static async start(upstream: UpstreamRecordings, options: ControlOptions = {}): Promise<UpstreamControlServer> {
		const server = http.createServer((request, response) => {
			handle(upstream, options, request, response).catch((error: unknown) => {
				if (!response.headersSent) {
					send(response, 502, 'text/plain', `could not read the recordings: ${(error as Error).message}\n`);
				}
			});
		});
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
				server.off('error', reject);
				resolve();
			});
		});
		return new UpstreamControlServer(server);
	}

	get address(): { host: string; port: number } {
		const info = this.server.address() as AddressInfo;
		return { host: info.address, port: info.port };
	}

	async stop(): Promise<void> {
		await closeServer(this.server);
	}
}

async function handle(upstream: UpstreamRecordings, options: ControlOptions, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
	let path = new URL(request.url ?? '/', 'http://control').pathname;
	if (path === responsePath && request.method === 'PUT' && options.setResponse) {
		const chunks: Buffer[] = [];
		for await (const chunk of request) {
			chunks.push(chunk as Buffer);
		}

		const answer = parseResponse(Buffer.concat(chunks).toString('utf8'));
		if (!answer) {
			send(response, 400, 'text/plain', 'expected JSON {status, headers, body, trailers}\n');
			return;
		}

		options.setResponse(answer);
		response.writeHead(204).end();
		return;
	}

	// The request body is never used; drain it so keep-alive connections stay usable.
	request.resume();
	const app = /^\/apps\/([^/]+)(\/recordings)$/.exec(path);
	if (app) {
		const recordings = options.apps?.[decodeURIComponent(app[1]!)];
		if (!recordings) {
			send(response, 404, 'text/plain', `no app named ${decodeURIComponent(app[1]!)}\n`);
			return;
		}

		upstream = recordings;
		path = app[2]!;
	}

	if (path === recordingsPath && request.method === 'GET') {
		// Read together, so that the count and the list describe the same moment.
		const [recorded, hits] = await Promise.all([upstream.requests(), upstream.hits()]);
		sendJsonList(response, recorded, { [hitsHeader]: String(hits) });
	} else if (path === recordingsPath && request.method === 'DELETE') {
		await upstream.clear();
		response.writeHead(204).end();
	} else if (path === healthPath && (request.method === 'GET' || request.method === 'HEAD')) {
		send(response, 200, 'text/plain', 'ok\n');
	} else {
		send(response, 404, 'text/plain', `no such control endpoint: ${request.method ?? '?'} ${path}\n`);
	}
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
	response.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
	response.end(body);
}

/**
 * A JSON array written one element at a time: the recordings never become one string, so their size is bounded
 * by the recording budget only, never by V8's longest string (a body of NUL bytes is 6× longer as JSON).
 */
function sendJsonList(response: http.ServerResponse, items: readonly unknown[], headers: Record<string, string>): void {
	response.writeHead(200, { ...headers, 'content-type': 'application/json' });
	response.write('[');
	items.forEach((item, index) => {
		response.write(index === 0 ? JSON.stringify(item) : `,${JSON.stringify(item)}`);
	});
	response.end(']');
}

function parseResponse(text: string): ServerResponse | undefined {
	try {
		const value = JSON.parse(text) as Partial<ServerResponse> | null;
		return value && typeof value === 'object' && typeof value.status === 'number' ? value as ServerResponse : undefined;
	} catch {
		return undefined;
	}
}
