/**
 * The local runtime: Envoy as a child process of this one (./envoy-process.ts), the upstream in this process.
 *
 * Start-up: reap leftovers of dead sandboxes → find Envoy → check ports → start the upstream → write the
 * bootstrap into a private temp dir → start Envoy → wait for admin `/ready` (or explain why it died) →
 * read the listener's real port from admin. Any failure on the way undoes what was done.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EnvoyAdmin } from '../../envoy-admin/admin.ts';
import { isMeshboxError, MeshboxError } from '../../errors.ts';
import { buildAdsBootstrap, buildResources, listenerNameOf, xdsClusterName, type Placement } from '../../envoy/bootstrap.ts';
import { typeUrls } from '../../envoy-api/type-urls.ts';
import { envoyArguments, envoyOptions } from '../../envoy-binary/command-line.ts';
import { describeEnvoy, provisionEnvoy } from '../../envoy-binary/provision.ts';
import { renderBootstrapYaml } from '../../envoy/render.ts';
import { listenFailure } from '../../envoy-binary/startup-failure.ts';
import { RecordingUpstream, recordingsOf } from '../../upstream/recording-server.ts';
import { LogBuffer } from '../log-buffer.ts';
import { adminPortClaim, assertPortFree, listenerPortClaim, portInUse, type PortClaim } from '../ports.ts';
import { waitUntilReady, type ExitInfo } from '../ready.ts';
import { admitEnvoyStart } from '../start-slots.ts';
import type { ListenerAddress, RunningSandbox, RuntimeStartOptions } from '../types.ts';
import type { SocketAddress } from '../../envoy/placement.ts';
import { XdsSession } from '../xds-session.ts';
import type { PushRejection } from '../../xds/control-plane.ts';
import { StagedModules } from '../staged-modules.ts';
import { startLocalApps } from '../apps.ts';
import { wasmModulesOf } from '../../config/listeners.ts';
import { assertTcpPortsFree, startTcpApps, tcpEndpoints, tcpPortClaim } from '../tcp-apps.ts';
import { reapOrphans } from './reaper.ts';
import { makeWorkDir, writeOwner } from './work-dir.ts';
import { WarmEnvoy, type LeaseTrouble } from './warm-envoy.ts';
import { explainRequestTimeout } from '../stuck-worker.ts';
import type { EnvoyStartPlan, LaunchedEnvoy, PreloadKind } from './head-start.ts';
import { preloadFilters, recordHeadStart } from './head-start-record.ts';
import { pinPrefix } from '../../envoy/pins.ts';
import { EnvoyProcess } from './envoy-process.ts';
import { processUsage } from '../envoy-usage.ts';
import type { SandboxModel } from '../../config/model.ts';

const loopback = '127.0.0.1';
const defaultReadyTimeoutMs = 60_000;
/** How long a dedicated Envoy with a stuck worker gets to end on SIGTERM before SIGKILL. */
const stuckGraceMs = 1000;


export async function startLocal(options: RuntimeStartOptions): Promise<RunningSandbox> {
	const { model } = options;
	const progress = options.onProgress ?? (() => undefined);
	// Leftovers of dead owners go while Envoy is found (and a head start adopted); awaited before any port is
	// checked or bound: an orphaned Envoy (`kill -9` of `meshbox up`) holds the ports the next `up` asks for.
	const reaped = reapOrphans().catch(() => 0);
	const envoy = await provisionEnvoy({ envoyBin: options.envoyBin, version: options.model.envoy.version, versionOrigin: options.model.envoy.versionOrigin, onProgress: progress });
	progress(`meshbox: using ${describeEnvoy(envoy)}`);
	const warm = options.warm === true && WarmEnvoy.eligible(model);
	const { startPlan, adopted } = await takeHeadStart(options, envoy, warm, progress);
	const start = new LocalStart(options, progress, model);
	if (adopted) {
		start.undo.push(async () => releaseAdopted(adopted));
	}

	try {
		await reaped;
		await assertPortsFree(model, adopted);
		const hosts = await startAppsAndUpstream(start);
		const onWarm = warm ? await startWarm(start, hosts, envoy) : undefined;
		const running = onWarm ?? await startDedicated(start, hosts, envoy, { startPlan, adopted });
		await reaped;
		return running;
	} catch (error) {
		// An Envoy started ahead that died before its sandbox started (a preload it could not load, a binary that
		// exits) says nothing about this config: no head start then, silently. The head start is taken, so the
		// second start spawns its own Envoy, and records anew for the next `up`.
		const adoptedDied = adopted !== undefined && !adopted.child.isRunning;
		await start.undoAll();
		await reaped;
		if (adoptedDied) {
			return startLocal(options);
		}

		throw error;
	}
}

