/**
 * The docker runtime: Envoy and the recording upstream in two containers on a network of their own.
 *
 * Start-up: find the daemon → remove leftovers of dead owners → choose (or build) the images → check ports
 * → create the network → start the upstream and wait for its control API → copy the bootstrap and the
 * plugins into a new Envoy container (copied, not bind-mounted, so a remote daemon works) and start it →
 * wait for admin `/ready` (or explain from Envoy's log why it died). Only Envoy's listener and admin ports
 * and the upstream's control port are published, on 127.0.0.1. Everything carries the sandbox's labels, so a
 * failure anywhere removes exactly what was created, and so does stop().
 */
import type Dockerode from 'dockerode';
import got from 'got';
import { EnvoyAdmin } from '../../envoy/admin.ts';
import type { ClusterModel, SandboxModel, UpstreamModel } from '../../config/model.ts';
import { buildAdsBootstrap, buildBootstrap, type JsonObject, type Placement, type SocketAddress } from '../../envoy/bootstrap.ts';
import { renderBootstrapYaml } from '../../envoy/render.ts';
import { explainStartupFailure } from '../../envoy/startup-failure.ts';
import { MeshboxError } from '../../errors.ts';
import { healthPath, upstreamResponseVariable } from '../../upstream/control.ts';
import { controlClient, setUpstreamResponse } from '../../upstream/control-client.ts';
import { maxRecordingsFromEnv, maxRecordingsVariable } from '../../upstream/recording-server.ts';
import { LogBuffer } from '../log-buffer.ts';
import { assertPortFree } from '../ports.ts';
import { waitUntilReady, type ExitInfo } from '../ready.ts';
import { admitEnvoyStart } from '../start-slots.ts';
import type { RunningSandbox, RuntimeStartOptions } from '../types.ts';
import { XdsSession } from '../xds-session.ts';
import { ContainerModules } from './container-modules.ts';
import { connectDocker, type DockerConnection } from './daemon.ts';
import { isLoopback, startRelay, type RelayAdmission } from './host-relay.ts';
import { chooseEnvoyImage, ensureUpstreamImage } from './images.ts';
import { labelKeys, newSessionId, sandboxLabels } from './labels.ts';
import {
	bootstrapPathInContainer, containerAdminPort, containerEnvoyArguments, containerListenerPort, containerPlacement, envoyPathInContainer,
	modulePathInContainer, upstreamAlias, upstreamControlPort, wasmPathInContainer,
} from './layout.ts';
import { removeSandboxes } from './reaper.ts';
import { SandboxContainer } from './sandbox-container.ts';
import type { StartedTestContainer } from './testcontainers.ts';

const defaultReadyTimeoutMs = 60_000;
const upstreamReadyTimeoutMs = 20_000;
/** Envoy drains on SIGTERM and exits at once; `docker stop` kills after this (rounded to seconds). */
const stopTimeoutMs = 3000;


