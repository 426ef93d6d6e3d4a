/**
 * The docker runtime's TCP listeners: their apps run in the harness (../tcp-apps.ts) and Envoy in its container
 * reaches each through a relay on the sandbox network's gateway that admits the sandbox's containers only
 * (./host-relay.ts), as it reaches mock services; each listener binds a fixed port of the container
 * (./layout.ts containerTcpListenerPort), published on the host.
 */
import type { SandboxModel } from '../../config/model.ts';
import type { SocketAddress } from '../../envoy/placement.ts';
import { MeshboxError } from '../../errors.ts';
import type { TcpApps } from '../tcp-apps.ts';
import { startRelay, type Relay, type RelayAdmission } from './host-relay.ts';

export type TcpAppRelays = {
	/** How Envoy in the container reaches a listener's app. */
	readonly address: (listenerName: string) => SocketAddress;
	stop(): Promise<void>;
};

export async function relayTcpApps(model: SandboxModel, apps: TcpApps, local: boolean, gateway: string | undefined, admit: RelayAdmission): Promise<TcpAppRelays> {
	const relays = new Map<string, Relay>();
	const stop = async () => {
		await Promise.all([...relays.values()].map(async relay => relay.stop()));
	};

	const names = (model.listeners?.tcp ?? []).map(listener => listener.name);
	if (names.length > 0 && (!local || !gateway)) {
		throw new MeshboxError('DOCKER_FAILED', `the TCP listener(s) ${names.join(', ')} need their recording app, which runs on this machine: ${local
			? 'the sandbox network has no gateway address to reach it by' : 'Envoy cannot reach it on a remote Docker daemon'}`,
		local ? 'check the Docker daemon\'s network settings (bridge driver, IPAM)' : 'use a local Docker daemon or the local runtime for TCP listeners');
	}

	try {
		for (const [name, app] of apps.apps) {
			relays.set(name, await startRelay(gateway!, { host: '127.0.0.1', port: app.address.port }, admit));
		}
	} catch (error) {
		await stop();
		throw error;
	}

	return {
		address: name => ({ address: gateway!, port: relays.get(name)!.port }),
		stop,
	};
}
