/**
 * Finding the Docker daemon, or explaining in one error why there is none and what to do.
 *
 * testcontainers picks the daemon (DOCKER_HOST, then the usual sockets) and caches its client per process;
 * meshbox uses that client's dockerode for what testcontainers has no API for, so both always talk to the
 * same daemon. An explicit DOCKER_HOST is checked first: testcontainers would silently fall back to
 * /var/run/docker.sock when it does not answer, and the user asked for that daemon.
 */
import Dockerode from 'dockerode';
import { MeshboxError } from '../../errors.ts';
import { getContainerRuntimeClient, type ContainerRuntimeClient } from './testcontainers.ts';

export type DockerConnection = {
	readonly client: ContainerRuntimeClient;
	readonly docker: Dockerode;
	/** Where published ports are reached from here: 127.0.0.1 for a local daemon. */
	readonly publishHost: string;
	/** Whether the daemon runs on this machine (a unix socket): then ports can be checked before starting. */
	readonly local: boolean;
};

const probeTimeoutMs = 5000;

export async function connectDocker(): Promise<DockerConnection> {
	const dockerHost = process.env.DOCKER_HOST;
	if (dockerHost) {
		await probe(dockerHost);
	}

	let client: ContainerRuntimeClient;
	try {
		client = await getContainerRuntimeClient();
	} catch (error) {
		throw unavailable(dockerHost
			? `DOCKER_HOST=${dockerHost} answered, but testcontainers could not use it (${(error as Error).message})`
			: `no Docker daemon answers (DOCKER_HOST is unset and no socket such as /var/run/docker.sock works)`);
	}

	const host = client.info.containerRuntime.host;
	const local = host === 'localhost' || host === '127.0.0.1' || host === '::1';
	// Published ports are bound to 127.0.0.1 only; "localhost" may resolve to ::1 first and be refused.
	return { client, docker: client.container.dockerode, publishHost: local ? '127.0.0.1' : host, local };
}

/** True when a daemon answers; never throws. */
export async function dockerAnswers(): Promise<boolean> {
	try {
		await connectDocker();
		return true;
	} catch {
		return false;
	}
}

async function probe(dockerHost: string): Promise<void> {
	let docker: Dockerode;
	try {
		// docker-modem reads DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH itself.
		docker = new Dockerode({ timeout: probeTimeoutMs });
	} catch (error) {
		throw unavailable(`DOCKER_HOST=${dockerHost} is not usable: ${(error as Error).message}`);
	}

	try {
		await docker.ping();
	} catch (error) {
		const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
		throw unavailable(`the Docker daemon at DOCKER_HOST=${dockerHost} does not answer (${reason})`,
			(error as NodeJS.ErrnoException).code === 'EACCES');
	}
}

function unavailable(reason: string, permission = false): MeshboxError {
	return new MeshboxError('DOCKER_UNAVAILABLE', `the docker runtime needs a Docker daemon: ${reason}`, [
		'one of:',
		...(permission ? ['let this user use Docker (add it to the `docker` group, then log in again)'] : []),
		'install Docker (Debian/Ubuntu: `apt-get install -y docker.io`)',
		'start the daemon (`systemctl start docker`, or `dockerd > /var/log/dockerd.log 2>&1 &`; scripts/ci-docker.sh does both)',
		'point DOCKER_HOST at a daemon that runs (e.g. unix:///var/run/docker.sock or tcp://HOST:2375)',
		'or use the local runtime (--runtime local)',
	].join('\n    '));
}
