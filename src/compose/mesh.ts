/**
 * MeshModel → a running mesh: every proxy (gateways, then the sidecars) a sandbox of its own started through the
 * runtimes at once, the hosts outside the mesh (ServiceEntry) as recording apps, and istiod's role of pushing to
 * each proxy what it needs to reach the others.
 *
 * A local Envoy binds its listeners on port 0, so where a proxy reaches another is known only once that one is
 * up: the first push has clusters without those endpoints, and once every proxy is up their listeners are read
 * from admin (`RunningSandbox.proxyListeners()`) and every proxy gets a second push with the endpoints.
 */
import type { MeshEndpointRef, ProxyModel, SandboxModel } from '../config/model.ts';
import type { SocketAddress } from '../envoy/placement.ts';
import { isMeshboxError, MeshboxError } from '../errors.ts';
import type { MeshExternalModel, MeshModel, MeshProxyModel } from '../istio/mesh/model.ts';
import type { ListenerAddress, MeshPlacement, RunningSandbox } from '../runtime/types.ts';
import { RecordingUpstream, recordingsOf } from '../upstream/recording-server.ts';
import type { UpstreamRecordings } from '../upstream/recordings.ts';
import type { PushResult } from '../xds/control-plane.ts';
import { startComposed, type StartOptions } from './start.ts';

const loopback = '127.0.0.1';

export type MeshStartOptions = Omit<StartOptions, 'mesh' | 'headStart' | 'headStartPreload'>;

/** One proxy of a running mesh. */
export type RunningMeshProxy = {
	readonly name: string;
	/** The model it runs (updated by `RunningMesh.reconfigure`). */
	readonly model: MeshProxyModel;
	readonly running: RunningSandbox;
	/** Where this machine reaches each of its listeners. */
	readonly listeners: readonly ListenerAddress[];
};

/** A host outside the mesh, served by a recording app. */
export type RunningMeshExternal = {
	readonly host: string;
	readonly port: number;
	readonly address: SocketAddress;
	readonly recordings: UpstreamRecordings;
};

export type RunningMesh = {
	/** The first gateway's first port (`http://127.0.0.1:PORT`); undefined for a mesh without gateways. */
	readonly url: string | undefined;
	/** Gateways first, then sidecars, as in the model. */
	readonly proxies: readonly RunningMeshProxy[];
	readonly externals: readonly RunningMeshExternal[];
	/** The model running (the last one `reconfigure` pushed). */
	readonly model: MeshModel;
	proxy(name: string): RunningMeshProxy;
	/**
	 * Pushes the next model to every proxy whose config changed (as istiod pushes to each), then the endpoints of
	 * listeners that appeared. Resolves with each pushed proxy's result; the same proxies (by name) must remain.
	 */
	reconfigure(next: MeshModel): Promise<ReadonlyMap<string, PushResult>>;
	/** Stops every proxy and app; nothing is left behind. Safe to call twice. */
	stop(): Promise<void>;
};

/**
 * Where each proxy's listeners are as the other proxies reach them, and the external apps: the mesh's
 * `MeshPlacement`, handed to every proxy's runtime. It also names the proxies and the Services each backs, for a
 * runtime that places listeners at fixed ports and gives containers DNS names (docker: `proxy` / `aliases`).
 */
class MeshDirectory implements MeshPlacement {
	private readonly listeners = new Map<string, Readonly<Record<string, SocketAddress>>>();
	private readonly externals = new Map<string, SocketAddress>();

	constructor(readonly id: string, private readonly current: () => MeshModel) {}

	setProxy(name: string, fromMesh: Readonly<Record<string, SocketAddress>>): boolean {
		const before = JSON.stringify(this.listeners.get(name) ?? {});
		this.listeners.set(name, fromMesh);
		return before !== JSON.stringify(fromMesh);
	}

	setExternal(host: string, port: number, address: SocketAddress): void {
		this.externals.set(`${host}:${port}`, address);
	}

	endpoint(ref: Exclude<MeshEndpointRef, { kind: 'app' }>): SocketAddress | undefined {
		return ref.kind === 'proxy' ? this.listeners.get(ref.proxy)?.[ref.listener] : this.externals.get(`${ref.host}:${ref.port}`);
	}

