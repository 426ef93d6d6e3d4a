/**
 * The scenario client: one request to Envoy's listener over HTTP/1.1 or HTTP/2 cleartext (prior knowledge),
 * with request trailers and response trailers, and nothing between the test and the wire: no retries, no
 * redirects, no decompression, no errors for HTTP statuses.
 *
 * Node's own clients are used (not got) because scenarios need what got cannot do: h2c and trailers both ways.
 */
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import http2 from 'node:http2';
import { MeshboxError } from '../errors.ts';

export type HttpRequest = {
	readonly url: URL;
	readonly method: string;
	readonly headers: Readonly<Record<string, string | readonly string[]>>;
	readonly body?: string | Uint8Array;
	/** Sent after the body (HTTP/1.1: chunked encoding; HTTP/2: a trailing HEADERS frame). */
	readonly trailers?: Readonly<Record<string, string>>;
	/**
	 * Send the body without a content-length (HTTP/1.1: `transfer-encoding: chunked`; HTTP/2: DATA frames of
	 * unannounced length). Otherwise a known body is announced with content-length, as curl does.
	 */
	readonly chunked?: boolean;
	readonly http2: boolean;
	readonly timeoutMs: number;
	/** HTTP/1.1 over TLS with this client certificate (mTLS to a mesh proxy's inbound), instead of plain text. */
	readonly tls?: ClientTls;
};

/** A TLS client identity (PEM): the certificate chain and key it presents, and the root it trusts the server by. */
export type ClientTls = {
	readonly certificateChain: string;
	readonly privateKey: string;
	readonly rootCertificate: string;
	/** ALPN offered; default Istio's in-mesh `istio-http/1.1` (what the inbound mTLS chain matches on). */
	readonly alpn?: readonly string[];
};

export type HttpResponse = {
	readonly status: number;
	/** Lower-cased names; repeated headers joined with `, ` (set-cookie: a list). */
	readonly headers: Readonly<Record<string, string | string[] | undefined>>;
	/** Names and values in the order and case Envoy sent them (HTTP/2: lower-case, pseudo-headers left out). */
	readonly rawHeaders: readonly string[];
	readonly trailers: Readonly<Record<string, string | string[] | undefined>>;
	readonly body: string;
	readonly httpVersion: '1.1' | '2';
};

/** `agent` keeps HTTP/1.1 connections alive between requests (HTTP/2 uses one session per request). */
export async function sendRequest(request: HttpRequest, agent?: http.Agent): Promise<HttpResponse> {
	return request.http2 ? sendHttp2(request) : sendHttp1(request, agent);
}

/**
 * How the body is framed: its content-length when the body is known and nothing asks for another framing
 * (trailers or `chunked` need chunked encoding), else chunked when something is sent after the headers.
 * Framing headers the scenario set itself win. Plugins see the difference: with content-length, Envoy knows
 * the body's size from the request headers on, and forwards content-length rather than chunked.
 */
function framing(request: HttpRequest, hasTrailers: boolean): { contentLength?: number; chunked: boolean } {
	const framedByCaller = Object.keys(request.headers).some(name => ['content-length', 'transfer-encoding'].includes(name.toLowerCase()));
	if (framedByCaller) {
		return { chunked: false };
	}

	if (request.body !== undefined && !hasTrailers && !request.chunked) {
		return { contentLength: typeof request.body === 'string' ? Buffer.byteLength(request.body) : request.body.byteLength, chunked: false };
	}

	return { chunked: hasTrailers || request.chunked === true };
}

async function sendHttp1(request: HttpRequest, agent?: http.Agent): Promise<HttpResponse> {
	return new Promise((resolve, reject) => {
		const hasTrailers = request.trailers !== undefined && Object.keys(request.trailers).length > 0;
		const headers: Record<string, string | string[]> = {};
		for (const [name, value] of Object.entries(request.headers)) {
			headers[name] = typeof value === 'string' ? value : [...value];
		}

		const { contentLength, chunked } = framing(request, hasTrailers);
		if (contentLength !== undefined) {
			headers['content-length'] = String(contentLength);
		} else if (chunked) {
			headers['transfer-encoding'] = 'chunked';
		}

		if (hasTrailers) {
			// The peer must be told which trailers to expect.
			headers.trailer = Object.keys(request.trailers!).join(', ');
		}

		const onResponse = (incoming: http.IncomingMessage) => {
			const chunks: Buffer[] = [];
			incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
			incoming.on('error', reject);
			incoming.on('end', () => {
				resolve({
					status: incoming.statusCode ?? 0,
					headers: incoming.headers,
					rawHeaders: incoming.rawHeaders,
					trailers: incoming.trailers,
					body: Buffer.concat(chunks).toString('utf8'),
					httpVersion: '1.1',
				});
			});
		};

		// https.RequestOptions omits ALPNProtocols in its types; tls.connect (which https uses) takes it.
		const tlsOptions: (https.RequestOptions & Pick<tls.ConnectionOptions, 'ALPNProtocols'>) | undefined = request.tls && {
			method: request.method,
			headers,
			agent: false,
			timeout: request.timeoutMs,
			cert: request.tls.certificateChain,
			key: request.tls.privateKey,
			ca: request.tls.rootCertificate,
			ALPNProtocols: [...(request.tls.alpn ?? ['istio-http/1.1'])],
			// A workload certificate names a SPIFFE URI, not a host: the chain is checked against the root, not the name.
			checkServerIdentity: () => undefined,
		};
		const outgoing = tlsOptions ? https.request(new URL(request.url.href.replace(/^http:/, 'https:')), tlsOptions, onResponse)
			: http.request(request.url, { method: request.method, headers, agent, timeout: request.timeoutMs }, onResponse);
		outgoing.on('timeout', () => outgoing.destroy(requestTimeout(request)));
		outgoing.on('error', reject);
		if (request.body !== undefined) {
			outgoing.write(request.body);
		}

		if (hasTrailers) {
			outgoing.addTrailers(request.trailers!);
		}

		outgoing.end();
	});
}

