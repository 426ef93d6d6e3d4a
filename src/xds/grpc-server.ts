/**
 * A minimal gRPC server on node:http2 for bidirectional-streaming methods: what the ADS server
 * (./control-plane.ts) needs of gRPC, without @grpc/grpc-js (whose import alone cost `meshbox up` ~50 ms).
 *
 * The wire protocol (gRPC's doc/PROTOCOL-HTTP2.md): a call is one HTTP/2 stream, POST to `/<service>/<method>`
 * with `content-type: application/grpc[+proto]`, over cleartext HTTP/2 with prior knowledge (Envoy's
 * `envoy_grpc` client to a cluster with `http2_protocol_options`). Each message, either way, is a
 * Length-Prefixed-Message: one byte compressed-flag, a 4-byte big-endian length, the message bytes. The server
 * answers with headers (`:status 200`, `content-type: application/grpc`), its messages, then trailers carrying
 * `grpc-status` (0: OK) and `grpc-message` (percent-encoded). An unknown method is a "trailers-only" answer with
 * status 12 (UNIMPLEMENTED). Messages are never compressed: the server says `grpc-accept-encoding: identity`,
 * and a compressed message from a client that ignores it ends the call with status 12.
 */
import { EventEmitter } from 'node:events';
import http2, { type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';

/** gRPC status codes used here (grpc/doc/statuscodes.md). */
const grpcStatus = { ok: 0, internal: 13, unimplemented: 12 } as const;

/** A message's 5-byte prefix: compressed-flag (1 byte), length (u32, big-endian). */
const prefixBytes = 5;

/** One call of a bidirectional-streaming method, as its handler sees it. */
export interface GrpcBidiCall<Request, Response> {
	/** Each request message, decoded. */
	on(event: 'data', listener: (message: Request) => void): this;
	/** The client half-closed its side, or the call ended without that (reset, connection lost). Once. */
	on(event: 'end', listener: () => void): this;
	/** A stream error or a message that did not decode (the call is then over). */
	on(event: 'error', listener: (error: Error) => void): this;
	/** Sends one response message (dropped once the call ended). */
	write(message: Response): void;
	/** Ends the call with status OK (grpc-status 0). Idempotent. */
	end(): void;
}

export type GrpcBidiMethod<Request, Response> = {
	readonly decode: (bytes: Uint8Array) => Request;
	readonly encode: (message: Response) => Uint8Array;
	readonly handle: (call: GrpcBidiCall<Request, Response>) => void;
};

/** A method as the server holds it, whatever its message types: it opens a call on a stream. */
export type GrpcMethod = { readonly open: (stream: ServerHttp2Stream) => OpenCall };

/** What the server does with a call: start it, end it at close, and know when it is over. */
type OpenCall = { start(): void; end(): void; once(event: 'end', listener: () => void): unknown };

/** A bidirectional-streaming method for `GrpcServer.listen`. */
export function bidiMethod<Request, Response>(method: GrpcBidiMethod<Request, Response>): GrpcMethod {
	return {
		open: stream => {
			const call = new BidiCall(stream, method);
			method.handle(call);
			return call;
		},
	};
}

/**
 * A TCP server that was listening before the gRPC code was loaded (`meshbox up`'s head start,
 * src/runtime/local/head-start.ts, binds the control plane's port before anything else): the gRPC server takes
 * over its connections, those it accepted meanwhile first. Their bytes read so far stay in the sockets, and
 * node:http2 reads those first (a socket paused on connect would be handed over without reading).
 */
export type PreboundListener = {
	readonly server: NetServer;
	/** From now on every connection goes to `accept`, those accepted so far first. */
	handOver(accept: (socket: Socket) => void): void;
	/**
	 * Stops listening and drops the connections not handed over: for an owner that gives up before a server
	 * took the listener over (then its server closes it). Safe to call after that server closed it.
	 */
	close(): Promise<void>;
};

export type GrpcServerOptions = {
	readonly host: string;
	/** 0: any free port. */
	readonly port: number;
	/** Serve on this server's port instead of listening anew (`host` and `port` are then its own). */
	readonly prebound?: PreboundListener;
	/** By path, `/<package>.<Service>/<Method>`. */
	readonly methods: Readonly<Record<string, GrpcMethod>>;
};

export class GrpcServer {
	private readonly sessions = new Set<Http2Session>();
	private readonly calls = new Set<OpenCall>();
	private keepAlive = true;

	private constructor(private readonly server: Http2Server, readonly port: number, private readonly prebound?: NetServer) {
		server.on('session', session => {
			this.sessions.add(session);
			if (!this.keepAlive) {
				session.unref();
			}

			// A session error (e.g. the peer vanished) is also a 'close'; without a listener it would be thrown.
			session.on('error', () => undefined);
			session.on('close', () => this.sessions.delete(session));
		});
	}

	static async listen(options: GrpcServerOptions): Promise<GrpcServer> {
		const server = http2.createServer();
		const { prebound } = options;
		if (!prebound) {
			await new Promise<void>((resolve, reject) => {
				server.once('error', reject);
				server.listen(options.port, options.host, () => {
					server.off('error', reject);
					resolve();
				});
			});
		}

		const listening = prebound?.server ?? server;
		const grpc = new GrpcServer(server, (listening.address() as AddressInfo).port, prebound?.server);
		server.on('stream', (stream, headers) => {
			grpc.onStream(stream, headers, options.methods);
		});
		// Handed over once streams have their handler: the connections that came early carry requests already.
		prebound?.handOver(socket => server.emit('connection', socket));
		return grpc;
	}

	/**
	 * Whether the listening socket and the open connections keep this process alive (they do by default):
	 * Node's ref()/unref() on the server and on each HTTP/2 session, including sessions opened later.
	 */
	keepProcessAlive(on: boolean): void {
		this.keepAlive = on;
		for (const target of [this.prebound ?? this.server, ...this.sessions]) {
			if (on) {
				target.ref();
			} else {
				target.unref();
			}
		}
	}

	/**
	 * Ends every call (status OK), stops listening and closes the connections: gracefully (GOAWAY, open streams
	 * finish) within `graceMs`, then by force. A client such as Envoy keeps its stream open, so the grace is short.
	 */
	async close(graceMs: number): Promise<void> {
		for (const call of this.calls) {
			call.end();
		}

		const closed = new Promise<void>(resolve => {
			(this.prebound ?? this.server).close(() => resolve());
		});
		for (const session of this.sessions) {
			session.close();
		}

		let timer: NodeJS.Timeout | undefined;
		const forced = new Promise<void>(resolve => {
			timer = setTimeout(() => {
				for (const session of this.sessions) {
					session.destroy();
				}

				resolve();
			}, graceMs);
			timer.unref();
		});
		await Promise.race([closed, forced]);
		clearTimeout(timer);
	}

	private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, methods: GrpcServerOptions['methods']): void {
		// A reset stream emits 'error'; the call (if any) reports it, otherwise it would be thrown.
		stream.on('error', () => undefined);
		const path = headers[':path'] ?? '';
		const method = Object.hasOwn(methods, path) ? methods[path] : undefined;
		const contentType = String(headers['content-type'] ?? '');
		if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
			// Not gRPC at all: plain HTTP answers (PROTOCOL-HTTP2.md: 415 for a wrong content-type).
			stream.respond({ ':status': headers[':method'] === 'POST' ? 415 : 405 }, { endStream: true });
			return;
		}

		if (!method) {
			stream.respond({
				':status': 200,
				'content-type': 'application/grpc',
				'grpc-status': String(grpcStatus.unimplemented),
				'grpc-message': percentEncode(`unknown method ${path}`),
			}, { endStream: true });
			return;
		}

		const call = method.open(stream);
		this.calls.add(call);
		call.once('end', () => this.calls.delete(call));
		call.start();
	}
}

