/**
 * The recording TCP app behind a TCP listener's tcp_proxy (src/config/listeners.ts): it answers as configured
 * (echo every byte, or one fixed reply after the first bytes, optionally closing) and records each connection:
 * when it opened and closed, who closed it, and the bytes in both directions.
 *
 * It runs in the harness on every runtime (the docker runtime's Envoy reaches it through a relay on the sandbox
 * network's gateway, as it reaches mock services), so recordings are read in-process.
 */
import net from 'node:net';
import type { TcpAppModel } from '../config/listeners.ts';

/** One connection as the app saw it. */
export type TcpConnectionRecord = {
	/** 1, 2, … in the order connections were accepted (since start, not reset by clear()). */
	readonly id: number;
	/** Who connected, `host:port`: Envoy's upstream connection (or the docker relay's). */
	readonly peer: string;
	/** When the connection was accepted (ms since the epoch). */
	readonly opened: number;
	/** When it was closed; undefined while open. */
	readonly closed: number | undefined;
	/** `client`: the other side (Envoy) closed first; `app`: the app closed (a reply with `close: true`); `error`: reset. */
	readonly closedBy: 'client' | 'app' | 'error' | undefined;
	/** What the app received (UTF-8; `receivedBytes` counts the bytes). */
	readonly received: string;
	readonly receivedBytes: number;
	/** What the app sent back. */
	readonly sent: string;
	readonly sentBytes: number;
};

/** How a scenario reads a TCP app's recordings (async like UpstreamRecordings, whatever runs the app). */
export type TcpAppRecordings = {
	/** Every connection since start or the last clear(), oldest first (the latest 1000 are kept). */
	connections(): Promise<TcpConnectionRecord[]>;
	/** Forget the recordings. */
	clear(): Promise<void>;
};

const maxConnections = 1000;

type MutableRecord = {
	id: number;
	peer: string;
	opened: number;
	closed: number | undefined;
	closedBy: TcpConnectionRecord['closedBy'];
	received: Buffer[];
	sent: Buffer[];
};

export class RecordingTcpApp implements TcpAppRecordings {
	private records: MutableRecord[] = [];
	private nextId = 1;
	private readonly sockets = new Set<net.Socket>();

	private constructor(private readonly server: net.Server) {}

	static async start({ host, port = 0, answer }: { host: string; port?: number; answer: TcpAppModel }): Promise<RecordingTcpApp> {
		// allowHalfOpen: a client's FIN (Envoy's tcp_proxy passes half-closes on) does not end the app's side
		// at once: an echo first sends back what it got, then closes.
		const server = net.createServer({ allowHalfOpen: true });
		const app = new RecordingTcpApp(server);
		server.on('connection', socket => {
			app.serve(socket, answer);
		});
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(port, host, () => {
				server.off('error', reject);
				resolve();
			});
		});
		return app;
	}

	get address(): { host: string; port: number } {
		const info = this.server.address() as net.AddressInfo;
		return { host: info.address, port: info.port };
	}

	async connections(): Promise<TcpConnectionRecord[]> {
		return this.records.map(record => {
			const received = Buffer.concat(record.received);
			const sent = Buffer.concat(record.sent);
			return {
				id: record.id,
				peer: record.peer,
				opened: record.opened,
				closed: record.closed,
				closedBy: record.closedBy,
				received: received.toString('utf8'),
				receivedBytes: received.length,
				sent: sent.toString('utf8'),
				sentBytes: sent.length,
			};
		});
	}

	async clear(): Promise<void> {
		this.records = [];
	}

	async stop(): Promise<void> {
		for (const socket of this.sockets) {
			socket.destroy();
		}

		await new Promise<void>(resolve => {
			this.server.close(() => resolve());
		});
	}

	private serve(socket: net.Socket, answer: TcpAppModel): void {
		this.sockets.add(socket);
		const record: MutableRecord = {
			id: this.nextId++,
			peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
			opened: Date.now(),
			closed: undefined,
			closedBy: undefined,
			received: [],
			sent: [],
		};
		this.records.push(record);
		if (this.records.length > maxConnections) {
			this.records.shift();
		}

		const send = (data: Buffer) => {
			record.sent.push(data);
			socket.write(data);
		};

		let replied = false;
		socket.on('data', (chunk: Buffer) => {
			record.received.push(chunk);
			if (answer.mode === 'echo') {
				send(chunk);
			} else if (!replied) {
				replied = true;
				send(Buffer.from(answer.reply, 'utf8'));
				if (answer.close) {
					record.closedBy ??= 'app';
					socket.end();
				}
			}
		});
		socket.on('end', () => {
			record.closedBy ??= 'client';
			socket.end();
		});
		socket.on('error', () => {
			record.closedBy ??= 'error';
			socket.destroy();
		});
		socket.on('close', () => {
			record.closed = Date.now();
			this.sockets.delete(socket);
		});
	}
}
