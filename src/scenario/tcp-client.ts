/**
 * `box.tcp()`: a TCP client for a sandbox's TCP listeners (src/config/listeners.ts). It connects, sends bytes,
 * half-closes its side (unless told not to) and reads what comes back until the other side closes, `until`
 * shows up, or the timeout passes.
 */
import net from 'node:net';
import { MeshboxError } from '../errors.ts';

export type TcpOptions = {
	/**
	 * Half-close after sending (a FIN: "nothing more from me"), as `nc -N` does. Default true: Envoy's tcp_proxy
	 * passes it on, an echoing app closes once it answered everything, and the exchange ends when it does.
	 * `false`: the connection stays open until `until` is seen (then the client closes) or the server closes.
	 */
	end?: boolean;
	/** Stop reading (and close) once the received text contains this. */
	until?: string;
	/** Default 10 s: then the exchange fails with what arrived so far. */
	timeoutMs?: number;
};

export type TcpExchange = {
	/** What came back (UTF-8). */
	readonly received: string;
	readonly receivedBytes: number;
	/** `server`: Envoy closed the connection (after the app did, or on its own); `client`: this side did (`until` seen). */
	readonly closedBy: 'server' | 'client';
};

export async function tcpExchange(address: { address: string; port: number }, data: string | Uint8Array, options: TcpOptions = {}): Promise<TcpExchange> {
	const timeoutMs = options.timeoutMs ?? 10_000;
	const where = `${address.address}:${address.port}`;
	return new Promise<TcpExchange>((resolve, reject) => {
		const chunks: Buffer[] = [];
		const received = () => Buffer.concat(chunks);
		let settled = false;
		const socket = net.connect({ host: address.address, port: address.port, allowHalfOpen: true });
		// Settles once: the connection is closed and what came back is handed to `settle`.
		const end = (settle: (bytes: Buffer) => void) => {
			if (settled) {
				return;
			}

			settled = true;
			clearTimeout(timer);
			socket.destroy();
			settle(received());
		};

		const finish = (closedBy: TcpExchange['closedBy']) => end(bytes => {
			resolve({ received: bytes.toString('utf8'), receivedBytes: bytes.length, closedBy });
		});
		const fail = (problem: string, hint: string) => end(bytes => {
			reject(new MeshboxError('TCP_FAILED', `box.tcp() to ${where}: ${problem}`, hint,
				[`received so far (${bytes.length} bytes): ${JSON.stringify(bytes.toString('utf8').slice(0, 200))}`]));
		});

		const timer = setTimeout(() => {
			fail(`no ${options.until === undefined ? 'close' : JSON.stringify(options.until)} within ${timeoutMs} ms`,
				options.end === false && options.until === undefined
					? 'with end: false the connection stays open: give `until`, or let the client half-close (end: true)'
					: 'check what the plugins and the app did (box.logs(), box.tcpApps.<listener>.connections()), or raise timeoutMs');
		}, timeoutMs);
		socket.once('connect', () => {
			socket.write(data);
			if (options.end !== false) {
				socket.end();
			}
		});
		socket.on('data', (chunk: Buffer) => {
			chunks.push(chunk);
			if (options.until !== undefined && received().toString('utf8').includes(options.until)) {
				finish('client');
			}
		});
		socket.once('end', () => {
			finish('server');
		});
		socket.once('error', (error: NodeJS.ErrnoException) => {
			// A reset after data arrived is still the server's close (Envoy resets when the upstream is gone).
			if (error.code === 'ECONNRESET' && chunks.length > 0) {
				finish('server');
				return;
			}

			fail(error.message, error.code === 'ECONNREFUSED' ? 'the sandbox is stopped, or this is not its TCP listener' : 'see Envoy\'s log: box.envoyLogs()');
		});
	});
}
