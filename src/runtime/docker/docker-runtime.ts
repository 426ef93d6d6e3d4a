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
	const { model } = options;
	const { proxy } = model;
	const progress = options.onProgress ?? (() => undefined);
	// A mesh proxy's listener ports, checked before anything is created.
	const proxyPorts = proxy ? meshListenerPorts(proxy) : undefined;
	const connection = await connectDocker();
	const { docker, publishHost } = connection;

	// A warm start takes this process's spare network and upstream when there is one (./spares.ts): then the
	// sandbox is that spare's session.
	const spareSettings = options.warm ? spareSettingsFor(connection, model) : undefined;
	const spareTaken = spareSettings ? takeSpare() : undefined;
	let sessionId = newSessionId();
	let labels = sandboxLabels(sessionId);
	let spare: Spare | undefined;
	const cleanups: Array<() => Promise<unknown>> = [];
	// Container starts still under way when a start fails: settled before the session's labels are swept, so
	// that a container Docker creates after the sweep's listing is not left behind.
	const starting: Array<Promise<unknown>> = [];
	const removeAll = async () => {
		await Promise.allSettled(starting);
		await removeSandboxes(docker, { session: sessionId });
		await Promise.allSettled(cleanups.map(async cleanup => cleanup()));
	};

	let stopping = false;
	// Ends a mesh proxy's wait for its peers when its start fails meanwhile (the removal awaits that start).
	const startFailed = new AbortController();
	try {
		// Independent of each other, so at once; a failure is reported as before, in this order. The images one
		// after the other: either may be built, under one build lock (./image-build.ts withBuildLock). The
		// orphans' reaping only ever removes networks of owners that are gone, never this one; when those still
		// hold Docker's last address pool, createNetwork waits for them.
		const [reaped, [envoyImage, upstreamImage], , createdNetwork, taken, meshNetwork] = await allInOrder([
			removeSandboxes(docker, 'orphans'),
			(async () => {
				const envoy = await chooseEnvoyImage(docker, { requested: options.envoyImage, envoyBin: options.envoyBin, version: options.model.envoy.version, versionOrigin: options.model.envoy.versionOrigin, onProgress: progress });
				return [envoy, await ensureUpstreamImage(docker, progress)] as const;
			})(),
			connection.local ? (async () => {
				// A mesh proxy publishes the model's port only for a gateway (proxyExposedPorts).
				if (!proxy || proxy.listeners.some(listener => listener.role === 'gateway')) {
					await assertPortFree(publishHost, listenerPortClaim(model));
				}
				await assertPortFree(publishHost, adminPortClaim(model));
				await assertTcpPortsFree(model, publishHost);
			})() : undefined,
			spareTaken ? undefined : createNetwork(connection, `meshbox-${sessionId}`, labels, progress),
			spareTaken,
			// Left when this sandbox's containers are gone (a cleanup), however the start ends.
			proxy && options.mesh ? joinMeshNetwork(connection, options.mesh.id, proxy.name, progress).then(lease => {
				cleanups.push(async () => lease.release());
				return lease;
			}) : undefined,
		] as const);
		if (taken && spareSettings && spareFits(taken, spareSettings, upstreamImage)) {
			adoptSpare(taken);
			spare = taken;
			sessionId = taken.sessionId;
			labels = taken.labels;
			progress(`meshbox: docker runtime: took this process's spare network and upstream (session ${sessionId})`);
		} else if (taken) {
			discardSpare(taken);
		}

		const networkName = `meshbox-${sessionId}`;
		const network = (spare ? docker.getNetwork(spare.networkId) : createdNetwork) ?? await createNetwork(connection, networkName, labels, progress);
		if (reaped.containers > 0 || reaped.networks > 0) {
			progress(`meshbox: removed ${reaped.containers} container(s) and ${reaped.networks} network(s) left by meshbox processes that are gone`);
		}

		progress(`meshbox: docker runtime: Envoy image ${envoyImage.name} (${envoyImage.why}), upstream image ${upstreamImage}`);
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

		// Started here, awaited below with Envoy's start (see the module comment). Every promise derived from it
		// is marked handled at once: a failed start is reported where it is awaited, never as an unhandled rejection.
		const upstreamStarted: Promise<UpstreamContainer> = spare ? Promise.resolve(spareUpstream(docker, spare)) : startUpstream({ image: upstreamImage, sessionId, labels, networkName, response: model.upstream, apps: containerAppServers(model) })
			.then(container => ({
				id: container.getId(),
				controlUrl: `http://${publishHost}:${container.getMappedPort(upstreamControlPort)}`,
				stop: async () => container.stop({ timeout: stopTimeoutMs }),
			}));
		starting.push(upstreamStarted);
		upstreamStarted.catch(() => undefined);
		const upstreamControlUrl = upstreamStarted.then(upstream => upstream.controlUrl);
		upstreamControlUrl.catch(() => undefined);
		// The app boots (Node, in its container) while Envoy starts; both must be ready before the sandbox is.
		// A spare's runs already: it gets this sandbox's answer, and forgets any request (it could have had none:
		// its app port is published nowhere and nothing else is on its network).
		const upstreamReady = spare
			? Promise.all([setUpstreamResponse(spare.controlUrl, model.upstream), controlClient(spare.controlUrl).clear()])
			: upstreamStarted.then(async upstream => waitForUpstream(upstream.controlUrl, docker, upstream.id));
		upstreamReady.catch(() => undefined);

		const relayed = new Map(relays.map(relay => [relay.cluster, relay.address]));
		const clusterAddress = (cluster: ClusterModel) => relayed.get(cluster.name) ?? { address: cluster.host, port: cluster.port };
		const logs = new LogBuffer(wasmModulesOf(model));
		// Held from the container's start to ready (or failure), when the containers run on this machine's
		// cores: see ../start-slots.ts. The ready timeout starts after the wait.
		let startSlot: Slot | undefined;
		cleanups.push(async () => startSlot?.release());
		const takeStartSlot = async () => {
			startSlot = connection.local ? await admitEnvoyStart(progress) : undefined;
		};

		// A mesh proxy over xDS gets its clusters once the containers of the proxies they name run, so that their
		// names resolve at Envoy's first lookup (Docker's DNS answers for running containers only; a miss leaves
		// the cluster without a host until the next lookup, 5 s later). Its start slot is taken after that wait,
		// when Envoy first asks for its config (the plugins compile only then): a proxy holding a slot never waits
		// for a peer that waits for a slot.
		const meshGate = meshNetwork && proxy && connection.local && gateway ? once(async () => {
			await awaitPeers(meshNetwork, peersOf(proxy, options.mesh), proxy.name, options.readyTimeoutMs ?? defaultReadyTimeoutMs, startFailed.signal, progress);
			await takeStartSlot();
		}) : undefined;
		// Envoy is driven by the xDS control plane (src/xds) on this machine's loopback, reached through a relay
		// on the network's gateway that serves the sandbox's containers only (./host-relay.ts). A remote daemon's
		// containers cannot reach this machine, so there Envoy gets a static bootstrap and cannot change while it runs.
		// Envoy's ADS connection is admitted once the upstream has joined the network, so that the `upstream`
		// alias resolves when Envoy first looks it up (see the module comment).
		const admitOnceUpstreamRuns = async (address: string) => {
			await upstreamStarted;
			await meshGate?.();
			return members(address);
		};
		const live = connection.local && gateway ? await startLiveConfig({ model, logs, gateway, admit: admitOnceUpstreamRuns, clusterAddress, tcpApp: tcpRelays.address, controlUrl: upstreamControlUrl, proxy: proxyParts }) : undefined;
		if (live) {
			cleanups.push(async () => live.stop());
		} else {
			// A static bootstrap names the upstream's alias from Envoy's first moment.
			await upstreamStarted;
		}

		const bootstrap = live?.bootstrap ?? buildBootstrap(model, { ...containerPlacement(model, clusterAddress, tcpRelays.address), ...proxyParts });
		const bootstrapYaml = renderBootstrapYaml(bootstrap, [
			'Generated by meshbox (docker runtime): paths and ports are as Envoy sees them inside its container.',
		]);
		let logsDone: Promise<void> = Promise.resolve();
		let envoyId: string | undefined;
		const hostEnv = Object.fromEntries(wasmModulesOf(model).flatMap(plugin => plugin.hostEnv)
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
				...(proxy ? proxyExposedPorts(proxy, proxyPorts!, model.port) : [model.port === 0 ? containerListenerPort : { container: containerListenerPort, host: model.port }]),
				model.adminPort === 0 ? containerAdminPort : { container: containerAdminPort, host: model.adminPort },
				...(model.listeners?.tcp ?? []).map(listener => {
					const container = containerTcpListenerPort(model, listener.name);
					return listener.port === 0 ? container : { container, host: listener.port };
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
			envoyContainer.withExtraNetwork(docker, meshNetwork.name, meshAliases(proxy, options.mesh));
		}

		if (!meshGate) {
			await takeStartSlot();
		}

		const envoyStarted = envoyContainer.start().catch(async (error: unknown) => {
			throw await explainFailedStart(error, docker, envoyId, wasmModulesOf(model));
		});
		starting.push(envoyStarted);
		envoyStarted.catch(() => undefined);
		// Its names resolve from now on: peers waiting for them go on (a failed start: at release, a cleanup).
		void envoyStarted.then(() => meshNetwork?.joined(), () => undefined);
		// Whichever container fails to start first is the error; Envoy cannot be ready before the upstream runs.
		const [envoy] = await Promise.all([envoyStarted, upstreamStarted]);
		// Not counted against the ready timeout, as the wait for a slot is not.
		await meshGate?.();

		const exited: Promise<ExitInfo> = docker.getContainer(envoy.getId()).wait().then(async (result: { StatusCode?: number }) => {
			// The log stream ends with the container; give it a moment to deliver the last lines.
			// unref: a script that stopped the sandbox exits at once, not when this grace period ends.
			await Promise.race([logsDone, new Promise(resolve => setTimeout(resolve, 2000).unref())]);
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
		// Asked now, read after the settling below: one admin round trip less on the way (it never rejects).
		const envoyVersionAsked = serverVersion(admin);
		// An Istio sidecar NACKs a plugin Envoy refuses and serves on without it; a plain sandbox fails to start.
		const rejectedAtStart = await live?.xds.settleStart({ exited, admin, tolerate: model.sidecar !== undefined, timeoutMs: options.readyTimeoutMs ?? defaultReadyTimeoutMs });
		await upstreamReady;
		await startSlot?.release();
		const [envoyVersion, upstream] = await Promise.all([envoyVersionAsked, upstreamStarted]);
		const tcp = await tcpEndpoints(model, tcpApps, async listener => ({ address: publishHost, port: envoy.getMappedPort(containerTcpListenerPort(model, listener.name)) }));
		// The next warm start of this process takes it (./spares.ts).
		if (spareSettings) {
			prepareSpare(spareSettings, upstreamImage);
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
			...(gateway ? { clientAddress: gateway } : {}),
			admin,
			bootstrapYaml,
			envoyVersion,
			logs,
			upstream: controlClient(upstream.controlUrl),
			apps: containerAppRecordings(model, upstream.controlUrl),
			...(tcp ? { tcp } : {}),
			...(live ? {
				rejectedAtStart: rejectedAtStart ?? [],
				configVersion: () => live.xds.version,
				reconfigure: async (next: SandboxModel) => {
					const result = await live.xds.reconfigure(next);
					if (result.rejections.length === 0) {
						currentProxy = next.proxy;
					}

					return result;
				},
			} : {}),
			exited: exited.then(async info => (stopping ? new Promise<never>(() => undefined) : info)),
			explainTimeout: async timeout => explainRequestTimeout(admin, wasmModulesOf(model), timeout),
			envoyUsage: async () => containerUsage(docker, envoy.getId()),
			...(currentProxy ? { proxyListeners: async () => proxyListenerAddresses(currentProxy!, publishHost, published) } : {}),
			stop: async () => {
				stopping = true;
				stopped ??= (async () => {
					// SIGTERM both (quick exits), then remove whatever carries the session's label, network last.
					await Promise.allSettled([envoy.stop({ timeout: stopTimeoutMs }), upstream.stop()]);
					await removeAll();
				})();
				return stopped;
			},
		};
	} catch (error) {
		stopping = true;
		if (!spare) {
			// Taken while the start failed beside it: not this session's, so removed on its own.
			void spareTaken?.then(taken => taken && discardSpare(taken), () => undefined);
		}

		startFailed.abort();
		await removeAll().catch(() => undefined);
		throw error;
	}
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