type ProvisionedEnvoy = Awaited<ReturnType<typeof provisionEnvoy>>;

/** What one start holds while it runs: the steps stop() (and a failure) undo, in reverse, and the model serving now. */
class LocalStart {
	readonly undo: Array<() => Promise<void>> = [];
	private stopped: Promise<void> | undefined;

	/** @param current The model serving now: live updates (xDS) replace it, and the app answers what it says. */
	constructor(readonly options: RuntimeStartOptions, readonly progress: (line: string) => void, public current: SandboxModel) {}

	/** The sandbox's stop(): undoes every step once. */
	readonly stop = async (): Promise<void> => {
		this.stopped ??= this.undoAll();
		return this.stopped;
	};

	async undoAll(): Promise<void> {
		for (const step of this.undo.reverse()) {
			await step().catch(() => undefined);
		}
	}
}

/**
 * `meshbox up`'s Envoy may be running already (./head-start.ts): adopted when it is the one this would start,
 * discarded before a warm start. `startPlan`: how this start's dedicated Envoy is started, what a head start must
 * match and what the next `up` records.
 */
async function takeHeadStart(options: RuntimeStartOptions, envoy: ProvisionedEnvoy, warm: boolean, progress: (line: string) => void) {
	if (warm) {
		await options.headStart?.discard();
	}

	const startPlan = !warm && options.headStart ? envoyStart(options.model, envoy.path) : undefined;
	const adopted = startPlan ? await adoptHeadStart(options, startPlan, progress) : undefined;
	return { startPlan, adopted };
}

async function releaseAdopted(adopted: AdoptedEnvoy): Promise<void> {
	await adopted.child.stop();
	// The control plane's port: still the head start's when this start failed before the control plane
	// took it over (a port in use), and open, which would keep `meshbox up` from exiting.
	await adopted.prebound.close();
	await rm(adopted.workDir, { recursive: true, force: true });
}

async function assertPortsFree(model: SandboxModel, adopted: AdoptedEnvoy | undefined): Promise<void> {
	await assertPortFree(loopback, listenerPortClaim(model));
	if (!adopted) {
		// An adopted Envoy has its admin port already.
		await assertPortFree(loopback, adminPortClaim(model));
	}

	await assertTcpPortsFree(model, loopback);
}

/** The recording upstream, named apps and TCP apps, and where they are (a placement without the modules). */
type Hosts = {
	readonly upstream: RecordingUpstream;
	readonly apps: Awaited<ReturnType<typeof startLocalApps>>;
	readonly tcpApps: Awaited<ReturnType<typeof startTcpApps>>;
	/** Where things are, but the modules: those are where the Envoy that runs them staged them. */
	readonly placement: Omit<Placement, 'wasmPath'>;
};

async function startAppsAndUpstream(start: LocalStart): Promise<Hosts> {
	const { options, undo } = start;
	const { model } = options;
	const upstream = await RecordingUpstream.start({ host: loopback, respond: () => start.current.upstream });
	undo.push(async () => upstream.stop());
	// Named apps (`apps:`): one recording server each (../apps.ts).
	const apps = await startLocalApps(model, loopback, () => start.current);
	undo.push(async () => apps.stop());
	const tcpApps = await startTcpApps(model, loopback);
	undo.push(async () => tcpApps.stop());
	const placement: Omit<Placement, 'wasmPath'> = {
		listener: { address: loopback, port: model.port },
		admin: { address: loopback, port: model.adminPort },
		upstream: { address: upstream.address.host, port: upstream.address.port },
		appAddress: app => apps.address(app),
		tcpApp: name => ({ address: loopback, port: tcpApps.apps.get(name)!.address.port }),
		...proxyPlacement(model, options),
	};
	return { upstream, apps, tcpApps, placement };
}

