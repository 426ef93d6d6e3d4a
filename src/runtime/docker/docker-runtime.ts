/**
 * The docker runtime: Envoy and the recording upstream in two containers on a network of their own.
 *
 * Start-up: find the daemon → at once: remove leftovers of dead owners, choose (or build) the images, check
 * ports, create the network → start the upstream container and, at the same time, copy the bootstrap and
 * the plugins into a new Envoy container (copied, not bind-mounted, so a remote daemon works) and start it →
 * wait for admin `/ready` (or explain from Envoy's log why it died) and the upstream's control API. Only
 * Envoy's listener and admin ports and the upstream's control port are published, on 127.0.0.1. Everything
 * carries the sandbox's labels, so a failure anywhere removes exactly what was created, and so does stop().
 *
 * Each `docker start` costs hundreds of ms (namespaces, the network endpoint), as much as Envoy's own start,
 * so the two containers start in parallel. Envoy finds the upstream by its network alias (a STRICT_DNS
 * cluster), which Docker's DNS knows only once that container has joined the network; a name that does not
 * resolve leaves the cluster without a host until the next lookup (dns_refresh_rate, 5 s by default). Over
 * xDS, Envoy learns that cluster from the control plane, so the relay to it admits Envoy once the upstream
 * has started; with a static bootstrap (a remote daemon) Envoy starts after the upstream, as one step.
 *
 * A warm start (the scenario API's) takes the network and the running upstream from this process's spare,
 * prepared in the background after its previous start (./spares.ts), and starts Envoy alone.
 *
 * A mesh proxy (`model.proxy`, `options.mesh`) is such a sandbox whose Envoy container also joins the mesh's
 * network under its cluster DNS names, with its listeners at Istio's ports (./mesh.ts).
 */
import type Dockerode from 'dockerode';
import { EnvoyAdmin } from '../../envoy-admin/admin.ts';
import type { ClusterModel, SandboxModel } from '../../config/model.ts';
import { buildBootstrap } from '../../envoy/bootstrap.ts';
import { renderBootstrapYaml } from '../../envoy/render.ts';
import { controlClient, setUpstreamResponse } from '../../upstream/control-client.ts';
import { LogBuffer } from '../log-buffer.ts';
import { adminPortClaim, assertPortFree, listenerPortClaim } from '../ports.ts';
import { waitUntilReady, type ExitInfo } from '../ready.ts';
import { admitEnvoyStart } from '../start-slots.ts';
import type { RunningSandbox, RuntimeStartOptions } from '../types.ts';
import { explainFailedStart } from './container-output.ts';
import { connectDocker } from './daemon.ts';
import { chooseEnvoyImage, ensureUpstreamImage } from './images.ts';
import { labelKeys, newSessionId, sandboxLabels } from './labels.ts';
import {
	bootstrapPathInContainer, containerAdminPort, containerEnvoyArguments, containerListenerPort, containerPlacement, envoyPathInContainer,
	containerTcpListenerPort, upstreamControlPort, wasmPathInContainer,
} from './layout.ts';
import { startLiveConfig } from './live-config.ts';
import { createNetwork, gatewayOf, networkMembers, relayLoopbackClusters } from './network.ts';
import { removeSandboxes } from './reaper.ts';
import { SandboxContainer } from './sandbox-container.ts';
import { containerUsage } from '../envoy-usage.ts';
import { adoptSpare, discardSpare, prepareSpare, spareFits, spareSettingsFor, takeSpare, type Spare } from './spares.ts';
import { startUpstream, waitForUpstream } from './upstream-container.ts';
import { containerAppRecordings, containerAppServers } from '../apps.ts';
import { wasmModulesOf } from '../../config/listeners.ts';
import { assertTcpPortsFree, startTcpApps, tcpEndpoints } from '../tcp-apps.ts';
import { relayTcpApps } from './tcp-relays.ts';
import { explainRequestTimeout } from '../stuck-worker.ts';
import type { Slot } from '../../util/slots.ts';
import {
	frontListener, joinMeshNetwork, meshAliases, meshListenerPorts, peersOf, proxyListenerAddresses, proxyPlacement, relayExternals, type MeshNetworkLease,
} from './mesh.ts';