	/** A proxy of the mesh as it runs now (a live update's new listeners included). */
	proxy(name: string): ProxyModel | undefined {
		return this.current().proxies.find(entry => entry.name === name)?.sandbox.proxy;
	}

	/**
	 * The names a cluster's DNS gives `proxy` besides its own: every Service it backs, in the three forms a pod
	 * uses (`reviews`, `reviews.default`, `reviews.default.svc.cluster.local`).
	 */
	aliases(proxy: string): readonly string[] {
		const names = this.current().services
			.filter(service => !service.external && service.endpoints.some(endpoint => endpoint.proxy === proxy))
			.flatMap(service => [service.name, `${service.name}.${service.namespace}`, service.hostname]);
		return [...new Set(names)];
	}
}

let meshCounter = 0;

export async function startMesh(model: MeshModel, options: MeshStartOptions = {}): Promise<RunningMesh> {
	assertUniqueNames(model);
	meshCounter += 1;
	let currentModel = model;
	const directory = new MeshDirectory(`meshbox-mesh-${process.pid}-${meshCounter}`, () => currentModel);
	const undo: Array<() => Promise<void>> = [];
	const undoAll = async () => {
		for (const step of undo.splice(0).reverse()) {
			await step().catch(() => undefined);
		}
	};

	try {
		// The external hosts first: they take no time, and the proxies' first push then has their endpoints.
		const externals = await startExternals(model.externals, () => currentModel, undo);
		for (const external of externals) {
			directory.setExternal(external.host, external.port, external.address);
		}

		const started = await startProxies(model.proxies, { ...options, mesh: directory }, undo);
		const proxies = new Map<string, { model: MeshProxyModel; running: RunningSandbox; listeners: readonly ListenerAddress[] }>();
		for (const [index, running] of started.entries()) {
			proxies.set(model.proxies[index]!.name, { model: model.proxies[index]!, running, listeners: [] });
		}

		// Every proxy is up: where their listeners are, then the second push (istiod's EDS) to every proxy.
		await learnListeners(proxies, directory);
		const peers = new PeerGenerations();
		const pushed = new Map<string, string>();
		const push = async (names: readonly string[]) => pushAll(proxies, names, peers, pushed);
		assertAccepted(await push([...proxies.keys()]));
		let stopped: Promise<void> | undefined;
		let changes: Promise<unknown> = Promise.resolve();
		const running: RunningMesh = {
			get url() {
				return gatewayUrl(proxies);
			},
			get proxies() {
				return [...proxies.entries()].map(([name, proxy]) => ({ name, ...proxy }));
			},
			externals,
			get model() {
				return currentModel;
			},
			proxy(name) {
				const proxy = proxies.get(name);
				if (!proxy) {
					throw new MeshboxError('USAGE', `the mesh has no proxy "${name}"`, `use one of: ${[...proxies.keys()].join(', ')}`);
				}

				return { name, ...proxy };
			},
			async reconfigure(next) {
				if (stopped) {
					throw new MeshboxError('SANDBOX_STOPPED', 'a change asked of a mesh after its stop()', 'change the mesh before stopping it');
				}

				// One change at a time, in call order: each is compared with what the one before left.
				const change = changes.then(async () => reconfigureNow(next));
				changes = change.catch(() => undefined);
				return change;
			},
			async stop() {
				stopped ??= undoAll();
				return stopped;
			},
		};
		const reconfigureNow = async (next: MeshModel): Promise<ReadonlyMap<string, PushResult>> => {
			assertSameProxies(currentModel, next);
			for (const proxy of next.proxies) {
				const before = proxies.get(proxy.name)!.model.sandbox.proxy?.listeners;
				if (JSON.stringify(before) !== JSON.stringify(proxy.sandbox.proxy?.listeners)) {
					peers.bump(proxy.name);
				}

				proxies.set(proxy.name, { ...proxies.get(proxy.name)!, model: proxy });
			}

			currentModel = next;
			// Every proxy whose config changed: by the model, or by a new generation of a proxy it sends to.
			const changed = [...proxies.entries()].filter(([name, proxy]) => pushed.get(name) !== JSON.stringify(peers.apply(proxy.model.sandbox))).map(([name]) => name);
			const results = await push(changed);
			// A new listener (an outbound port) has an address only now: every proxy gets its endpoints.
			if (await learnListeners(proxies, directory)) {
				await push([...proxies.keys()]);
			}

			return results;
		};
		return running;
	} catch (error) {
		await undoAll();
		throw error;
	}
}

