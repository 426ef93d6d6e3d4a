/**
 * The recording TCP apps of a sandbox's TCP listeners (src/config/listeners.ts), one per listener, in the
 * harness on every runtime (src/upstream/tcp-app.ts), and what a scenario reaches them by: the listener's
 * address for `box.tcp()` and the app's recordings.
 */
import type { TcpListenerModel } from '../config/listeners.ts';
import type { SandboxModel } from '../config/model.ts';
import type { SocketAddress } from '../envoy/placement.ts';
import { RecordingTcpApp, type TcpAppRecordings } from '../upstream/tcp-app.ts';
import { assertPortFree, type PortClaim } from './ports.ts';

/** Where a client connects to each TCP listener, and what its app recorded, by listener name. */
export type TcpEndpoints = {
	readonly listeners: ReadonlyMap<string, SocketAddress>;
	readonly apps: ReadonlyMap<string, TcpAppRecordings>;
};

export type TcpApps = {
	readonly apps: ReadonlyMap<string, RecordingTcpApp>;
	stop(): Promise<void>;
};

/** Starts one app per TCP listener on `host` (a free port each); none without TCP listeners. */
export async function startTcpApps(model: SandboxModel, host: string): Promise<TcpApps> {
	const apps = new Map<string, RecordingTcpApp>();
	const stop = async () => {
		await Promise.all([...apps.values()].map(async app => app.stop()));
	};

	try {
		for (const listener of model.listeners?.tcp ?? []) {
			apps.set(listener.name, await RecordingTcpApp.start({ host, answer: listener.app }));
		}
	} catch (error) {
		await stop();
		throw error;
	}

	return { apps, stop };
}

/** The TCP listeners' fixed ports must be free on `host` (where they are bound or published). */
export async function assertTcpPortsFree(model: SandboxModel, host: string): Promise<void> {
	for (const listener of model.listeners?.tcp ?? []) {
		await assertPortFree(host, tcpPortClaim(listener));
	}
}

/** A TCP listener's port as errors name it: what it is and the setting that chooses it. */
export function tcpPortClaim(listener: TcpListenerModel): PortClaim {
	return { port: listener.port, what: `TCP listener ${listener.name}`, flag: `listeners.${listener.name}.port` };
}

/** The endpoints once Envoy listens: `address(name)` says where the runtime's listener of that name is reachable. */
export async function tcpEndpoints(model: SandboxModel, apps: TcpApps, address: (listener: TcpListenerModel) => Promise<SocketAddress>): Promise<TcpEndpoints | undefined> {
	const tcp = model.listeners?.tcp ?? [];
	if (tcp.length === 0) {
		return undefined;
	}

	const listeners = new Map<string, SocketAddress>();
	for (const listener of tcp) {
		listeners.set(listener.name, await address(listener));
	}

	return { listeners, apps: apps.apps };
}