const defaultReadyTimeoutMs = 60_000;
/** Envoy drains on SIGTERM and exits at once; `docker stop` kills after this (rounded to seconds). */
const stopTimeoutMs = 3000;

export async function startDocker(options: RuntimeStartOptions): Promise<RunningSandbox> {
	const { proxy } = options.model;
	// A mesh proxy's listener ports, checked before anything is created.
	const proxyPorts = proxy ? meshListenerPorts(proxy) : undefined;
	const start = new DockerStart(options, await connectDocker());
	try {
		const prepared = await prepareAtOnce(start);
		const network = await settleSession(start, prepared);
		const host = await startHostSide(start, network);
		const upstream = startUpstreamContainer(start, prepared.upstreamImage);
		const control = await startControl(start, host, upstream, prepared.meshNetwork);
		const envoy = await startEnvoyContainer(start, envoyContainerFor(start, prepared, control, proxyPorts), upstream, control);
		const ready = await awaitReady(start, envoy, upstream, control);
		return await runningSandbox(start, { prepared, host, control, envoy, ready, proxyPorts });
	} catch (error) {
		await start.fail();
		throw error;
	}
}

type Connection = Awaited<ReturnType<typeof connectDocker>>;

/**
 * One start's session and what it created: everything carries the session's labels, so a failure anywhere
 * removes exactly what was created (removeAll), and so does stop().
 */
class DockerStart {
	readonly docker: Dockerode;
	readonly progress: (line: string) => void;
	/** A warm start takes this process's spare network and upstream when there is one (./spares.ts): then the sandbox is that spare's session. */
	readonly spareSettings: ReturnType<typeof spareSettingsFor> | undefined;
	readonly spareTaken: ReturnType<typeof takeSpare> | undefined;
	spare: Spare | undefined;
	sessionId = newSessionId();
	labels = sandboxLabels(this.sessionId);
	readonly cleanups: Array<() => Promise<unknown>> = [];
	/**
	 * Container starts still under way when a start fails: settled before the session's labels are swept, so
	 * that a container Docker creates after the sweep's listing is not left behind.
	 */
	readonly starting: Array<Promise<unknown>> = [];
	/** Set by stop() and a failed start: an exit then is no failure. */
	stopping = false;
	/** Ends a mesh proxy's wait for its peers when its start fails meanwhile (the removal awaits that start). */
	readonly startFailed = new AbortController();

	constructor(readonly options: RuntimeStartOptions, readonly connection: Connection) {
		this.docker = connection.docker;
		this.progress = options.onProgress ?? (() => undefined);
		this.spareSettings = options.warm ? spareSettingsFor(connection, options.model) : undefined;
		this.spareTaken = this.spareSettings ? takeSpare() : undefined;
	}

	get networkName(): string {
		return `meshbox-${this.sessionId}`;
	}

	get readyTimeoutMs(): number {
		return this.options.readyTimeoutMs ?? defaultReadyTimeoutMs;
	}

	/** Settles the container starts, then removes whatever carries the session's label, then runs the cleanups. */
	async removeAll(): Promise<void> {
		await Promise.allSettled(this.starting);
		await removeSandboxes(this.docker, { session: this.sessionId });
		await Promise.allSettled(this.cleanups.map(async cleanup => cleanup()));
	}

	async fail(): Promise<void> {
		this.stopping = true;
		if (!this.spare) {
			// Taken while the start failed beside it: not this session's, so removed on its own.
			void this.spareTaken?.then(taken => taken && discardSpare(taken), () => undefined);
		}

		this.startFailed.abort();
		await this.removeAll().catch(() => undefined);
	}
}

type Prepared = Awaited<ReturnType<typeof prepareAtOnce>>;

/**
 * Independent of each other, so at once; a failure is reported as before, in this order. The images one after
 * the other: either may be built, under one build lock (./image-build.ts withBuildLock). The orphans' reaping
 * only ever removes networks of owners that are gone, never this one; when those still hold Docker's last
 * address pool, createNetwork waits for them.
 */