/** Starts every proxy at once; when one fails, the others are stopped (by `undo`) and its error is thrown, naming it. */
async function startProxies(proxies: readonly MeshProxyModel[], options: StartOptions, undo: Array<() => Promise<void>>): Promise<RunningSandbox[]> {
	const outcomes = await Promise.allSettled(proxies.map(async proxy => startComposed(proxy.sandbox, options)));
	for (const outcome of outcomes) {
		if (outcome.status === 'fulfilled') {
			const { running } = outcome.value;
			undo.push(async () => running.stop());
		}
	}

	const failed = outcomes.findIndex(outcome => outcome.status === 'rejected');
	if (failed >= 0) {
		throw namedFailure(proxies[failed]!.name, (outcomes[failed] as PromiseRejectedResult).reason);
	}

	return outcomes.map(outcome => (outcome as PromiseFulfilledResult<Awaited<ReturnType<typeof startComposed>>>).value.running);
}

/** A proxy's start failure, with the proxy named first: in a mesh, which Envoy failed is the first question. */
function namedFailure(proxy: string, error: unknown): unknown {
	if (isMeshboxError(error)) {
		return new MeshboxError(error.code, `proxy ${proxy}: ${error.message}`, error.hint, error.details);
	}

	return error;
}

async function startExternals(externals: readonly MeshExternalModel[], current: () => MeshModel, undo: Array<() => Promise<void>>): Promise<RunningMeshExternal[]> {
	const started: RunningMeshExternal[] = [];
	for (const external of externals) {
		// The answer follows live updates (`reconfigure`), as a sandbox's app does.
		const answer = () => current().externals.find(entry => entry.host === external.host && entry.port === external.port)?.upstream ?? external.upstream;
		const app = await RecordingUpstream.start({ host: loopback, respond: () => answer() });
		undo.push(async () => app.stop());
		started.push({ host: external.host, port: external.port, address: { address: app.address.host, port: app.address.port }, recordings: recordingsOf(app) });
	}

	return started;
}

/** Reads every proxy's listener addresses; true when any changed (a push then gives the others its endpoints). */
async function learnListeners(proxies: Map<string, { model: MeshProxyModel; running: RunningSandbox; listeners: readonly ListenerAddress[] }>, directory: MeshDirectory): Promise<boolean> {
	const learned = await Promise.all([...proxies.entries()].map(async ([name, proxy]) => {
		if (!proxy.running.proxyListeners) {
			throw new MeshboxError('USAGE', `proxy ${name}: this runtime cannot run a mesh proxy (it reports no listener addresses)`, 'use the local runtime (MESHBOX_RUNTIME=local)');
		}

		return { name, listeners: await proxy.running.proxyListeners() };
	}));
	let changed = false;
	for (const { name, listeners } of learned) {
		proxies.set(name, { ...proxies.get(name)!, listeners: listeners.fromHost });
		changed = directory.setProxy(name, listeners.fromMesh) || changed;
	}

	return changed;
}

/** Pushes each named proxy's current model; a refused push is an error naming the proxy and what Envoy said. */
/** Pushes each named proxy's current model (with its peers' generations); `pushed` keeps what each accepted. */
async function pushAll(proxies: ReadonlyMap<string, { model: MeshProxyModel; running: RunningSandbox }>, names: readonly string[], peers: PeerGenerations, pushed: Map<string, string>): Promise<ReadonlyMap<string, PushResult>> {
	const results = await Promise.all(names.map(async name => {
		const proxy = proxies.get(name)!;
		if (!proxy.running.reconfigure) {
			throw new MeshboxError('USAGE', `proxy ${name}: this runtime cannot update a running proxy`, 'use the local runtime (MESHBOX_RUNTIME=local)');
		}

		const sandbox = peers.apply(proxy.model.sandbox);
		const result = await proxy.running.reconfigure(sandbox);
		if (result.rejections.length === 0) {
			pushed.set(name, JSON.stringify(sandbox));
		}

		return [name, result] as const;
	}));
	return new Map(results);
}

