/**
 * Lets Envoy in a container call services that listen on this machine's loopback (a scenario's mock
 * services, or any `127.0.0.1:port` cluster): a TCP relay in this process, listening on the gateway address of
 * the sandbox's network. That address belongs to the host's bridge interface, so only this machine and the
 * containers on that network reach it; the service itself stays on loopback.
 */
import net from 'node:net';

export type Relay = { readonly port: number; stop(): Promise<void> };

export function isLoopback(host: string): boolean {
	return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export async function startRelay(bindAddress: string, target: { host: string; port: number }): Promise<Relay> {
	const sockets = new Set<net.Socket>();
	const track = (socket: net.Socket) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	};

	const server = net.createServer(client => {
		const upstream = net.connect({ host: target.host, port: target.port });
		track(client);
		track(upstream);
		// Either side failing or closing ends both: Envoy sees what it would see talking to the service directly.
		client.on('error', () => upstream.destroy());
		upstream.on('error', () => client.destroy());
		client.pipe(upstream);
		upstream.pipe(client);
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