async function prepareAtOnce(start: DockerStart) {
	const { docker, connection, options, progress } = start;
	const { model } = options;
	const { proxy } = model;
	const [reaped, [envoyImage, upstreamImage], , createdNetwork, taken, meshNetwork] = await allInOrder([
		removeSandboxes(docker, 'orphans'),
		(async () => {
			const envoy = await chooseEnvoyImage(docker, { requested: options.envoyImage, envoyBin: options.envoyBin, version: model.envoy.version, versionOrigin: model.envoy.versionOrigin, onProgress: progress });
			return [envoy, await ensureUpstreamImage(docker, progress)] as const;
		})(),
		connection.local ? (async () => {
			// A mesh proxy publishes the model's port only for a gateway (proxyExposedPorts).
			if (!proxy || proxy.listeners.some(listener => listener.role === 'gateway')) {
				await assertPortFree(connection.publishHost, listenerPortClaim(model));
			}
			await assertPortFree(connection.publishHost, adminPortClaim(model));
			await assertTcpPortsFree(model, connection.publishHost);
		})() : undefined,
		start.spareTaken ? undefined : createNetwork(connection, start.networkName, start.labels, progress),
		start.spareTaken,
		// Left when this sandbox's containers are gone (a cleanup), however the start ends.
		proxy && options.mesh ? joinMeshNetwork(connection, options.mesh.id, proxy.name, progress).then(lease => {
			start.cleanups.push(async () => lease.release());
			return lease;
		}) : undefined,
	] as const);
	return { reaped, envoyImage, upstreamImage, createdNetwork, taken, meshNetwork };
}

/** The session is the spare's when it fits (its network then), else this start's own network; says what was chosen. */
async function settleSession(start: DockerStart, { taken, upstreamImage, createdNetwork, reaped, envoyImage }: Prepared): Promise<Dockerode.Network> {
	const { spareSettings, progress } = start;
	if (taken && spareSettings && spareFits(taken, spareSettings, upstreamImage)) {
		adoptSpare(taken);
		start.spare = taken;
		start.sessionId = taken.sessionId;
		start.labels = taken.labels;
		progress(`meshbox: docker runtime: took this process's spare network and upstream (session ${start.sessionId})`);
	} else if (taken) {
		discardSpare(taken);
	}

	const network = (start.spare ? start.docker.getNetwork(start.spare.networkId) : createdNetwork) ?? await createNetwork(start.connection, start.networkName, start.labels, progress);
	if (reaped.containers > 0 || reaped.networks > 0) {
		progress(`meshbox: removed ${reaped.containers} container(s) and ${reaped.networks} network(s) left by meshbox processes that are gone`);
	}

	progress(`meshbox: docker runtime: Envoy image ${envoyImage.name} (${envoyImage.why}), upstream image ${upstreamImage}`);
	return network;
}

type HostSide = Awaited<ReturnType<typeof startHostSide>>;

/** What runs on this machine for the containers: relays to loopback clusters, TCP apps and a mesh's externals. */
async function startHostSide(start: DockerStart, network: Dockerode.Network) {
	const { connection, cleanups, options } = start;
	const { model } = options;
	const { proxy } = model;
	const gateway = await gatewayOf(network);
	const members = networkMembers(network);
	const relays = await relayLoopbackClusters(model, connection.local, gateway, members);
	cleanups.push(async () => Promise.all(relays.map(async relay => relay.stop())));
	const tcpApps = await startTcpApps(model, '127.0.0.1');
	cleanups.push(async () => tcpApps.stop());
	const tcpRelays = await relayTcpApps(model, tcpApps, connection.local, gateway, members);
	cleanups.push(async () => tcpRelays.stop());
	const externals = proxy ? await relayExternals(proxy, options.mesh, connection.local, gateway, members) : undefined;
	cleanups.push(async () => externals?.stop());
	const proxyParts = proxy ? proxyPlacement(options.mesh, externals?.addresses ?? new Map()) : undefined;
	const relayed = new Map(relays.map(relay => [relay.cluster, relay.address]));
	const clusterAddress = (cluster: ClusterModel) => relayed.get(cluster.name) ?? { address: cluster.host, port: cluster.port };
	return { gateway, members, tcpApps, tcpRelays, proxyParts, clusterAddress };
}

/** The upstream's container: started (or the spare's), its control URL, and ready (the app answers). */
type UpstreamStart = { readonly started: Promise<UpstreamContainer>; readonly controlUrl: Promise<string>; readonly ready: Promise<unknown> };