export async function startDocker(options: RuntimeStartOptions): Promise<RunningSandbox> {
	const { model } = options;
	const progress = options.onProgress ?? (() => undefined);
	const connection = await connectDocker();
	const { docker, publishHost } = connection;

	const reaped = await removeSandboxes(docker, 'orphans');
	if (reaped.containers > 0 || reaped.networks > 0) {
		progress(`meshbox: removed ${reaped.containers} container(s) and ${reaped.networks} network(s) left by meshbox processes that are gone`);
	}

	const envoyImage = await chooseEnvoyImage(docker, { requested: options.envoyImage, envoyBin: options.envoyBin, version: options.model.envoy.version, versionOrigin: options.model.envoy.versionOrigin, onProgress: progress });
	const upstreamImage = await ensureUpstreamImage(docker, progress);
	progress(`meshbox: docker runtime: Envoy image ${envoyImage.name} (${envoyImage.why}), upstream image ${upstreamImage}`);

	if (connection.local) {
		await assertPortFree(publishHost, model.port, 'listener', '--port');
		await assertPortFree(publishHost, model.adminPort, 'admin', '--admin-port');
	}

	const sessionId = newSessionId();
	const labels = sandboxLabels(sessionId);
	const cleanups: Array<() => Promise<unknown>> = [];
	const removeAll = async () => {
		await removeSandboxes(docker, { session: sessionId });
		await Promise.allSettled(cleanups.map(async cleanup => cleanup()));
	};

	let stopping = false;
	try {
		const networkName = `meshbox-${sessionId}`;
		const network = await createNetwork(connection, networkName, labels, progress);
		const gateway = await gatewayOf(network);
		const relays = await relayLoopbackClusters(model, connection.local, gateway, networkMembers(network));
		cleanups.push(async () => Promise.all(relays.map(async relay => relay.stop())));

		const upstream = await startUpstream({ image: upstreamImage, sessionId, labels, networkName, response: model.upstream });
		const upstreamControlUrl = `http://${publishHost}:${upstream.getMappedPort(upstreamControlPort)}`;
		await waitForUpstream(upstreamControlUrl, docker, upstream.getId());

		const relayed = new Map(relays.map(relay => [relay.cluster, relay.address]));
		const clusterAddress = (cluster: ClusterModel) => relayed.get(cluster.name) ?? { address: cluster.host, port: cluster.port };
		const logs = new LogBuffer(model.plugins);
		// Envoy is driven by the xDS control plane (src/xds) on this machine's loopback, reached through a relay
		// on the network's gateway that serves the sandbox's containers only (./host-relay.ts). A remote daemon's
		// containers cannot reach this machine, so there Envoy gets a static bootstrap and cannot change while it runs.
		const live = connection.local && gateway ? await startLiveConfig({ model, logs, gateway, admit: networkMembers(network), clusterAddress, controlUrl: upstreamControlUrl }) : undefined;
		if (live) {
			cleanups.push(async () => live.stop());
		}

		const bootstrap = live?.bootstrap ?? buildBootstrap(model, containerPlacement(model, clusterAddress));
		const bootstrapYaml = renderBootstrapYaml(bootstrap, [
			'Generated by meshbox (docker runtime): paths and ports are as Envoy sees them inside its container.',
		]);
		let logsDone: Promise<void> = Promise.resolve();
		let envoyId: string | undefined;
		const hostEnv = Object.fromEntries(model.plugins.flatMap(plugin => plugin.hostEnv)
			.filter(key => process.env[key] !== undefined)
			.map(key => [key, process.env[key]!]));

		const envoyContainer = new SandboxContainer(envoyImage.name)
			.withName(`meshbox-${sessionId}-envoy`)
			.withLabels({ ...labels, [labelKeys.role]: 'envoy' })
			.withNetworkAndAliases(networkName, ['envoy'])
			.withEntrypoint([envoyPathInContainer])
			.withCommand(containerEnvoyArguments(model))
			.withEnvironment(hostEnv)
			.withExposedPorts(
				model.port === 0 ? containerListenerPort : { container: containerListenerPort, host: model.port },
				model.adminPort === 0 ? containerAdminPort : { container: containerAdminPort, host: model.adminPort },
			)
			.withCopyContentToContainer([{ content: bootstrapYaml, target: bootstrapPathInContainer, mode: 0o644 }])
			.withCopyContentToContainer(live ? [...live.modules.initialContent] : [])
			.withCopyFilesToContainer(live ? [] : model.plugins.map(plugin => ({ source: plugin.wasmPath, target: wasmPathInContainer(plugin, model), mode: 0o644 })))
			.withDefaultLogDriver()
			.withLogConsumer(stream => {
				logsDone = logs.follow(stream).then(() => logs.end());
			})
			.onCreated(id => {
				envoyId = id;
			});

		// Held from the container's start to ready (or failure), when the containers run on this machine's
		// cores: see ../start-slots.ts. The ready timeout starts after the wait.
		const startSlot = connection.local ? await admitEnvoyStart(progress) : undefined;
		cleanups.push(async () => startSlot?.release());
		let envoy: StartedTestContainer;
		try {
			envoy = await envoyContainer.start();
		} catch (error) {
			throw await explainFailedStart(error, docker, envoyId, model.plugins);
		}

		const exited: Promise<ExitInfo> = docker.getContainer(envoy.getId()).wait().then(async (result: { StatusCode?: number }) => {
			// The log stream ends with the container; give it a moment to deliver the last lines.
			await Promise.race([logsDone, new Promise(resolve => setTimeout(resolve, 2000))]);
			return { exitCode: result.StatusCode, signal: undefined };
		}, () => ({ exitCode: undefined, signal: undefined }));

		const admin = new EnvoyAdmin(publishHost, envoy.getMappedPort(containerAdminPort));
		await waitUntilReady({
			admin: async () => admin,
			exited,
			timeoutMs: options.readyTimeoutMs ?? defaultReadyTimeoutMs,
			logs,
		});
		live?.modules.attach(docker.getContainer(envoy.getId()));
		// An Istio sidecar NACKs a plugin Envoy refuses and serves on without it; a plain sandbox fails to start.
		const rejectedAtStart = await live?.xds.settleStart({ exited, admin, tolerate: model.sidecar !== undefined });
		await startSlot?.release();
		const envoyVersion = await serverVersion(admin);

		let stopped: Promise<void> | undefined;
		return {
			url: `http://${publishHost}:${envoy.getMappedPort(containerListenerPort)}`,
			...(gateway ? { clientAddress: gateway } : {}),
			admin,
			bootstrapYaml,
			envoyVersion,
			logs,
			upstream: controlClient(upstreamControlUrl),
			...(live ? {
				rejectedAtStart: rejectedAtStart ?? [],
				configVersion: () => live.xds.version,
				reconfigure: async (next: SandboxModel) => live.xds.reconfigure(next),
			} : {}),
			exited: exited.then(async info => (stopping ? new Promise<never>(() => undefined) : info)),
			stop: async () => {
				stopping = true;
				stopped ??= (async () => {
					// SIGTERM both (quick exits), then remove whatever carries the session's label, network last.
					await Promise.allSettled([envoy.stop({ timeout: stopTimeoutMs }), upstream.stop({ timeout: stopTimeoutMs })]);
					await removeAll();
				})();
				return stopped;
			},
		};
	} catch (error) {
		stopping = true;
		await removeAll().catch(() => undefined);
		throw error;
	}
}

