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
 *
 * A request message longer than `maxRequestBytes` (4 MiB, gRPC's default receive limit) ends the call with
 * status 8 (RESOURCE_EXHAUSTED) as soon as its length prefix arrives, without buffering it: any local process
 * can connect, and a 4 GB length prefix must not hold memory or a core. Messages are reassembled by collecting
 * the DATA chunks and copying them once, when the whole message is there (linear in its size).
 */
import { EventEmitter } from 'node:events';
import http2, { type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';

/** gRPC status codes used here (grpc/doc/statuscodes.md). */
const grpcStatus = { ok: 0, resourceExhausted: 8, internal: 13, unimplemented: 12 } as const;

/**
 * The largest request message a call accepts: gRPC's default max receive message size (grpc-go
 * `defaultServerMaxReceiveMessageSize`, grpc-core `GRPC_DEFAULT_MAX_RECV_MESSAGE_LENGTH`: 4 MiB; istiod keeps it,
 * pilot's ISTIO_GPRC_MAXRECVMSGSIZE). What Envoy sends the ADS server is far smaller: DiscoveryRequests carry
 * its node (tens of KiB with its extension list), resource names and, in a NACK, an error_detail whose message
 * Envoy truncates to 4096 bytes (source/common/config/utility.cc, Utility::truncateGrpcStatusMessage).
 */
export const maxRequestBytes = 4 * 1024 * 1024;

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
	/** DATA chunks not yet framed into messages, and their total length. */
	private chunks: Buffer[] = [];
	private buffered = 0;
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
			if (this.status.code !== grpcStatus.ok && !stream.readableEnded) {
				// The response is complete but the client may still be sending (the rest of an oversize message): ask it
				// to stop with RST_STREAM NO_ERROR after the trailers (RFC 9113 §8.1; grpc-go's server does the same).
				// On the next turn: node:http2 writes the submitted trailers in its own immediate, and a stream reset
				// before that drops them (the client then sees a reset without a status).
				setImmediate(() => stream.close(http2.constants.NGHTTP2_NO_ERROR));
			}
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
		if (this.ended || chunk.length === 0) {
			// After a failure the rest of what the client sends is dropped, not buffered.
			return;
		}

		this.chunks.push(chunk);
		this.buffered += chunk.length;
		while (this.buffered >= prefixBytes && !this.ended) {
			const prefix = this.front(prefixBytes);
			const length = prefix.readUInt32BE(1);
			if (length > maxRequestBytes) {
				this.fail(grpcStatus.resourceExhausted, `a request message of ${length} bytes is larger than the limit of ${maxRequestBytes} bytes`);
				this.chunks = [];
				this.buffered = 0;
				return;
			}

			if (this.buffered < prefixBytes + length) {
				return;
			}

			const compressed = prefix.readUInt8(0) !== 0;
			const body = this.take(prefixBytes + length).subarray(prefixBytes);
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

	/** The first `count` buffered bytes (count ≤ buffered), without consuming them; copies only a short prefix. */
	private front(count: number): Buffer {
		const [first] = this.chunks;
		// Chunks are never empty, so `count` chunks hold at least `count` bytes.
		return first && first.length >= count ? first : Buffer.concat(this.chunks.slice(0, count));
	}

	/**
	 * Removes and returns the first `count` buffered bytes (count ≤ buffered). The chunks are copied once into one
	 * buffer; what follows the message stays as a view of it, so a byte is copied at most twice however the
	 * message was split into DATA frames (concatenating at every chunk copied it once per chunk: quadratic).
	 */
	private take(count: number): Buffer {
		const whole = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
		const rest = whole.subarray(count);
		this.chunks = rest.length > 0 ? [rest] : [];
		this.buffered = rest.length;
		return whole.subarray(0, count);
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
