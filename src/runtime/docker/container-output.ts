/**
 * What a container wrote, and why an Envoy container's start failed (from Docker, or from Envoy's own log).
 */
import type Dockerode from 'dockerode';
import type { PluginModel } from '../../config/model.ts';
import { explainStartupFailure } from '../../envoy-binary/startup-failure.ts';
import { MeshboxError } from '../../errors.ts';
import { LogBuffer } from '../log-buffer.ts';

/** The container's start failed before meshbox could follow its log: say why, from Docker or from Envoy. */
export async function explainFailedStart(error: unknown, docker: Dockerode, containerId: string | undefined, plugins: readonly PluginModel[]): Promise<Error> {
	const message = (error as Error).message;
	const bind = /listen tcp[46]? ([\d.:[\]]+): bind: (.+)|Bind for ([\d.:]+) failed: (.+)/.exec(message);
	if (bind) {
		return new MeshboxError('PORT_IN_USE', `Docker cannot publish Envoy on ${bind[1] ?? bind[3] ?? '?'}: ${bind[2] ?? bind[4] ?? ''}`,
			'choose another port (--port / --admin-port, or 0 for any free one), or stop what is using it');
	}

	if (containerId) {
		const state = await docker.getContainer(containerId).inspect().then(info => info.State, () => undefined);
		if (state && !state.Running) {
			const logs = new LogBuffer(plugins);
			for (const line of await containerOutput(docker, containerId)) {
				logs.pushLine(line);
			}

			logs.end();
			return explainStartupFailure({ entries: logs.entries, pluginEntries: logs.pluginEntries, tail: logs.tail(30), exitCode: state.ExitCode });
		}
	}

	return new MeshboxError('DOCKER_FAILED', `could not start the Envoy container: ${message}`, 'see the Docker daemon\'s log');
}

/** Everything a container wrote so far, as lines (stdout and stderr, demultiplexed). */
export async function containerOutput(docker: Dockerode, containerId: string): Promise<string[]> {
	const raw = await docker.getContainer(containerId).logs({ stdout: true, stderr: true, follow: false }).catch(() => Buffer.alloc(0));
	const buffer = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw));
	const chunks: Buffer[] = [];
	// Without a TTY, Docker frames each write: 1 byte stream, 3 zero bytes, 4 bytes big-endian length.
	for (let offset = 0; offset + 8 <= buffer.length;) {
		const length = buffer.readUInt32BE(offset + 4);
		chunks.push(buffer.subarray(offset + 8, offset + 8 + length));
		offset += 8 + length;
	}

	return Buffer.concat(chunks).toString('utf8').split('\n').filter(line => line.length > 0);
}
