/**
 * The recording upstream in its container (src/upstream/main.ts in the meshbox/upstream image): started on
 * the sandbox's network under the `upstream` alias, ready once its control API answers.
 */
import type Dockerode from 'dockerode';
import got from 'got';
import type { UpstreamModel } from '../../config/model.ts';
import { MeshboxError } from '../../errors.ts';
import { healthPath, upstreamResponseVariable } from '../../upstream/control.ts';
import { upstreamAppsVariable, type AppServer } from '../../upstream/apps.ts';
import { maxRecordingBytesFromEnv, maxRecordingBytesVariable, maxRecordingsFromEnv, maxRecordingsVariable } from '../../upstream/recording-server.ts';
import { containerOutput } from './container-output.ts';
import { labelKeys } from './labels.ts';
import { upstreamAlias, upstreamControlPort } from './layout.ts';
import { SandboxContainer } from './sandbox-container.ts';
import type { StartedTestContainer } from './testcontainers.ts';

const upstreamReadyTimeoutMs = 20_000;

type UpstreamStart = { image: string; sessionId: string; labels: Readonly<Record<string, string>>; networkName: string; response: UpstreamModel; apps?: readonly AppServer[] };

/** The upstream's environment; without `response` it answers hello-world until told otherwise (PUT /response). */
export function upstreamEnvironment({ response, apps = [], maxRecordings, maxRecordingBytes }: { response?: UpstreamModel; apps?: readonly AppServer[]; maxRecordings: number; maxRecordingBytes?: number }): Record<string, string> {
	return {
		...(response ? { [upstreamResponseVariable]: JSON.stringify(response) } : {}),
		[maxRecordingsVariable]: String(maxRecordings),
		...(maxRecordingBytes === undefined ? {} : { [maxRecordingBytesVariable]: String(maxRecordingBytes) }),
		// Named apps (`apps:`), each on its own port (src/upstream/apps.ts).
		...(apps.length > 0 ? { [upstreamAppsVariable]: JSON.stringify(apps) } : {}),
	};
}

export async function startUpstream({ image, sessionId, labels, networkName, response, apps = [] }: UpstreamStart): Promise<StartedTestContainer> {
	// How many requests the app keeps, as on the local runtime (src/upstream/recording-server.ts); a bad value is a usage error here.
	const maxRecordings = maxRecordingsFromEnv();
	const maxRecordingBytes = maxRecordingBytesFromEnv();
	try {
		return await new SandboxContainer(image)
			.withName(`meshbox-${sessionId}-upstream`)
			.withEnvironment(upstreamEnvironment({ response, apps, maxRecordings, maxRecordingBytes }))
			.withLabels({ ...labels, [labelKeys.role]: 'upstream' })
			.withNetworkAndAliases(networkName, [upstreamAlias])
			.withExposedPorts(upstreamControlPort)
			.withDefaultLogDriver()
			.start();
	} catch (error) {
		throw new MeshboxError('DOCKER_FAILED', `could not start the upstream container (${image}): ${(error as Error).message}`,
			'rebuild the images with `meshbox images build`; see the Docker daemon\'s log');
	}
}

/** The control API answers once the upstream's servers listen (Docker accepts on the published port earlier). */
export async function waitForUpstream(controlUrl: string, docker: Dockerode, containerId: string): Promise<void> {
	const started = Date.now();
	for (;;) {
		const response = await got(`${controlUrl}${healthPath}`, { retry: { limit: 0 }, timeout: { request: 1000 }, throwHttpErrors: false }).catch(() => undefined);
		if (response?.statusCode === 200) {
			return;
		}

		const state = await docker.getContainer(containerId).inspect().then(info => info.State, () => undefined);
		if (!state?.Running || Date.now() - started > upstreamReadyTimeoutMs) {
			const output = await containerOutput(docker, containerId);
			throw new MeshboxError('DOCKER_FAILED', state?.Running
				? `the upstream container did not answer on its control port within ${upstreamReadyTimeoutMs / 1000} s`
				: `the upstream container exited during start-up (status ${state?.ExitCode ?? 'unknown'})`,
			'rebuild the images with `meshbox images build`; the upstream\'s output follows', output.slice(-15));
		}

		await new Promise(resolve => setTimeout(resolve, 50));
	}
}