/**
 * Started here, awaited with Envoy's start (see the module comment). Every promise derived from it is marked
 * handled at once: a failed start is reported where it is awaited, never as an unhandled rejection.
 */
function startUpstreamContainer(start: DockerStart, upstreamImage: string): UpstreamStart {
	const { spare, docker, options, connection } = start;
	const { model } = options;
	const started: Promise<UpstreamContainer> = spare ? Promise.resolve(spareUpstream(docker, spare)) : startUpstream({ image: upstreamImage, sessionId: start.sessionId, labels: start.labels, networkName: start.networkName, response: model.upstream, apps: containerAppServers(model) })
		.then(container => ({
			id: container.getId(),
			controlUrl: `http://${connection.publishHost}:${container.getMappedPort(upstreamControlPort)}`,
			stop: async () => container.stop({ timeout: stopTimeoutMs }),
		}));
	start.starting.push(started);
	started.catch(() => undefined);
	const controlUrl = started.then(upstream => upstream.controlUrl);
	controlUrl.catch(() => undefined);
	// The app boots (Node, in its container) while Envoy starts; both must be ready before the sandbox is.
	// A spare's runs already: it gets this sandbox's answer, and forgets any request (it could have had none:
	// its app port is published nowhere and nothing else is on its network).
	const ready = spare
		? Promise.all([setUpstreamResponse(spare.controlUrl, model.upstream), controlClient(spare.controlUrl).clear()])
		: started.then(async upstream => waitForUpstream(upstream.controlUrl, docker, upstream.id));
	ready.catch(() => undefined);
	return { started, controlUrl, ready };
}

type Control = Awaited<ReturnType<typeof startControl>>;

/**
 * How Envoy gets its config: the xDS control plane (src/xds) on this machine's loopback, reached through a relay
 * on the network's gateway that serves the sandbox's containers only (./host-relay.ts). A remote daemon's
 * containers cannot reach this machine, so there Envoy gets a static bootstrap and cannot change while it runs.
 */
async function startControl(start: DockerStart, host: HostSide, upstream: UpstreamStart, meshNetwork: MeshNetworkLease | undefined) {
	const { options, connection, cleanups } = start;
	const { model } = options;
	const logs = new LogBuffer(wasmModulesOf(model));
	const slot = startSlotOf(start);
	const meshGate = meshGateOf(start, host, meshNetwork, slot);
	// Envoy's ADS connection is admitted once the upstream has joined the network, so that the `upstream`
	// alias resolves when Envoy first looks it up (see the module comment).
	const admitOnceUpstreamRuns = async (address: string) => {
		await upstream.started;
		await meshGate?.();
		return host.members(address);
	};
	const live = connection.local && host.gateway ? await startLiveConfig({ model, logs, gateway: host.gateway, admit: admitOnceUpstreamRuns, clusterAddress: host.clusterAddress, tcpApp: host.tcpRelays.address, controlUrl: upstream.controlUrl, proxy: host.proxyParts }) : undefined;
	if (live) {
		cleanups.push(async () => live.stop());
	} else {
		// A static bootstrap names the upstream's alias from Envoy's first moment.
		await upstream.started;
	}

	const bootstrap = live?.bootstrap ?? buildBootstrap(model, { ...containerPlacement(model, host.clusterAddress, host.tcpRelays.address), ...host.proxyParts });
	const bootstrapYaml = renderBootstrapYaml(bootstrap, [
		'Generated by meshbox (docker runtime): paths and ports are as Envoy sees them inside its container.',
	]);
	return { logs, slot, meshGate, live, bootstrapYaml, meshNetwork };
}

/** The start slot (../start-slots.ts): held from the container's start to ready (or failure), when the containers run on this machine's cores. */
type StartSlot = { take(): Promise<void>; release(): Promise<void> };

function startSlotOf(start: DockerStart): StartSlot {
	let slot: Slot | undefined;
	const holder: StartSlot = {
		// The ready timeout starts after the wait.
		async take() {
			slot = start.connection.local ? await admitEnvoyStart(start.progress) : undefined;
		},
		async release() {
			await slot?.release();
		},
	};
	start.cleanups.push(async () => holder.release());
	return holder;
}

