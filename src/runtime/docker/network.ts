/**
 * The sandbox's own Docker network, and how its containers reach this machine: the network's gateway (this
 * machine's address on the bridge), the containers admitted there (only the sandbox's own), and relays that
 * let Envoy call services on this machine's loopback (./host-relay.ts).
 */
import type Dockerode from 'dockerode';
import type { SandboxModel } from '../../config/model.ts';
import type { SocketAddress } from '../../envoy/bootstrap.ts';
import { MeshboxError } from '../../errors.ts';
import type { DockerConnection } from './daemon.ts';
import { isLoopback, startRelay, type RelayAdmission } from './host-relay.ts';

/** How long a start waits for Docker to have an address pool for one more network. */
const networkWaitMs = 120_000;

/**
 * Docker gives each bridge network a subnet from a fixed set of pools (about 30 networks with its
 * defaults), so many sandboxes at once (tests running concurrently) can run out: then wait for another
 * sandbox to stop rather than fail at once.
 */
export async function createNetwork(connection: DockerConnection, name: string, labels: Readonly<Record<string, string>>, progress: (line: string) => void): Promise<Dockerode.Network> {
	const started = Date.now();
	let announced = false;
	for (;;) {
		try {
			return await connection.client.network.create({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { ...labels } });
		} catch (error) {
			if (!/non-overlapping IPv4 address pool|could not find an available/.test((error as Error).message)) {
				throw error;
			}

			if (Date.now() - started > networkWaitMs) {
				throw new MeshboxError('DOCKER_FAILED', `Docker has no address pool left for another network after ${networkWaitMs / 1000} s: too many sandboxes (or other networks) at once`,
					'run fewer docker sandboxes at once (test.serial), remove unused networks (`docker network prune`), or give dockerd more pools (--default-address-pool base=172.16.0.0/12,size=24)');
			}

			if (!announced) {
				progress('meshbox: Docker has no address pool left for another network; waiting for a sandbox to stop');
				announced = true;
			}

			await new Promise(resolve => setTimeout(resolve, 250));
		}
	}
}

export type ClusterRelay = { cluster: string; address: SocketAddress; stop(): Promise<void> };

/**
 * The network's gateway: this machine's address on the sandbox's bridge. Requests to published ports reach
 * Envoy from there (Docker forwards them), so it is the client address plugins see in `source.address`.
 */
export async function gatewayOf(network: Dockerode.Network): Promise<string | undefined> {
	const info = await network.inspect() as { IPAM?: { Config?: Array<{ Gateway?: string }> } };
	return info.IPAM?.Config?.find(config => config.Gateway)?.Gateway;
}

/**
 * Admits the containers attached to the sandbox's network (its own: only meshbox attaches containers to
 * it), by their address on it. The addresses are known only once the containers run, so an address not seen
 * yet is looked up again (one inspect at a time), and whatever else connects is refused.
 */
export function networkMembers(network: Dockerode.Network): RelayAdmission {
	let members = new Set<string>();
	let lookup: Promise<void> | undefined;
	const refresh = async () => {
		const info = await network.inspect() as { Containers?: Record<string, { IPv4Address?: string }> };
		members = new Set(Object.values(info.Containers ?? {}).map(container => container.IPv4Address?.split('/')[0] ?? '').filter(Boolean));
	};

	const lookUp = async () => {
		lookup ??= refresh().finally(() => {
			lookup = undefined;
		});
		return lookup;
	};

	return async address => {
		// A lookup already under way may have started before this container joined: then one more.
		for (let attempt = 0; attempt < 2 && !members.has(address); attempt++) {
			await lookUp();
		}

		return members.has(address);
	};
}

/** A relay per cluster on this machine's loopback, reachable from the sandbox's containers only (see ./host-relay.ts). */
export async function relayLoopbackClusters(model: SandboxModel, local: boolean, gateway: string | undefined, admit: RelayAdmission): Promise<ClusterRelay[]> {
	const loopbackClusters = model.clusters.filter(cluster => isLoopback(cluster.host));
	if (loopbackClusters.length === 0) {
		return [];
	}

	const names = loopbackClusters.map(cluster => cluster.name).join(', ');
	if (!local) {
		throw new MeshboxError('DOCKER_FAILED', `cluster(s) ${names} are on this machine's loopback, which Envoy cannot reach on a remote Docker daemon`,
			'give those clusters an address the daemon\'s machine can reach, or use a local daemon / the local runtime');
	}

	if (!gateway) {
		throw new MeshboxError('DOCKER_FAILED', `the sandbox network has no gateway address, so Envoy cannot reach cluster(s) ${names} on this machine`,
			'check the Docker daemon\'s network settings (bridge driver, IPAM)');
	}

	const relays: ClusterRelay[] = [];
	try {
		for (const cluster of loopbackClusters) {
			const relay = await startRelay(gateway, { host: cluster.host === 'localhost' ? '127.0.0.1' : cluster.host, port: cluster.port }, admit);
			relays.push({ cluster: cluster.name, address: { address: gateway, port: relay.port }, stop: async () => relay.stop() });
		}
	} catch (error) {
		await Promise.all(relays.map(async relay => relay.stop()));
		throw error;
	}

	return relays;
}
