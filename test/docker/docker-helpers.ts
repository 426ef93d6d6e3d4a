/**
 * What the docker runtime left on the daemon, for tests that assert "nothing": containers and networks by
 * meshbox's labels (a sandbox's session, or an owner pid). No ava here: child processes import it too.
 */
import type Dockerode from 'dockerode';
import { connectDocker } from '../../src/runtime/docker/daemon.ts';
import { labelKeys } from '../../src/runtime/docker/labels.ts';
import type { Sandbox } from '../../src/index.ts';

export async function docker(): Promise<Dockerode> {
	return (await connectDocker()).docker;
}

export type Leftovers = { containers: Dockerode.ContainerInfo[]; networks: Dockerode.NetworkInspectInfo[] };

/** Containers (any state) and networks carrying `label=value`. */
export async function leftovers(label: string, value: string): Promise<Leftovers> {
	const client = await docker();
	const filters = { label: [`${label}=${value}`] };
	const [containers, networks] = await Promise.all([client.listContainers({ all: true, filters }), client.listNetworks({ filters })]);
	return { containers, networks };
}

export async function sessionLeftovers(session: string): Promise<Leftovers> {
	return leftovers(labelKeys.session, session);
}

export async function ownerLeftovers(pid: number): Promise<Leftovers> {
	return leftovers(labelKeys.ownerPid, String(pid));
}

/** The session id of a running docker sandbox: the labels of the container that publishes its listener. */
export async function sessionOf(box: Sandbox): Promise<string> {
	const port = Number(new URL(box.url).port);
	const { containers } = await ownerLeftovers(process.pid);
	const envoy = containers.find(info => info.Ports.some(binding => binding.PublicPort === port));
	const session = envoy?.Labels[labelKeys.session];
	if (!session) {
		throw new Error(`no meshbox container publishes port ${port}`);
	}

	return session;
}
