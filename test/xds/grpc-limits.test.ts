/**
 * The xDS control plane's gRPC server against a hostile local client (issue #20, item 6): a real node:http2
 * client, speaking gRPC's framing by hand, to the real GrpcServer. An oversize length prefix ends the call with
 * RESOURCE_EXHAUSTED at once (nothing buffered, the stream closed); a message split into many small writes is
 * reassembled intact.
 */
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import test from 'ava';
import { bidiMethod, GrpcServer, maxRequestBytes } from '../../src/xds/grpc-server.ts';

const path = '/test.Echo/Digest';

/** Serves one method: each request message is answered with its sha256 (hex); the call ends when the client's does. */
async function digestServer(failures: string[]): Promise<GrpcServer> {
	return GrpcServer.listen({
		host: '127.0.0.1',
		port: 0,
		methods: {
			[path]: bidiMethod<Buffer, string>({
				decode: bytes => Buffer.from(bytes),
				encode: text => Buffer.from(text),
				handle(call) {
					call.on('data', message => {
						call.write(createHash('sha256').update(message).digest('hex'));
					});
					call.on('error', error => failures.push(error.message));
					call.on('end', () => {
						call.end();
					});
				},
			}),
		},
	});
}

function prefix(length: number): Buffer {
	const bytes = Buffer.alloc(5);
	bytes.writeUInt32BE(length, 1);
	return bytes;
}

type CallResult = { status: string | undefined; message: string | undefined; replies: string[]; clientEnded: boolean };

/**
 * One call: writes `bytes` in pieces of `piece` bytes (waiting for drain), then ends its side, unless the
 * server closed the stream first. Resolves when the stream closes.
 */
async function call(server: GrpcServer, bytes: Buffer, piece: number): Promise<CallResult> {
	const session = http2.connect(`http://127.0.0.1:${server.port}`);
	session.on('error', () => undefined);
	try {
		const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
		stream.on('error', () => undefined);
		const result: CallResult = { status: undefined, message: undefined, replies: [], clientEnded: false };
		let received = Buffer.alloc(0);
		stream.on('data', (chunk: Buffer) => {
			received = Buffer.concat([received, chunk]);
			while (received.length >= 5 && received.length >= 5 + received.readUInt32BE(1)) {
				const length = received.readUInt32BE(1);
				result.replies.push(received.subarray(5, 5 + length).toString());
				received = received.subarray(5 + length);
			}
		});
		stream.on('trailers', trailers => {
			result.status = trailers['grpc-status'] as string | undefined;
			result.message = trailers['grpc-message'] as string | undefined;
		});
		const closed = new Promise<void>(resolve => stream.on('close', resolve));
		for (let offset = 0; offset < bytes.length && !stream.closed && !stream.destroyed; offset += piece) {
			if (!stream.write(bytes.subarray(offset, offset + piece))) {
				await new Promise<void>(resolve => {
					const done = () => {
						stream.off('drain', done);
						stream.off('close', done);
						resolve();
					};

					stream.on('drain', done);
					stream.on('close', done);
				});
			}
		}

		if (!stream.closed && !stream.destroyed) {
			result.clientEnded = true;
			stream.end();
		}

		await closed;
		return result;
	} finally {
		session.close();
	}
}

test('a 4 GB length prefix ends the call with RESOURCE_EXHAUSTED at once and closes the stream while the client still sends', async t => {
	const failures: string[] = [];
	const server = await digestServer(failures);
	t.teardown(async () => server.close(100));
	// The prefix says 0xFFFFFFFF bytes; 64 MiB follow, which the server must neither wait for nor keep.
	const result = await call(server, Buffer.concat([prefix(0xFF_FF_FF_FF), Buffer.alloc(64 * 1024 * 1024, 'x')]), 16 * 1024);
	t.is(result.status, '8', 'grpc-status RESOURCE_EXHAUSTED');
	t.is(result.message, `a request message of 4294967295 bytes is larger than the limit of ${maxRequestBytes} bytes`);
	t.false(result.clientEnded, 'the server closed the stream before the client had sent the rest');
	t.deepEqual(failures, [result.message], 'the handler heard why the call ended');
});

test('a message one byte over the limit is refused; one of exactly the limit, written in 1 KiB pieces, arrives intact, and so does the next', async t => {
	const failures: string[] = [];
	const server = await digestServer(failures);
	t.teardown(async () => server.close(100));

	const over = await call(server, Buffer.concat([prefix(maxRequestBytes + 1), Buffer.alloc(maxRequestBytes + 1)]), 64 * 1024);
	t.is(over.status, '8');
	t.deepEqual(over.replies, []);

	const big = Buffer.alloc(maxRequestBytes);
	for (let index = 0; index < big.length; index += 4) {
		big.writeUInt32BE(index, index);
	}

	const small = Buffer.from('after the big one');
	const result = await call(server, Buffer.concat([prefix(big.length), big, prefix(small.length), small]), 1024);
	t.is(result.status, '0', result.message);
	t.deepEqual(result.replies, [createHash('sha256').update(big).digest('hex'), createHash('sha256').update(small).digest('hex')]);
});