type LiveConfig = { xds: XdsSession; modules: ContainerModules; bootstrap: JsonObject; stop(): Promise<void> };

type LiveConfigInput = {
	model: SandboxModel;
	logs: LogBuffer;
	gateway: string;
	admit: RelayAdmission;
	clusterAddress: (cluster: ClusterModel) => SocketAddress;
	/** The upstream's control API: the app's answer follows accepted updates. */
	controlUrl: string;
};

/** The control plane, its relay into the sandbox's network, and the ADS bootstrap that points Envoy at it. */
async function startLiveConfig({ model, logs, gateway, admit, clusterAddress, controlUrl }: LiveConfigInput): Promise<LiveConfig> {
	const modules = new ContainerModules();
	const placement: Placement = { ...containerPlacement(model, clusterAddress), wasmPath: modulePathInContainer };
	let answer = JSON.stringify(model.upstream);
	const xds = await XdsSession.start({
		model,
		placement,
		modules,
		logs,
		onAccepted: async next => {
			if (JSON.stringify(next.upstream) !== answer) {
				await setUpstreamResponse(controlUrl, next.upstream);
				answer = JSON.stringify(next.upstream);
			}
		},
	});
	try {
		const relay = await startRelay(gateway, { host: '127.0.0.1', port: xds.port }, admit);
		return {
			xds,
			modules,
			bootstrap: buildAdsBootstrap(model, placement, { address: gateway, port: relay.port }),
			stop: async () => {
				await Promise.allSettled([relay.stop(), xds.stop()]);
			},
		};
	} catch (error) {
		await xds.stop();
		throw error;
	}
}

/** How long a start waits for Docker to have an address pool for one more network. */
const networkWaitMs = 120_000;

/**
 * Docker gives each bridge network a subnet from a fixed set of pools (about 30 networks with its
 * defaults), so many sandboxes at once (tests running concurrently) can run out: then wait for another
 * sandbox to stop rather than fail at once.
 */
async function createNetwork(connection: DockerConnection, name: string, labels: Readonly<Record<string, string>>, progress: (line: string) => void): Promise<Dockerode.Network> {
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

type ClusterRelay = { cluster: string; address: SocketAddress; stop(): Promise<void> };

/**
 * The network's gateway: this machine's address on the sandbox's bridge. Requests to published ports reach
 * Envoy from there (Docker forwards them), so it is the client address plugins see in `source.address`.
 */
async function gatewayOf(network: Dockerode.Network): Promise<string | undefined> {
	const info = await network.inspect() as { IPAM?: { Config?: Array<{ Gateway?: string }> } };
	return info.IPAM?.Config?.find(config => config.Gateway)?.Gateway;
}

/**
 * Admits the containers attached to the sandbox's network (its own: only meshbox attaches containers to
 * it), by their address on it. The addresses are known only once the containers run, so an address not seen
 * yet is looked up again (one inspect at a time), and whatever else connects is refused.
 */
function networkMembers(network: Dockerode.Network): RelayAdmission {
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
async function relayLoopbackClusters(model: SandboxModel, local: boolean, gateway: string | undefined, admit: RelayAdmission): Promise<ClusterRelay[]> {
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

type UpstreamStart = { image: string; sessionId: string; labels: Readonly<Record<string, string>>; networkName: string; response: UpstreamModel };

async function startUpstream({ image, sessionId, labels, networkName, response }: UpstreamStart): Promise<StartedTestContainer> {
	// How many requests the app keeps, as on the local runtime (src/upstream/recording-server.ts); a bad value is a usage error here.
	const maxRecordings = String(maxRecordingsFromEnv());
	try {
		return await new SandboxContainer(image)
			.withName(`meshbox-${sessionId}-upstream`)
			.withEnvironment({ [upstreamResponseVariable]: JSON.stringify(response), [maxRecordingsVariable]: maxRecordings })
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
async function waitForUpstream(controlUrl: string, docker: Dockerode, containerId: string): Promise<void> {
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

/** The container's start failed before meshbox could follow its log: say why, from Docker or from Envoy. */
async function explainFailedStart(error: unknown, docker: Dockerode, containerId: string | undefined, plugins: RuntimeStartOptions['model']['plugins']): Promise<Error> {
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
async function containerOutput(docker: Dockerode, containerId: string): Promise<string[]> {
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


/** `/server_info` has the same `<sha>/<version>/<status>/…` string as `envoy --version`. */
async function serverVersion(admin: EnvoyAdmin): Promise<string> {
	try {
		const info = JSON.parse(await admin.get('server_info')) as { version?: string };
		return /^[^/]*\/(\d+\.\d+\.\d+[^/]*)\//.exec(info.version ?? '')?.[1] ?? info.version ?? 'unknown';
	} catch {
		return 'unknown';
	}
}
