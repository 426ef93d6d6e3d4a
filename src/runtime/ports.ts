/**
 * Checking that a requested port is free before Envoy tries it, so the user gets one clear sentence
 * instead of Envoy's "cannot bind" buried in its start-up log.
 */
import net from 'node:net';
import type { SandboxModel } from '../config/model.ts';
import { MeshboxError } from '../errors.ts';

/** A port a sandbox asks for, as errors name it: what it is and the setting that chooses it. */
export type PortClaim = { readonly port: number; readonly what: string; readonly flag: string };

/** The sandbox's listener port (`meshbox up --port`, `port:` in a spec). */
export function listenerPortClaim(model: SandboxModel): PortClaim {
	return { port: model.port, what: 'listener', flag: '--port' };
}

/** Envoy's admin port (`--admin-port`, `adminPort:`). */
export function adminPortClaim(model: SandboxModel): PortClaim {
	return { port: model.adminPort, what: 'admin', flag: '--admin-port' };
}

/** Throws PORT_IN_USE when the claimed port cannot be bound on `host`. Port 0 (any free port) always passes. */
export async function assertPortFree(host: string, { port, what, flag }: PortClaim): Promise<void> {
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
		throw portInUse(host, port, what, flag);
	}

	throw new MeshboxError('PORT_IN_USE', `${what} port ${port} on ${host} cannot be used: ${problem.message}`,
		`pass ${flag} with another port${problem.code === 'EACCES' ? ' (ports below 1024 need privileges)' : ''}`);
}

/**
 * PORT_IN_USE for `port`: found free by Node, or taken by the time Envoy listens on it (another sandbox starting
 * at the same moment); `details` say what Envoy said then.
 */
export function portInUse(host: string, port: number, what: string, flag: string, details?: readonly string[]): MeshboxError {
	return new MeshboxError('PORT_IN_USE', `${what} port ${port} on ${host} is already in use by another process`,
		`pass ${flag} with another port (or 0 for any free one), or stop what is using it (e.g. \`ss -ltnp 'sport = :${port}'\`)`, details);
}