/**
 * "After the change" means the new config, between proxies too. A proxy whose listeners changed (a WasmPlugin
 * added, a route, TLS) serves the connections opened before on the old filter chain until Envoy drains them
 * (source/common/listener_manager: a filter-chain update drains the old chains' connections), and the other
 * proxies' Envoys keep such connections to it in their pools: the next request from one of them would still
 * see the old chain. So each such change is a new generation of that proxy, and every cluster leading to it
 * carries the generation in its metadata (`meshbox.peer_generation`): a changed cluster is a new cluster to
 * Envoy (CDS), whose old connection pools are drained, and the next request opens a new connection.
 */
class PeerGenerations {
	private readonly generations = new Map<string, number>();

	bump(proxy: string): void {
		this.generations.set(proxy, (this.generations.get(proxy) ?? 0) + 1);
	}

	apply(sandbox: SandboxModel): SandboxModel {
		const { proxy } = sandbox;
		if (!proxy || this.generations.size === 0) {
			return sandbox;
		}

		const clusters = proxy.clusters.map(cluster => {
			const peers = Object.fromEntries(cluster.endpoints.flatMap(ref => (ref.kind === 'proxy' && this.generations.has(ref.proxy) ? [[ref.proxy, this.generations.get(ref.proxy)!]] : [])));
			if (Object.keys(peers).length === 0) {
				return cluster;
			}

			const metadata = (cluster.fields.metadata ?? {}) as { filter_metadata?: Record<string, unknown> };
			return { ...cluster, fields: { ...cluster.fields, metadata: { ...metadata, filter_metadata: { ...metadata.filter_metadata, meshbox: { peer_generation: peers } } } } };
		});
		return { ...sandbox, proxy: { ...proxy, clusters } };
	}
}

/** The push with the endpoints is part of the start: a refusal fails it (a second push refused only by a later change is `reconfigure`'s result). */
function assertAccepted(results: ReadonlyMap<string, PushResult>): void {
	for (const [name, result] of results) {
		if (result.rejections.length > 0) {
			throw new MeshboxError('ENVOY_REJECTED_CONFIG', `proxy ${name}: Envoy refused the mesh's endpoints push: ${result.rejections.map(rejection => rejection.message).join('; ')}`,
				'run `meshbox render` on the mesh and check the clusters named');
		}
	}
}

function gatewayUrl(proxies: ReadonlyMap<string, { model: MeshProxyModel; listeners: readonly ListenerAddress[] }>): string | undefined {
	for (const proxy of proxies.values()) {
		if (proxy.model.kind === 'gateway') {
			return proxy.listeners.find(listener => listener.listener.role === 'gateway')?.url;
		}
	}

	return undefined;
}

function assertUniqueNames(model: MeshModel): void {
	const seen = new Set<string>();
	for (const proxy of model.proxies) {
		if (seen.has(proxy.name)) {
			throw new MeshboxError('CONFIG_INVALID', `the mesh has two proxies named "${proxy.name}"`, 'give every workload and gateway its own name');
		}

		seen.add(proxy.name);
	}
}

function assertSameProxies(current: MeshModel, next: MeshModel): void {
	const names = (model: MeshModel) => model.proxies.map(proxy => proxy.name).sort().join(', ');
	if (names(current) !== names(next)) {
		throw new MeshboxError('USAGE', `a live update cannot add or remove proxies (running: ${names(current)}; asked: ${names(next)})`, 'stop the mesh and start it with the new spec');
	}

	const externals = (model: MeshModel) => model.externals.map(external => `${external.host}:${external.port}`).sort().join(', ');
	if (externals(current) !== externals(next)) {
		throw new MeshboxError('USAGE', `a live update cannot add or remove external hosts (running: ${externals(current) || 'none'}; asked: ${externals(next) || 'none'})`, 'stop the mesh and start it with the new spec');
	}
}