/**
 * A mesh proxy over xDS gets its clusters once the containers of the proxies they name run, so that their names
 * resolve at Envoy's first lookup (Docker's DNS answers for running containers only; a miss leaves the cluster
 * without a host until the next lookup, 5 s later). Its start slot is taken after that wait, when Envoy first asks
 * for its config (the plugins compile only then): a proxy holding a slot never waits for a peer that waits for a slot.
 */
function meshGateOf(start: DockerStart, host: HostSide, meshNetwork: MeshNetworkLease | undefined, slot: StartSlot): (() => Promise<void>) | undefined {
	const { proxy } = start.options.model;
	if (!meshNetwork || !proxy || !start.connection.local || !host.gateway) {
		return undefined;
	}

	return once(async () => {
		await awaitPeers(meshNetwork, peersOf(proxy, start.options.mesh), proxy.name, start.readyTimeoutMs, start.startFailed.signal, start.progress);
		await slot.take();
	});
}

/** Where the Envoy container's output goes, and its id once created (for explaining a failed start). */
type EnvoyContainerSpec = { readonly container: SandboxContainer; readonly logsDone: () => Promise<void>; readonly id: () => string | undefined };

/** The Envoy container: bootstrap and plugins copied in (not bind-mounted, so a remote daemon works), ports published on the publish host. */
function envoyContainerFor(start: DockerStart, { envoyImage }: Prepared, { live, bootstrapYaml, logs, meshNetwork }: Control, proxyPorts: ReadonlyMap<string, number> | undefined): EnvoyContainerSpec {
	const { model, mesh } = start.options;
	const { proxy } = model;
	let logsDone: Promise<void> = Promise.resolve();
	let envoyId: string | undefined;
	const hostEnv = Object.fromEntries(wasmModulesOf(model).flatMap(plugin => plugin.hostEnv)
		.filter(key => process.env[key] !== undefined)
		.map(key => [key, process.env[key]!]));
	const container = new SandboxContainer(envoyImage.name)
		.withName(`meshbox-${start.sessionId}-envoy`)
		.withLabels({ ...start.labels, [labelKeys.role]: 'envoy' })
		.withNetworkAndAliases(start.networkName, ['envoy'])
		.withEntrypoint([envoyPathInContainer])
		.withCommand(containerEnvoyArguments(model))
		.withEnvironment(hostEnv)
		.withExposedPorts(
			...(proxy ? proxyExposedPorts(proxy, proxyPorts!, model.port) : [model.port === 0 ? containerListenerPort : { container: containerListenerPort, host: model.port }]),
			model.adminPort === 0 ? containerAdminPort : { container: containerAdminPort, host: model.adminPort },
			...(model.listeners?.tcp ?? []).map(listener => {
				const inContainer = containerTcpListenerPort(model, listener.name);
				return listener.port === 0 ? inContainer : { container: inContainer, host: listener.port };
			}),
		)
		.withCopyContentToContainer([{ content: bootstrapYaml, target: bootstrapPathInContainer, mode: 0o644 }])
		.withCopyContentToContainer(live ? [...live.modules.initialContent] : [])
		.withCopyFilesToContainer(live ? [] : wasmModulesOf(model).map(plugin => ({ source: plugin.wasmPath, target: wasmPathInContainer(plugin, model), mode: 0o644 })))
		.withDefaultLogDriver()
		.withLogConsumer(stream => {
			logsDone = logs.follow(stream).then(() => logs.end());
		})
		.onCreated(id => {
			envoyId = id;
		});
	if (meshNetwork && proxy) {
		container.withExtraNetwork(start.docker, meshNetwork.name, meshAliases(proxy, mesh));
	}

	return { container, logsDone: async () => logsDone, id: () => envoyId };
}

type StartedEnvoy = { readonly container: Awaited<ReturnType<SandboxContainer['start']>>; readonly spec: EnvoyContainerSpec };