/**
 * On a warm Envoy this process keeps between sandboxes (./warm-envoy.ts); undefined when this sandbox there
 * would not be what a fresh Envoy does (UnlikeFresh): its lease goes, the upstream and apps stay for a dedicated Envoy.
 */
async function startWarm(start: LocalStart, hosts: Hosts, envoy: ProvisionedEnvoy): Promise<RunningSandbox | undefined> {
	const { options, progress, undo } = start;
	const warmSteps = undo.length;
	try {
		const running = await startOnWarmEnvoy({ model: options.model, placement: hosts.placement, envoyPath: envoy.path, envoyVersion: envoy.version, options, progress,
			upstream: hosts.upstream, apps: hosts.apps, tcpApps: hosts.tcpApps, undo, setCurrent: next => {
				start.current = next;
			} });
		return { ...running, ...proxyListenersOf(() => start.current, running.admin, { rejected: running.rejectedAtStart ?? [], logs: running.logs, warm: true }), stop: start.stop };
	} catch (error) {
		if (!(error instanceof UnlikeFresh)) {
			throw error;
		}

		for (const step of undo.splice(warmSteps).reverse()) {
			await step().catch(() => undefined);
		}

		progress(`meshbox: ${error.message}: starting a dedicated Envoy`);
		return undefined;
	}
}

type HeadStartParts = { readonly startPlan: Omit<EnvoyStartPlan, 'preloads'> | undefined; readonly adopted: AdoptedEnvoy | undefined };

/** On an Envoy of its own (spawned, or adopted from a head start), driven by the xDS control plane. */
async function startDedicated(start: LocalStart, hosts: Hosts, envoy: ProvisionedEnvoy, { startPlan, adopted }: HeadStartParts): Promise<RunningSandbox> {
	const { model } = start.options;
	const workDir = adopted?.workDir ?? makeWorkDir();
	if (!adopted) {
		start.undo.push(async () => rm(workDir, { recursive: true, force: true }));
	}

	// Over xDS, Envoy loads each module from a copy named by its hash (see ../staged-modules.ts): a rebuilt
	// file is a new module, and a build rewriting the file never races Envoy reading it.
	const staged = new StagedModules(path.join(workDir, 'modules'));
	const placement: Placement = { ...hosts.placement, wasmPath: plugin => staged.pathOf(plugin) };
	const logs = new LogBuffer(wasmModulesOf(model));
	// Envoy is driven by the xDS control plane (src/xds), so the sandbox can change while Envoy runs.
	const xds = await XdsSession.bind({
		model,
		placement,
		modules: staged,
		logs,
		onAccepted: next => {
			start.current = next;
		},
		prebound: adopted?.prebound,
	});
	start.undo.push(async () => xds.stop());
	const launch = adopted ? adoptedLaunch(adopted) : await spawnEnvoy({ model, placement, workDir, envoyPath: envoy.path, adsPort: xds.port, progress: start.progress });
	start.undo.push(async () => launch.slot?.release());
	const followed = followEnvoy(start, launch, logs, xds);
	if (!adopted) {
		writeOwner(workDir, { ownerPid: process.pid, envoyPid: launch.child.pid });
	}

	const ready = await awaitDedicatedReady(start, followed, xds);
	await launch.slot?.release();
	if (startPlan) {
		recordForNextUp(start, startPlan, staged);
	}

	return dedicatedSandbox(start, { hosts, envoy, launch, followed, xds, ...ready });
}

/** The dedicated Envoy as it runs: its output in `logs`, its exit, how stop() ends it. */
type FollowedEnvoy = {
	readonly logs: LogBuffer;
	readonly adminAddressPath: string;
	readonly exited: Promise<ExitInfo>;
	/** Set by stop(): an exit then is no failure. */
	readonly stopping: () => boolean;
	/** A plugin stuck in a loop keeps Envoy from finishing its SIGTERM shut-down: then SIGKILL comes sooner. */
	markStuck(): void;
};

