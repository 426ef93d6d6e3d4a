/**
 * A mesh on the docker runtime (issue #21): each proxy is a sandbox of its own (its network, its app, its
 * Envoy container), and every proxy's Envoy container also joins ONE network per mesh, under the names a
 * cluster's DNS answers for it (`MeshPlacement.aliases`: for a sidecar every Service it backs as `reviews`,
 * `reviews.default`, `reviews.default.svc.cluster.local`; Docker's DNS answers a name shared by several proxies
 * with all their addresses, not one ClusterIP). There each listener binds `0.0.0.0` at the port Istio gives
 * it, so another proxy reaches it at `<proxy name>:<that port>`, known before anything starts: no second push.
 *
 *   - sidecar inbound (`virtualInbound`): 15006, Istio's capture port (istio/istio
 *     pilot/pkg/networking/core/v1alpha3/listener.go, `ProxyInboundListenPort = 15006`);
 *   - sidecar outbound (`0.0.0.0_<port>`): the service port (no iptables: the app sends to that port);
 *   - gateway (`0.0.0.0_<targetPort>`): the gateway's container port (8080 for the Service's 80).
 *
 * Each listener is also published on 127.0.0.1 at a free port, for clients on this machine.
 *
 * The mesh network is created by the first proxy of this process that joins it and removed when the last one
 * leaves. It carries a session label of its own with this process as owner, so the reaper removes it after a
 * crash (./reaper.ts), and no proxy's stop can remove it under another proxy.
 */
import type { MeshEndpointRef, ProxyListenerModel, ProxyModel } from '../../config/model.ts';
import type { Placement, SocketAddress } from '../../envoy/placement.ts';
import { MeshboxError } from '../../errors.ts';
import type { ListenerAddress, MeshPlacement } from '../types.ts';
import type { DockerConnection } from './daemon.ts';
import { isLoopback, startRelay, type RelayAdmission } from './host-relay.ts';
import { labelKeys, newSessionId, sandboxLabels } from './labels.ts';
import { containerAdminPort } from './layout.ts';
import { createNetwork } from './network.ts';
import { removeSandboxes } from './reaper.ts';

/** Istio's sidecar inbound capture port (see the module comment). */
export const inboundListenerPort = 15_006;

/** Where a mesh proxy's listener binds in its container, as Istio places it (see the module comment). */
export function meshListenerPort(listener: ProxyListenerModel): number {
	return listener.role === 'inbound' ? inboundListenerPort : listener.port;
}

/**
 * Each listener's port in the container, checked: two listeners on one port, or one on the admin's, could
 * not both bind (Envoy would refuse the second with a bind error that names neither).
 */
export function meshListenerPorts(proxy: ProxyModel): ReadonlyMap<string, number> {
	const ports = new Map<string, number>();
	const owners = new Map<number, string>([[containerAdminPort, 'Envoy\'s admin interface']]);
	for (const listener of proxy.listeners) {
		const port = meshListenerPort(listener);
		const owner = owners.get(port);
		if (owner) {
			throw new MeshboxError('CONFIG_INVALID', `mesh proxy ${proxy.name}: listener ${listener.name} (${listener.role}) would bind port ${port} in its container, which ${owner} binds already`,
				`give the Service or gateway port another number than ${port}${port === containerAdminPort ? ' (meshbox\'s admin port in a container)' : ''}, or run the mesh on the local runtime`);
		}

		owners.set(port, `listener ${listener.name}`);
		ports.set(listener.name, port);
	}

	return ports;
}

/** Everything the proxy's container answers to on the mesh network: its name first, then its Services'. */
export function meshAliases(proxy: ProxyModel, mesh: MeshPlacement | undefined): string[] {
	return [...new Set([proxy.name, ...(mesh?.aliases?.(proxy.name) ?? [])])];
}

/** What src/envoy/proxy.ts asks of the runtime: where a listener binds and where an endpoint is, as Envoy sees them. */
export type ProxyPlacement = Required<Pick<Placement, 'proxyListener' | 'meshEndpoint'>>;

/**
 * A proxy's placement in its container (its app is the sandbox's upstream, `Placement.upstream`): another proxy's
 * listener is `<proxy>:<port>` on the mesh network (from `mesh.proxy`; `mesh.endpoint` when the mesh does not
 * list its proxies), an external host is what `mesh.endpoint` says, through a relay when that is on this
 * machine's loopback (`externals`, ./host-relay.ts).
 */