/** Starts Envoy's container beside the upstream's; whichever fails to start first is the error. */
async function startEnvoyContainer(start: DockerStart, spec: EnvoyContainerSpec, upstream: UpstreamStart, { slot, meshGate, meshNetwork }: Control): Promise<StartedEnvoy> {
	const { docker, options } = start;
	if (!meshGate) {
		await slot.take();
	}

	const envoyStarted = spec.container.start().catch(async (error: unknown) => {
		throw await explainFailedStart(error, docker, spec.id(), wasmModulesOf(options.model));
	});
	start.starting.push(envoyStarted);
	envoyStarted.catch(() => undefined);
	// Its names resolve from now on: peers waiting for them go on (a failed start: at release, a cleanup).
	void envoyStarted.then(() => meshNetwork?.joined(), () => undefined);
	// Envoy cannot be ready before the upstream runs.
	const [container] = await Promise.all([envoyStarted, upstream.started]);
	// Not counted against the ready timeout, as the wait for a slot is not.
	await meshGate?.();
	return { container, spec };
}

type Ready = Awaited<ReturnType<typeof awaitReady>>;

/** Admin `/ready` (or Envoy's log explaining why it died), the first push settled, the upstream's control API. */
async function awaitReady(start: DockerStart, { container, spec }: StartedEnvoy, upstream: UpstreamStart, { live, logs, slot }: Control) {
	const { docker, options, connection } = start;
	const exited: Promise<ExitInfo> = docker.getContainer(container.getId()).wait().then(async (result: { StatusCode?: number }) => {
		// The log stream ends with the container; give it a moment to deliver the last lines.
		// unref: a script that stopped the sandbox exits at once, not when this grace period ends.
		await Promise.race([spec.logsDone(), new Promise(resolve => setTimeout(resolve, 2000).unref())]);
		return { exitCode: result.StatusCode, signal: undefined };
	}, () => ({ exitCode: undefined, signal: undefined }));
	const admin = new EnvoyAdmin(connection.publishHost, container.getMappedPort(containerAdminPort));
	await waitUntilReady({ admin: async () => admin, exited, timeoutMs: start.readyTimeoutMs, logs });
	live?.modules.attach(docker.getContainer(container.getId()));
	// Asked now, read after the settling below: one admin round trip less on the way (it never rejects).
	const envoyVersionAsked = serverVersion(admin);
	// An Istio sidecar NACKs a plugin Envoy refuses and serves on without it; a plain sandbox fails to start.
	const rejectedAtStart = await live?.xds.settleStart({ exited, admin, tolerate: options.model.sidecar !== undefined, timeoutMs: start.readyTimeoutMs });
	await upstream.ready;
	await slot.release();
	const [envoyVersion, upstreamContainer] = await Promise.all([envoyVersionAsked, upstream.started]);
	return { exited, admin, rejectedAtStart, envoyVersion, upstream: upstreamContainer };
}

type SandboxParts = {
	readonly prepared: Prepared;
	readonly host: HostSide;
	readonly control: Control;
	readonly envoy: StartedEnvoy;
	readonly ready: Ready;
	readonly proxyPorts: ReadonlyMap<string, number> | undefined;
};

