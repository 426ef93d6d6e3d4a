/**
 * Lets Envoy in a container call services that listen on this machine's loopback (a scenario's mock
 * services, or any `127.0.0.1:port` cluster): a TCP relay in this process, listening on the gateway address of
 * the sandbox's network. That address belongs to the host's bridge interface, so this machine (any local
 * user, and every container on a bridge: Docker routes between bridges and the host) can reach it, while the
 * service itself was meant for loopback only. So the relay serves only the sandbox's own containers (their
 * addresses on the sandbox's network) and closes any other connection before it reaches the service.
 */
import net from 'node:net';

export type Relay = { readonly port: number; stop(): Promise<void> };

export function isLoopback(host: string): boolean {
	return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Decides whether a connection from `address` (IPv4, as seen on the gateway) may reach the service: true only
 * for the sandbox's own containers.
 */
export type RelayAdmission = (address: string) => Promise<boolean>;

export async function startRelay(bindAddress: string, target: { host: string; port: number }, admit: RelayAdmission): Promise<Relay> {
	const sockets = new Set<net.Socket>();
	const track = (socket: net.Socket) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	};

	// allowHalfOpen on both legs: a half-close (FIN) passes through as a half-close (pipe() ends the other leg),
	// so a TCP app can still answer after its client is done sending (tcp_proxy passes half-closes on).
	// noDelay on both legs: a relay forwards each write at once, as Envoy's own proxies do (TCP_NODELAY on its
	// connections). With Nagle's algorithm, a small write that follows an unacknowledged one waits for the peer's
	// delayed ACK (~40 ms on Linux): the xDS stream's request/response turns paid it on every start.
	const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, client => {
		track(client);
		client.on('error', () => client.destroy());
		// The gateway itself is this machine, never a container: no need to ask.
		const address = unmapped(client.remoteAddress ?? '');
		const admitted = address === bindAddress ? Promise.resolve(false) : admit(address).catch(() => false);
		void admitted.then(ok => {
			if (client.destroyed) {
				return;
			}

			if (!ok) {
				// A reset, not a FIN: the client learns at once that nobody served it.
				client.resetAndDestroy();
				return;
			}

			const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
			track(upstream);
			// Either side failing or closing ends both: Envoy sees what it would see talking to the service directly.
			client.on('error', () => upstream.destroy());
			upstream.on('error', () => client.destroy());
			client.pipe(upstream);
			upstream.pipe(client);
			client.resume();
		});
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen({ host: bindAddress, port: 0 }, () => {
			server.off('error', reject);
			resolve();
		});
	});
	return {
		port: (server.address() as net.AddressInfo).port,
		stop: async () => {
			for (const socket of sockets) {
				socket.destroy();
			}

			await new Promise<void>(resolve => {
				server.close(() => resolve());
			});
		},
	};
}

/** `::ffff:172.18.0.3` → `172.18.0.3` (a dual-stack socket reports IPv4 peers so). */
function unmapped(address: string): string {
	return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}