function followEnvoy(start: LocalStart, launch: Launch, logs: LogBuffer, xds: XdsSession): FollowedEnvoy {
	const { child } = launch;
	// Read Envoy's output from its first line on: attached before anything else awaits. Pins (an adopted
	// Envoy's) log too: that is not the sandbox's.
	const outputDone = Promise.all([logs.follow(child.stderr, pinPrefix), logs.follow(child.stdout, pinPrefix)]).then(() => logs.end());
	// The first push is encoded while Envoy boots (XdsSession.bind).
	xds.pushInitial();
	let stopping = false;
	let stuck = false;
	start.undo.push(async () => {
		stopping = true;
		await (stuck ? child.terminate(stuckGraceMs) : child.stop());
	});
	const exited: Promise<ExitInfo> = child.exited.then(async result => {
		await outputDone;
		return { exitCode: result.exitCode, signal: result.signal };
	});
	return {
		logs,
		adminAddressPath: launch.adminAddressPath,
		exited,
		stopping: () => stopping,
		markStuck() {
			stuck = true;
		},
	};
}

/** Admin answers and the first push settled: the plugins Envoy refused (an Istio sidecar or mesh proxy serves on without them). */
async function awaitDedicatedReady(start: LocalStart, envoy: FollowedEnvoy, xds: XdsSession): Promise<{ admin: EnvoyAdmin; rejectedAtStart: readonly PushRejection[] }> {
	const { options } = start;
	const { model } = options;
	const readyTimeoutMs = options.readyTimeoutMs ?? defaultReadyTimeoutMs;
	const admin = await waitUntilReady({
		admin: EnvoyAdmin.fromAddressFile(envoy.adminAddressPath),
		exited: envoy.exited,
		timeoutMs: readyTimeoutMs,
		logs: envoy.logs,
		recheckOn: xds.firstAnswer,
	}).catch((error: unknown) => {
		// Stuck in the sandbox's config (an on_configure that never returns): the same error as on a warm Envoy.
		envoy.markStuck();
		throw xds.explainReadyTimeout(error, readyTimeoutMs);
	});
	// An Istio sidecar NACKs a plugin Envoy refuses and serves on without it; a plain sandbox fails to start.
	const rejectedAtStart = await xds.settleStart({ exited: envoy.exited, admin, tolerate: model.sidecar !== undefined || model.proxy !== undefined, timeoutMs: readyTimeoutMs });
	return { admin, rejectedAtStart };
}

/**
 * For the next `up` of this command: written while this one serves, awaited at stop. (Services load their
 * modules from the work dir, named in the bootstrap: never the next run's, so not recorded.)
 */
function recordForNextUp(start: LocalStart, startPlan: Omit<EnvoyStartPlan, 'preloads'>, staged: StagedModules): void {
	const { options } = start;
	const { model } = options;
	if (!options.headStart || (model.listeners?.services.length ?? 0) > 0) {
		return;
	}

	const recorded = recordHeadStart(options.headStart.key, {
		plan: startPlan,
		adsCluster: xdsClusterName,
		preload: preloadKindOf(options),
		plugins: model.plugins,
		modulePath: plugin => staged.pathOf(plugin),
	}).catch(() => undefined);
	start.undo.push(async () => recorded);
}

type DedicatedParts = {
	readonly hosts: Hosts;
	readonly envoy: ProvisionedEnvoy;
	readonly launch: Launch;
	readonly followed: FollowedEnvoy;
	readonly xds: XdsSession;
	readonly admin: EnvoyAdmin;
	readonly rejectedAtStart: readonly PushRejection[];
};

/** The running sandbox on its dedicated Envoy, once its listeners are active. */
async function dedicatedSandbox(start: LocalStart, { hosts, envoy, launch, followed, xds, admin, rejectedAtStart }: DedicatedParts): Promise<RunningSandbox> {
	const { model } = start.options;
	const { logs } = followed;
	// listenerNameOf: Istio sidecars (src/istio) name the listener as Istio does.
	const listener = await mainListener(model, async () => activeListener(admin, listenerNameOf(model), listenerPortClaim(model), { rejected: rejectedAtStart, logs }));
	const tcp = await tcpEndpoints(model, hosts.tcpApps, async tcpListener => activeListener(admin, tcpListener.name, tcpPortClaim(tcpListener), { rejected: rejectedAtStart, logs }));
	const { pid } = launch.child;
	return {
		url: `http://${loopback}:${listener.port}`,
		admin,
		// Rendered when read (`meshbox up` never reads it: ≈10 ms of YAML while Envoy compiles).
		get bootstrapYaml() {
			return launch.bootstrapYaml();
		},
		envoyVersion: envoy.version,
		logs,
		upstream: recordingsOf(hosts.upstream),
		apps: hosts.apps.recordings,
		...(tcp ? { tcp } : {}),
		exited: followed.exited.then(async info => (followed.stopping() ? new Promise<never>(() => undefined) : info)),
		rejectedAtStart,
		configVersion: () => xds.version,
		reconfigure: async next => xds.reconfigure(next),
		explainTimeout: async timeout => {
			const explained = await explainRequestTimeout(admin, wasmModulesOf(start.current), timeout);
			if (explained.code === 'PLUGIN_STUCK') {
				followed.markStuck();
			}

			return explained;
		},
		...(pid === undefined ? {} : { envoyUsage: async () => processUsage(pid) }),
		...proxyListenersOf(() => start.current, admin, { rejected: rejectedAtStart, logs }),
		stop: start.stop,
	};
}