/** The running sandbox: where it answers, its parts, and stop(); the next warm start's spare is prepared now. */
async function runningSandbox(start: DockerStart, { prepared, host, control, envoy: { container: envoy }, ready, proxyPorts }: SandboxParts): Promise<RunningSandbox> {
	const { docker, options, connection: { publishHost } } = start;
	const { model } = options;
	const { proxy } = model;
	const { live } = control;
	const { admin, upstream } = ready;
	const tcp = await tcpEndpoints(model, host.tcpApps, async listener => ({ address: publishHost, port: envoy.getMappedPort(containerTcpListenerPort(model, listener.name)) }));
	// The next warm start of this process takes it (./spares.ts).
	if (start.spareSettings) {
		prepareSpare(start.spareSettings, prepared.upstreamImage);
	}

	let stopped: Promise<void> | undefined;
	const front = proxy ? frontListener(proxy) : undefined;
	// Docker publishes a container's ports when it starts: those of the listeners it had then, for its life.
	const published = new Map([...proxyPorts?.values() ?? []].map(port => [port, envoy.getMappedPort(port)]));
	// The proxy as Envoy last accepted it (a live update may add or remove listeners).
	let currentProxy = proxy;
	return {
		// A mesh proxy may have no listener at all (a gateway no Gateway resource selects): port 0, as on the local runtime.
		url: `http://${publishHost}:${proxy && !front ? 0 : envoy.getMappedPort(front ? proxyPorts!.get(front.name)! : containerListenerPort)}`,
		...(host.gateway ? { clientAddress: host.gateway } : {}),
		admin,
		bootstrapYaml: control.bootstrapYaml,
		envoyVersion: ready.envoyVersion,
		logs: control.logs,
		upstream: controlClient(upstream.controlUrl),
		apps: containerAppRecordings(model, upstream.controlUrl),
		...(tcp ? { tcp } : {}),
		...(live ? {
			rejectedAtStart: ready.rejectedAtStart ?? [],
			configVersion: () => live.xds.version,
			reconfigure: async (next: SandboxModel) => {
				const result = await live.xds.reconfigure(next);
				if (result.rejections.length === 0) {
					currentProxy = next.proxy;
				}

				return result;
			},
		} : {}),
		exited: ready.exited.then(async info => (start.stopping ? new Promise<never>(() => undefined) : info)),
		explainTimeout: async timeout => explainRequestTimeout(admin, wasmModulesOf(model), timeout),
		envoyUsage: async () => containerUsage(docker, envoy.getId()),
		...(currentProxy ? { proxyListeners: async () => proxyListenerAddresses(currentProxy!, publishHost, published) } : {}),
		stop: async () => {
			start.stopping = true;
			stopped ??= (async () => {
				// SIGTERM both (quick exits), then remove whatever carries the session's label, network last.
				await Promise.allSettled([envoy.stop({ timeout: stopTimeoutMs }), upstream.stop()]);
				await start.removeAll();
			})();
			return stopped;
		},
	};
}

/**
 * A mesh proxy's listeners, each published on a free port; a gateway's first port on the model's port when one
 * was asked for (the spec's `port:`, `--port`), as the local runtime binds it. A sidecar's never: every proxy of
 * a mesh has the spec's port in its model.
 */
function proxyExposedPorts(proxy: NonNullable<SandboxModel['proxy']>, ports: ReadonlyMap<string, number>, requested: number): Array<number | { container: number; host: number }> {
	const fixed = requested === 0 ? undefined : proxy.listeners.find(listener => listener.role === 'gateway');
	return proxy.listeners.map(listener => {
		const container = ports.get(listener.name)!;
		return listener === fixed ? { container, host: requested } : container;
	});
}

/** Waits (bounded) until the containers of the proxies a mesh proxy's clusters name run. */
async function awaitPeers(network: MeshNetworkLease, peers: readonly string[], proxy: string, timeoutMs: number, abort: AbortSignal, progress: (line: string) => void): Promise<void> {
	const missing = await network.peersJoined(peers, timeoutMs, abort);
	if (missing.length > 0 && !abort.aborted) {
		progress(`meshbox: mesh proxy ${proxy}: ${missing.join(', ')} did not join the mesh network within ${timeoutMs / 1000} s; starting Envoy anyway (their names resolve at its next DNS lookup)`);
	}
}

/** Runs `step` once; every call gets that run's promise. */
function once(step: () => Promise<void>): () => Promise<void> {
	let run: Promise<void> | undefined;
	return async () => {
		run ??= step();
		return run;
	};
}

/** The upstream's container, started here or taken from a spare. */
type UpstreamContainer = { readonly id: string; readonly controlUrl: string; stop(): Promise<unknown> };

function spareUpstream(docker: Dockerode, spare: Spare): UpstreamContainer {
	return {
		id: spare.upstreamId,
		controlUrl: spare.controlUrl,
		stop: async () => docker.getContainer(spare.upstreamId).stop({ t: Math.ceil(stopTimeoutMs / 1000) }),
	};
}

/**
 * Awaits every promise (none is left running unobserved), then resolves with their values, or rejects with the
 * first failure in the list's order (not the first to happen): the error a one-after-the-other start gave.
 */
async function allInOrder<const T extends readonly unknown[]>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
	const results = await Promise.allSettled(promises);
	const failed = results.find(result => result.status === 'rejected');
	if (failed) {
		throw failed.reason;
	}

	return results.map(result => (result as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
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