export function proxyPlacement(mesh: MeshPlacement | undefined, externals: ReadonlyMap<string, SocketAddress>): ProxyPlacement {
	return {
		proxyListener: listener => ({ address: '0.0.0.0', port: meshListenerPort(listener) }),
		meshEndpoint: ref => {
			switch (ref.kind) {
				case 'proxy': {
					const listener = mesh?.proxy?.(ref.proxy)?.listeners.find(entry => entry.name === ref.listener);
					return listener ? { address: ref.proxy, port: meshListenerPort(listener) } : mesh?.endpoint(ref);
				}

				case 'external': {
					return externals.get(externalKey(ref)) ?? mesh?.endpoint(ref);
				}
			}
		},
	};
}

function externalKey(ref: { readonly host: string; readonly port: number }): string {
	return `${ref.host}:${ref.port}`;
}

export type ExternalRelays = { readonly addresses: ReadonlyMap<string, SocketAddress>; stop(): Promise<void> };

/**
 * A relay on the sandbox network's gateway for each external host the proxy's clusters name whose app
 * `mesh.endpoint` places on this machine's loopback (where src/compose starts the mesh's recording apps): Envoy
 * in its container cannot reach this machine's loopback. Served to the sandbox's own containers only.
 */
export async function relayExternals(proxy: ProxyModel, mesh: MeshPlacement | undefined, local: boolean, gateway: string | undefined, admit: RelayAdmission): Promise<ExternalRelays> {
	const refs = new Map<string, Extract<MeshEndpointRef, { kind: 'external' }>>();
	for (const cluster of proxy.clusters) {
		for (const ref of cluster.endpoints) {
			if (ref.kind === 'external') {
				refs.set(externalKey(ref), ref);
			}
		}
	}

	const addresses = new Map<string, SocketAddress>();
	const relays: Array<{ stop(): Promise<void> }> = [];
	const stop = async () => {
		await Promise.allSettled(relays.map(async relay => relay.stop()));
	};

	try {
		for (const [key, ref] of refs) {
			const target = mesh?.endpoint(ref);
			if (!target || !isLoopback(target.address)) {
				continue;
			}

			if (!local) {
				throw new MeshboxError('DOCKER_FAILED', `mesh proxy ${proxy.name}: the app of ${key} (outside the mesh) is on this machine's loopback, which Envoy cannot reach on a remote Docker daemon`,
					'use a local daemon or the local runtime for a mesh with `external:` hosts');
			}

			if (!gateway) {
				throw new MeshboxError('DOCKER_FAILED', `mesh proxy ${proxy.name}: the sandbox network has no gateway address, so Envoy cannot reach ${key}'s app on this machine`,
					'check the Docker daemon\'s network settings (bridge driver, IPAM)');
			}

			const relay = await startRelay(gateway, { host: target.address === 'localhost' ? '127.0.0.1' : target.address, port: target.port }, admit);
			relays.push(relay);
			addresses.set(key, { address: gateway, port: relay.port });
		}
	} catch (error) {
		await stop();
		throw error;
	}

	return { addresses, stop };
}

/**
 * The listeners as `RunningSandbox.proxyListeners()` reports them: where other proxies reach each (its name on
 * the mesh network), and where this machine does, for those whose port was published when the container
 * started (`published`: port in the container → port on the host). A listener a live update added binds in the
 * container and serves the mesh, but Docker cannot publish a port of a running container: it has no `fromHost`.
 */
export function proxyListenerAddresses(proxy: ProxyModel, publishHost: string, published: ReadonlyMap<number, number>): { fromHost: ListenerAddress[]; fromMesh: Record<string, SocketAddress> } {
	const fromHost = proxy.listeners.flatMap(listener => {
		const port = published.get(meshListenerPort(listener));
		return port === undefined ? [] : [{ listener, url: `http://${publishHost}:${port}`, address: { address: publishHost, port } }];
	});
	const fromMesh = Object.fromEntries(proxy.listeners.map(listener => [listener.name, { address: proxy.name, port: meshListenerPort(listener) }]));
	return { fromHost, fromMesh };
}

/** The listener clients on this machine reach first (`RunningSandbox.url`): a gateway's, else the inbound, else the first. */
export function frontListener(proxy: ProxyModel): ProxyListenerModel | undefined {
	return proxy.listeners.find(listener => listener.role === 'gateway')
		?? proxy.listeners.find(listener => listener.role === 'inbound')
		?? proxy.listeners[0];
}

// --- The mesh network, shared by the proxies of one mesh in this process ----------------------------------