type Launch = {
	readonly child: EnvoyProcess;
	readonly adminAddressPath: string;
	/** The bootstrap Envoy runs, as YAML. */
	readonly bootstrapYaml: () => string;
	/** Held from spawn to ready (or failure): see ../start-slots.ts. */
	readonly slot?: Awaited<ReturnType<typeof admitEnvoyStart>>;
};

/** Writes the bootstrap into the work dir and spawns Envoy, once a start slot is free. */
async function spawnEnvoy(input: { model: SandboxModel; placement: Placement; workDir: string; envoyPath: string; adsPort: number; progress: (line: string) => void }): Promise<Launch> {
	const { model, workDir } = input;
	const bootstrapYaml = renderBootstrapYaml(buildAdsBootstrap(model, input.placement, { address: loopback, port: input.adsPort }), ['Generated by meshbox (local runtime).']);
	const bootstrapPath = path.join(workDir, 'envoy.yaml');
	const adminAddressPath = path.join(workDir, 'admin-address');
	await writeFile(bootstrapPath, bootstrapYaml);
	// The ready timeout starts after the wait for the slot.
	const slot = await admitEnvoyStart(input.progress);
	// Envoy drains on SIGTERM; SIGKILL 5 s later. It is stopped when this process exits, also on Ctrl+C;
	// a SIGKILL of this process is covered by the reaper on the next start.
	const child = EnvoyProcess.spawn(input.envoyPath, [...envoyArguments(model.envoy, bootstrapPath), '--admin-address-path', adminAddressPath], { forceKillAfterMs: 5000 });
	return { child, adminAddressPath, bootstrapYaml: () => bootstrapYaml, slot };
}

/** An Envoy `meshbox up` started ahead (./head-start.ts), as a launch. */
function adoptedLaunch(adopted: AdoptedEnvoy): Launch {
	let yaml: string | undefined;
	const bootstrapYaml = () => {
		yaml ??= renderBootstrapYaml(adopted.bootstrap, [
			'Generated by meshbox (local runtime), started ahead as the last `meshbox up` of this command started it:',
			`the listener meshbox_pins preloads ${adopted.preloaded} module(s) from Envoy's boot on, as ${adopted.preload === 'plugins' ? 'the plugins themselves' : 'pins (compiled code only)'}.`,
		]);
		return yaml;
	};

	return { child: adopted.child, adminAddressPath: adopted.adminAddressPath, bootstrapYaml };
}

/** How a dedicated Envoy for `model` is started: its binary, options and bootstrap (with the control plane's port 0). */
function envoyStart(model: SandboxModel, envoyPath: string): Omit<EnvoyStartPlan, 'preloads'> {
	const shell: Placement = { listener: { address: loopback, port: model.port }, admin: { address: loopback, port: model.adminPort }, upstream: { address: loopback, port: 0 }, wasmPath: () => '' };
	return { envoyPath, options: envoyOptions(model.envoy), bootstrap: buildAdsBootstrap(model, shell, { address: loopback, port: 0 }) };
}

/**
 * How the next `up` preloads this one's plugins (./head-start.ts): as the plugins themselves, but under
 * `up --watch` and for Istio sidecars (whose plugins sit on listeners of their own direction and metadata, which
 * name their root contexts too), where only their compiled code is kept.
 */
function preloadKindOf(options: RuntimeStartOptions): PreloadKind {
	return options.headStartPreload === 'plugins' && !options.model.sidecar ? 'plugins' : 'modules';
}

