/**
 * Removing meshbox's containers and networks: one sandbox's (stop), those whose owner died (every start),
 * or all of them (`meshbox down`). Containers go first: Docker refuses to remove a network in use.
 *
 * Without Ryuk nothing else cleans up after a SIGKILLed owner, so this runs before every docker start.
 */
import type Dockerode from 'dockerode';
import { labelKeys, ownerIsGone } from './labels.ts';

export type Removed = { containers: number; networks: number };

type Selector = { session: string } | 'orphans' | 'all';

export async function removeSandboxes(docker: Dockerode, selector: Selector): Promise<Removed> {
	const filter = typeof selector === 'object' ? `${labelKeys.session}=${selector.session}` : labelKeys.session;
	const select = (labels: Readonly<Record<string, string>> | undefined) => selector !== 'orphans' || ownerIsGone(labels ?? {});

	const containers = (await docker.listContainers({ all: true, filters: { label: [filter] } })).filter(info => select(info.Labels));
	const results = await Promise.all(containers.map(async info => docker.getContainer(info.Id).remove({ force: true, v: true }).then(() => true, ignoreGone)));

	const networks = (await docker.listNetworks({ filters: { label: [filter] } })).filter(info => select(info.Labels));
	let removedNetworks = 0;
	for (const info of networks) {
		// A network whose owner is gone may still hold a container another reaper is removing right now.
		if (await removeNetwork(docker, info.Id)) {
			removedNetworks++;
		}
	}

	return { containers: results.filter(Boolean).length, networks: removedNetworks };
}

async function removeNetwork(docker: Dockerode, id: string): Promise<boolean> {
	for (let attempt = 0; ; attempt++) {
		try {
			await docker.getNetwork(id).remove();
			return true;
		} catch (error) {
			const status = (error as { statusCode?: number }).statusCode;
			if (status === 404) {
				return false;
			}

			// 403/409 "has active endpoints": a container is still being removed.
			if (attempt >= 20) {
				throw error;
			}

			await new Promise(resolve => setTimeout(resolve, 100));
		}
	}
}

/** 404 (already gone) and 409 (removal already in progress) mean someone else did the job. */
function ignoreGone(error: unknown): false {
	const status = (error as { statusCode?: number }).statusCode;
	if (status === 404 || status === 409) {
		return false;
	}

	throw error;
}
