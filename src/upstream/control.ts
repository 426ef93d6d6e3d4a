/**
 * The upstream's control API, for runtimes where the upstream runs in another process (a container): a
 * second port, separate from the app port, so that reading recordings never shows up as app traffic.
 *
 *   GET    /recordings   → 200, JSON `RecordedRequest[]` (oldest first)
 *   DELETE /recordings   → 204, recordings cleared
 *   GET    /healthz      → 200 `ok`
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer, type RecordingUpstream } from './recording-server.ts';

/** The ports the standalone upstream (main.ts) listens on by default. */
export const upstreamAppPort = 8080;
export const upstreamControlPort = 8081;

/** The environment variable that carries the app's answer (JSON `ServerResponse`) into the upstream process. */
export const upstreamResponseVariable = 'MESHBOX_UPSTREAM_RESPONSE';

export const recordingsPath = '/recordings';
export const healthPath = '/healthz';

export class UpstreamControlServer {
	private constructor(private readonly server: http.Server) {}

	static async start(upstream: RecordingUpstream, options: { host?: string; port?: number } = {}): Promise<UpstreamControlServer> {
		const server = http.createServer((request, response) => {
			handle(upstream, request, response);
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

function handle(upstream: RecordingUpstream, request: http.IncomingMessage, response: http.ServerResponse): void {
	// The request body is never used; drain it so keep-alive connections stay usable.
	request.resume();
	const path = new URL(request.url ?? '/', 'http://control').pathname;
	if (path === recordingsPath && request.method === 'GET') {
		send(response, 200, 'application/json', JSON.stringify(upstream.requests()));
	} else if (path === recordingsPath && request.method === 'DELETE') {
		upstream.clear();
		response.writeHead(204).end();
	} else if (path === healthPath && (request.method === 'GET' || request.method === 'HEAD')) {
		send(response, 200, 'text/plain', 'ok\n');
	} else {
		send(response, 404, 'text/plain', `no such control endpoint: ${request.method ?? '?'} ${path}\n`);
	}
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string): void {
	response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
	response.end(body);
}