/**
 * The Envoy `meshbox up` started ahead, when it is the one this start would spawn; it is stopped otherwise.
 * Services (bootstrap extensions) load their modules from the work dir, so their bootstrap is never the last one's.
 */
async function adoptHeadStart(options: RuntimeStartOptions, startPlan: Omit<EnvoyStartPlan, 'preloads'>, progress: (line: string) => void): Promise<AdoptedEnvoy | undefined> {
	const { headStart, model } = options;
	if (!headStart?.pending) {
		return undefined;
	}

	const plan = { ...startPlan, preloads: preloadFilters(model.plugins, preloadKindOf(options)).map(preloaded => preloaded.filter) };
	const taken = (model.listeners?.services.length ?? 0) === 0 ? headStart.take(plan) : undefined;
	if (!taken) {
		// An Envoy started ahead that exited already (it could not load what it was started with) is silently none.
		const changed = headStart.running;
		await headStart.discard();
		if (changed) {
			progress('meshbox: the config changed since the last `meshbox up` of this command: starting Envoy anew');
		}

		return undefined;
	}

	const preloaded = taken.preload === 'plugins' ? `${taken.preloaded} plugin(s) loaded from its boot on` : `${taken.preloaded} module(s) compiled from its boot on`;
	progress(`meshbox: Envoy started ahead, as this command started it last time${taken.preloaded > 0 ? ` (${preloaded})` : ''}`);
	return { ...taken, child: EnvoyProcess.adopt(taken.child, { forceKillAfterMs: 5000 }) };
}

/** An Envoy `meshbox up` started ahead, now this runtime's. */
type AdoptedEnvoy = Omit<LaunchedEnvoy, 'child'> & { readonly child: EnvoyProcess };

/**
 * Where a mesh proxy's listeners bind (127.0.0.1, a free port each; a gateway's first port on the spec's fixed
 * `port:` when it gives one) and where the mesh's other proxies and external hosts are (`options.mesh`, asked at
 * each push: unknown before every proxy is up, src/compose/mesh.ts).
 */
function proxyPlacement(model: SandboxModel, options: RuntimeStartOptions): Pick<Placement, 'proxyListener' | 'meshEndpoint'> {
	if (!model.proxy) {
		return {};
	}

	const fixed = fixedProxyListener(model);
	return {
		proxyListener: listener => ({ address: loopback, port: listener.name === fixed ? model.port : 0 }),
		meshEndpoint: ref => options.mesh?.endpoint(ref),
	};
}

/**
 * The sandbox's listener, once active: where `url` points. A mesh proxy may have none (a gateway no Gateway
 * resource selects: istiod gives it no listeners); its `url` is then port 0, which nothing answers, and the mesh
 * reaches it by `proxyListeners()` (empty).
 */
async function mainListener(model: SandboxModel, active: () => Promise<{ address: string; port: number }>): Promise<{ address: string; port: number }> {
	return model.proxy?.listeners.length === 0 ? { address: loopback, port: 0 } : active();
}

/** The listener of a mesh proxy that binds the model's fixed `port:` (a gateway's first port), if any. */
function fixedProxyListener(model: SandboxModel): string | undefined {
	return model.port === 0 ? undefined : model.proxy?.listeners.find(listener => listener.role === 'gateway')?.name;
}

/**
 * A mesh proxy's `proxyListeners()`: each listener's address from admin `/listeners` (once active). On this
 * runtime other proxies reach a listener where this machine does: 127.0.0.1 and the port Envoy bound.
 */
function proxyListenersOf(currentModel: () => SandboxModel, admin: EnvoyAdmin, context: { rejected: readonly PushRejection[]; logs: LogBuffer; warm?: boolean }): Pick<RunningSandbox, 'proxyListeners'> {
	if (!currentModel().proxy) {
		return {};
	}

	return {
		proxyListeners: async () => {
			const fromHost: ListenerAddress[] = [];
			const fromMesh: Record<string, SocketAddress> = {};
			for (const listener of currentModel().proxy?.listeners ?? []) {
				// The fixed port's listener fails as a sandbox's listener does (PORT_IN_USE naming --port); the others bind port 0.
				const claim = listener.name === fixedProxyListener(currentModel()) ? listenerPortClaim(currentModel()) : { port: 0, what: 'listener', flag: '--port' };
				const bound = await activeListener(admin, listener.name, claim, context);
				const address = { address: loopback, port: bound.port };
				fromHost.push({ listener, url: `http://${loopback}:${bound.port}`, address });
				fromMesh[listener.name] = address;
			}

			return { fromHost, fromMesh };
		},
	};
}