async function sendHttp2(request: HttpRequest): Promise<HttpResponse> {
	const session = http2.connect(request.url.origin);
	try {
		return await new Promise<HttpResponse>((resolve, reject) => {
			session.on('error', reject);
			const headers: http2.OutgoingHttpHeaders = {
				':method': request.method,
				':path': `${request.url.pathname}${request.url.search}`,
			};
			for (const [name, value] of Object.entries(request.headers)) {
				// HTTP/2 carries the authority as :authority, not as a host header.
				headers[name.toLowerCase() === 'host' ? ':authority' : name.toLowerCase()] = typeof value === 'string' ? value : [...value];
			}

			const hasTrailers = request.trailers !== undefined && Object.keys(request.trailers).length > 0;
			// HTTP/2 has no chunked encoding; content-length is how a client announces the body's size (Envoy
			// passes it on, and its HTTP/1 upstream codec then sends content-length instead of chunked).
			const { contentLength } = framing(request, hasTrailers);
			if (contentLength !== undefined) {
				headers['content-length'] = String(contentLength);
			}

			const stream = session.request(headers, { endStream: request.body === undefined && !hasTrailers, waitForTrailers: hasTrailers });
			let timedOut = false;
			stream.setTimeout(request.timeoutMs, () => {
				timedOut = true;
				stream.close(http2.constants.NGHTTP2_CANCEL);
			});
			if (hasTrailers) {
				stream.on('wantTrailers', () => stream.sendTrailers({ ...request.trailers }));
			}

			let status = 0;
			const responseHeaders: Record<string, string | string[] | undefined> = {};
			const rawHeaders: string[] = [];
			const trailers: Record<string, string | string[] | undefined> = {};
			const chunks: Buffer[] = [];
			stream.on('response', received => {
				status = Number(received[':status']);
				for (const [name, value] of Object.entries(received)) {
					if (!name.startsWith(':')) {
						responseHeaders[name] = value;
						for (const single of Array.isArray(value) ? value : [value]) {
							rawHeaders.push(name, String(single));
						}
					}
				}
			});
			stream.on('trailers', received => {
				// Own string keys only: Node also puts a Symbol(sensitiveHeaders) on the object.
				for (const [name, value] of Object.entries(received)) {
					trailers[name] = Array.isArray(value) ? value.map(String) : value === undefined ? undefined : String(value);
				}
			});
			stream.on('data', (chunk: Buffer) => chunks.push(chunk));
			stream.on('error', reject);
			stream.on('close', () => {
				if (status === 0 || timedOut) {
					reject(timedOut ? requestTimeout(request) : new Error(`HTTP/2 stream closed without a response (code ${stream.rstCode})`));
					return;
				}

				resolve({ status, headers: responseHeaders, rawHeaders, trailers, body: Buffer.concat(chunks).toString('utf8'), httpVersion: '2' });
			});
			if (request.body !== undefined) {
				stream.end(request.body);
			} else if (hasTrailers) {
				stream.end();
			}
		});
	} finally {
		session.close();
	}
}

/**
 * The error of a request that got no (complete) response within its `timeoutMs`: a MeshboxError like every
 * other, so a test can tell it from a refused connection or a reset stream by its code. The sandbox may turn
 * it into a more specific one (a plugin that never returned: PLUGIN_STUCK, see src/runtime/stuck-worker.ts).
 */
export function requestTimeout(request: Pick<HttpRequest, 'method' | 'url' | 'timeoutMs'>): MeshboxError {
	return new MeshboxError('REQUEST_TIMEOUT', `${request.method} ${request.url.pathname}${request.url.search}: no response within ${request.timeoutMs} ms`,
		'a plugin may have paused the request (or response) and never resumed it, or the app may be slow: look at box.logs() and box.envoyLogs(), or raise timeoutMs');
}