/** A call on one HTTP/2 stream: frames requests out of the DATA chunks, frames responses into them. */
class BidiCall<Request, Response> extends EventEmitter implements GrpcBidiCall<Request, Response> {
	private pending: Buffer = Buffer.alloc(0);
	/** What the trailers say once the call ends. */
	private status: { code: number; message?: string } = { code: grpcStatus.ok };
	private ended = false;
	private finished = false;

	constructor(private readonly stream: ServerHttp2Stream, private readonly method: GrpcBidiMethod<Request, Response>) {
		super();
	}

	/** Answers the headers and starts reading: after the handler attached its listeners. */
	start(): void {
		const { stream } = this;
		stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity' }, { waitForTrailers: true });
		stream.on('wantTrailers', () => {
			stream.sendTrailers({ 'grpc-status': String(this.status.code), ...(this.status.message ? { 'grpc-message': percentEncode(this.status.message) } : {}) });
		});
		stream.on('data', (chunk: Buffer) => {
			this.onChunk(chunk);
		});
		stream.on('end', () => {
			this.finish();
		});
		stream.on('error', (error: Error) => {
			this.emit('error', error);
		});
		// Reset or connection lost: no 'end' comes.
		stream.on('close', () => {
			this.ended = true;
			this.finish();
		});
	}

	write(message: Response): void {
		if (this.ended || this.stream.destroyed) {
			return;
		}

		const body = this.method.encode(message);
		const frame = Buffer.allocUnsafe(prefixBytes + body.length);
		frame.writeUInt8(0, 0);
		frame.writeUInt32BE(body.length, 1);
		frame.set(body, prefixBytes);
		this.stream.write(frame);
	}

	end(): void {
		this.endWith({ code: grpcStatus.ok });
	}

	private endWith(status: { code: number; message?: string }): void {
		if (this.ended) {
			return;
		}

		this.ended = true;
		this.status = status;
		if (!this.stream.destroyed && !this.stream.closed) {
			// Ending the writable side asks for the trailers ('wantTrailers'), which carry the status.
			this.stream.end();
		}
	}

	private onChunk(chunk: Buffer): void {
		this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
		while (this.pending.length >= prefixBytes && !this.ended) {
			const length = this.pending.readUInt32BE(1);
			if (this.pending.length < prefixBytes + length) {
				return;
			}

			const compressed = this.pending.readUInt8(0) !== 0;
			const body = this.pending.subarray(prefixBytes, prefixBytes + length);
			this.pending = this.pending.subarray(prefixBytes + length);
			if (compressed) {
				this.fail(grpcStatus.unimplemented, 'compressed messages are not supported (grpc-accept-encoding: identity)');
				return;
			}

			let message: Request;
			try {
				message = this.method.decode(body);
			} catch (error) {
				this.fail(grpcStatus.internal, `a request message did not decode: ${(error as Error).message}`);
				return;
			}

			this.emit('data', message);
		}
	}

	private fail(code: number, message: string): void {
		this.endWith({ code, message });
		this.emit('error', new Error(message));
		this.finish();
	}

	/** Emits 'end' once, whichever way the call ended. */
	private finish(): void {
		if (!this.finished) {
			this.finished = true;
			this.emit('end');
		}
	}
}

/** grpc-message: percent-encoding of every byte outside printable ASCII, and of '%' (PROTOCOL-HTTP2.md). */
function percentEncode(text: string): string {
	let encoded = '';
	for (const byte of Buffer.from(text, 'utf8')) {
		encoded += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
	}

	return encoded;
}
