/**
 * Checking that a requested port is free before Envoy tries it, so the user gets one clear sentence
 * instead of Envoy's "cannot bind" buried in its start-up log.
 */
import net from 'node:net';
import { MeshboxError } from '../errors.ts';

/** Throws PORT_IN_USE when `port` cannot be bound on `host`. Port 0 (any free port) always passes. */
export async function assertPortFree(host: string, port: number, what: string, flag: string): Promise<void> {
	if (port === 0) {
		return;
	}

	const problem = await new Promise<NodeJS.ErrnoException | undefined>(resolve => {
		const server = net.createServer();
		server.once('error', error => resolve(error as NodeJS.ErrnoException));
		server.listen({ host, port, exclusive: true }, () => {
			server.close(() => resolve(undefined));
		});
	});
	if (!problem) {
		return;
	}

	if (problem.code === 'EADDRINUSE') {
		throw new MeshboxError('PORT_IN_USE', `${what} port ${port} on ${host} is already in use by another process`,
			`pass ${flag} with another port (or 0 for any free one), or stop what is using it (e.g. \`ss -ltnp 'sport = :${port}'\`)`);
	}

	throw new MeshboxError('PORT_IN_USE', `${what} port ${port} on ${host} cannot be used: ${problem.message}`,
		`pass ${flag} with another port${problem.code === 'EACCES' ? ' (ports below 1024 need privileges)' : ''}`);
}