export type MeshNetworkLease = {
	/** The network's name (what containers join). */
	readonly name: string;
	/** This proxy's container runs on the network (or its start ended without it): proxies waiting for its name go on. */
	joined(): void;
	/**
	 * Resolves once each of `proxies` runs on the network (or its start ended), or after `timeoutMs`: the names
	 * they answer to resolve from then on (Docker's DNS answers for running containers only). Envoy looks a
	 * STRICT_DNS cluster's name up as soon as it gets the cluster, and a miss leaves the cluster without a host
	 * until the next lookup (5 s).
	 * Resolves with the names that did not join in time; at once when `abort` fires (this proxy's start failed).
	 */
	peersJoined(proxies: readonly string[], timeoutMs: number, abort?: AbortSignal): Promise<string[]>;
	/** Leaves the network; the last proxy to leave removes it. Call after the proxy's containers are gone. */
	release(): Promise<void>;
};

type Signal = { readonly promise: Promise<void>; resolve(): void; settled: boolean };

type MeshNetworkEntry = {
	readonly ready: Promise<{ readonly name: string; readonly sessionId: string }>;
	users: number;
	/** Each proxy's join, by name: a proxy may wait for one that has not begun its start yet. */
	readonly members: Map<string, Signal>;
};

const meshNetworks = new Map<string, MeshNetworkEntry>();
/** Networks being removed, by mesh id: a proxy of a new mesh with the same id waits for that before creating its own. */
const removals = new Map<string, Promise<void>>();

function signal(): Signal {
	let resolve!: () => void;
	const promise = new Promise<void>(done => {
		resolve = done;
	});
	const created: Signal = {
		promise,
		settled: false,
		resolve: () => {
			created.settled = true;
			resolve();
		},
	};
	return created;
}

function memberSignal(entry: MeshNetworkEntry, proxy: string): Signal {
	let member = entry.members.get(proxy);
	if (!member) {
		member = signal();
		entry.members.set(proxy, member);
	}

	return member;
}

export async function joinMeshNetwork(connection: DockerConnection, meshId: string, proxy: string, progress: (line: string) => void): Promise<MeshNetworkLease> {
	await removals.get(meshId);
	let entry = meshNetworks.get(meshId);
	if (!entry) {
		// A session id of its own: meshbox names and labels everything by session, and the name stays unique
		// when several processes run meshes with the same id.
		const sessionId = newSessionId();
		const name = `meshbox-mesh-${sessionId}`;
		const ready = createNetwork(connection, name, { ...sandboxLabels(sessionId), [labelKeys.mesh]: meshId }, progress).then(() => ({ name, sessionId }));
		const created: MeshNetworkEntry = { ready, users: 0, members: new Map() };
		entry = created;
		meshNetworks.set(meshId, created);
		// A failed create is every waiting proxy's error; the next start tries again.
		ready.catch(() => {
			if (meshNetworks.get(meshId) === created) {
				meshNetworks.delete(meshId);
			}
		});
	}

	const joined = entry;
	const own = memberSignal(joined, proxy);
	joined.users++;
	let network: { readonly name: string; readonly sessionId: string };
	try {
		network = await joined.ready;
	} catch (error) {
		joined.users--;
		own.resolve();
		throw error;
	}

	let released = false;
	return {
		name: network.name,
		joined: () => {
			own.resolve();
		},
		peersJoined: async (proxies, timeoutMs, abort) => {
			const waits = proxies.map(name => memberSignal(joined, name));
			let timer: NodeJS.Timeout | undefined;
			let onAbort: (() => void) | undefined;
			const timeout = new Promise<void>(resolve => {
				timer = setTimeout(resolve, timeoutMs);
				timer.unref();
				onAbort = resolve;
				abort?.addEventListener('abort', onAbort, { once: true });
			});
			await Promise.race([Promise.all(waits.map(async wait => wait.promise)), timeout]);
			clearTimeout(timer);
			abort?.removeEventListener('abort', onAbort!);
			return proxies.filter((_, index) => !waits[index]!.settled);
		},
		release: async () => {
			if (released) {
				return;
			}

			released = true;
			own.resolve();
			joined.users--;
			if (joined.users > 0 || meshNetworks.get(meshId) !== joined) {
				return;
			}

			meshNetworks.delete(meshId);
			const removal = removeSandboxes(connection.docker, { session: network.sessionId }).then(() => undefined, () => undefined);
			removals.set(meshId, removal);
			await removal;
			if (removals.get(meshId) === removal) {
				removals.delete(meshId);
			}
		},
	};
}

/**
 * The other proxies a proxy's clusters name: their names must resolve before its Envoy gets those clusters.
 * Those the mesh says it has not (`mesh.proxy`) are left out: nothing would ever start them.
 */
export function peersOf(proxy: ProxyModel, mesh: MeshPlacement | undefined): string[] {
	const names = proxy.clusters.flatMap(cluster => cluster.endpoints.flatMap(ref => (ref.kind === 'proxy' && ref.proxy !== proxy.name ? [ref.proxy] : [])));
	return [...new Set(names)].filter(name => !mesh?.proxy || mesh.proxy(name) !== undefined);
}