/** A sandbox whose start on a warm Envoy would not be what a fresh Envoy does: it gets a dedicated one. */
class UnlikeFresh extends Error {}

type WarmInput = {
	readonly model: SandboxModel;
	readonly placement: Omit<Placement, 'wasmPath'>;
	readonly envoyPath: string;
	readonly envoyVersion: string;
	readonly options: RuntimeStartOptions;
	readonly progress: (line: string) => void;
	readonly upstream: RecordingUpstream;
	readonly apps: Awaited<ReturnType<typeof startLocalApps>>;
	readonly tcpApps: Awaited<ReturnType<typeof startTcpApps>>;
	/** Steps stop() (and a failure) undo, in reverse: the lease's release goes there. */
	readonly undo: Array<() => Promise<void>>;
	readonly setCurrent: (model: SandboxModel) => void;
};

/**
 * The sandbox as a lease on a warm Envoy (./warm-envoy.ts): its resources pushed to that Envoy's control plane
 * (with the pins), as written (names, vm_ids, configuration), its own log from now on.
 */
async function startOnWarmEnvoy(input: WarmInput): Promise<Omit<RunningSandbox, 'stop'>> {
	const { model, options, upstream, apps, tcpApps, undo } = input;
	const lease = WarmEnvoy.nextLease();
	const warm = await WarmEnvoy.acquire(model, {
		envoyPath: input.envoyPath,
		envoyVersion: input.envoyVersion,
		readyTimeoutMs: options.readyTimeoutMs ?? defaultReadyTimeoutMs,
		progress: input.progress,
	});
	let stopping = false;
	let modules = wasmModulesOf(model);
	// This sandbox's view of Envoy's exit, dropped at its stop (see WarmEnvoy.exitWatch).
	const watch = warm.exitWatch();
	undo.push(async () => watch.detach());
	undo.push(async () => {
		stopping = true;
		await warm.release(modules);
	});
	input.progress(`meshbox: on a warm Envoy (lease ${lease}; admin ${warm.admin.url})`);
	const logs = new LogBuffer(modules);
	warm.follow(logs);
	// Modules staged once per warm Envoy (by hash): a sandbox whose modules are there copies nothing.
	const placement: Placement = { ...input.placement, wasmPath: plugin => warm.staged.pathOf(plugin) };
	const xds = await XdsSession.attach(warm.plane, {
		model,
		placement,
		modules: warm.staged,
		logs,
		extra: () => warm.pinResources(),
		onAccepted: next => {
			modules = wasmModulesOf(next);
			input.setCurrent(next);
		},
	});
	undo.push(async () => xds.stop());
	// A module this Envoy does not hold is compiled by this push: that is a start like any other, admitted
	// up to what the cores can do (../start-slots.ts).
	const compiles = !warm.holds(modules.map(plugin => plugin.module.sha256));
	const slot = compiles ? await admitEnvoyStart(input.progress) : undefined;
	let rejectedAtStart: Awaited<ReturnType<XdsSession['settleStart']>>;
	try {
		await warm.countersZeroed();
		xds.pushInitial();
		rejectedAtStart = await xds.settleStart({ exited: watch.exited, admin: warm.admin, tolerate: model.sidecar !== undefined || model.proxy !== undefined, timeoutMs: options.readyTimeoutMs ?? defaultReadyTimeoutMs });
	} catch (error) {
		warm.noteTrouble(startTrouble(error));
		throw error;
	} finally {
		await slot?.release();
		warm.settled();
	}

	// A plugin config Envoy refused at start (an Istio sidecar serves on without it): on a fresh Envoy its filter
	// has no config (500 for every request); here its name's subscription may still hold a stopped sandbox's
	// released config (./warm-isolation.ts), which would serve instead.
	const ecdsNames = buildResources(model, placement, { ecds: true }).extensionConfigs.map(config => String(config.name));
	if (rejectedAtStart.some(rejection => rejection.typeUrl === typeUrls.extensionConfig) && warm.releasedBefore(ecdsNames)) {
		throw new UnlikeFresh('a plugin config Envoy refused at start, whose name an earlier sandbox on the warm Envoy used');
	}

	const onWarm = { rejected: rejectedAtStart, logs, warm: true };
	let listener: { address: string; port: number };
	let tcp: Awaited<ReturnType<typeof tcpEndpoints>>;
	try {
		listener = await mainListener(model, async () => activeListener(warm.admin, listenerNameOf(model), listenerPortClaim(model), onWarm));
		tcp = await tcpEndpoints(model, tcpApps, async tcpListener => activeListener(warm.admin, tcpListener.name, tcpPortClaim(tcpListener), onWarm));
	} catch (error) {
		warm.noteTrouble({ retire: false, reason: 'its listener did not become active' });
		throw error;
	}

	return {
		url: `http://${loopback}:${listener.port}`,
		admin: warm.admin,
		bootstrapYaml: warm.bootstrapYaml,
		envoyVersion: warm.envoyVersion,
		logs,
		upstream: recordingsOf(upstream),
		apps: apps.recordings,
		...(tcp ? { tcp } : {}),
		exited: watch.exited.then(async info => (stopping ? new Promise<never>(() => undefined) : info)),
		rejectedAtStart,
		configVersion: () => xds.version,
		reconfigure: async next => xds.reconfigure(next),
		// A request that timed out retires this Envoy when the sandbox stops: whatever held it (a plugin stuck in
		// a loop, a request paused forever) must not reach the next sandbox.
		explainTimeout: async timeout => {
			warm.noteTrouble({ retire: true, reason: 'a request through it timed out' });
			return explainRequestTimeout(warm.admin, modules, timeout);
		},
	};
}

/**
 * What a failed start on a warm Envoy leaves: a start Envoy never answered in time (XdsSession's deadline:
 * ENVOY_START_FAILED) leaves it in a state nobody knows (a plugin may hold its main thread, and a late answer to
 * this lease's push must never be taken for the next one's), so it is retired; a refusal (a NACK) leaves it sound,
 * but the refused modules are not pinned.
 */
function startTrouble(error: unknown): LeaseTrouble {
	const unanswered = isMeshboxError(error) && error.code === 'ENVOY_START_FAILED';
	return { retire: unanswered, reason: unanswered ? 'it did not answer a sandbox\'s start in time' : 'a sandbox\'s start failed on it' };
}

/**
 * A listener Envoy accepted is active once its filter configs arrived: look it up until it is (10 s at most: a
 * loaded machine may take a while to move it from warming to active). When it never is, say what Envoy refused
 * of this sandbox (an Istio sidecar's start tolerates refusals, but not of its own listener's configs). A port
 * that another process started to listen on first (another sandbox starting at the same moment) fails at once.
 */
async function activeListener(admin: EnvoyAdmin, name: string, claim: PortClaim, context: { rejected: readonly PushRejection[]; logs: LogBuffer; warm?: boolean }): Promise<{ address: string; port: number }> {
	const deadline = Date.now() + 10_000;
	for (;;) {
		try {
			return await admin.listenerAddress(name);
		} catch (error) {
			const failed = await context.logs.waitFor(entry => listenFailure(entry, name) !== undefined, 0);
			const failure = failed && listenFailure(failed, name);
			if (failure?.inUse) {
				throw portInUse(loopback, claim.port, claim.what, claim.flag, [`envoy: ${failure.line}`]);
			}

			if (failure || Date.now() > deadline) {
				const reasons = context.rejected.map(rejection => `${rejection.typeUrl.split('.').pop() ?? ''}: ${rejection.message}`);
				throw new MeshboxError(reasons.length > 0 ? 'ENVOY_REJECTED_CONFIG' : 'ENVOY_START_FAILED',
					`listener ${name} ${failure ? `could not listen: ${failure.line}` : `did not become active within 10 s${context.warm ? ' on the warm Envoy' : ''} (${(error as Error).message})`}${reasons.length > 0 ? `; Envoy refused: ${reasons.join('; ')}` : ''}`,
					context.warm ? 'run the scenario with fresh: true (or MESHBOX_FRESH=1) to see whether it starts on an Envoy of its own, and report the difference' : 'the last lines of Envoy\'s log follow',
					context.logs.tail(20));
			}

			await new Promise(resolve => setTimeout(resolve, 2));
		}
	}
}
