/**
 * The scenario API of a mesh (issue #21): an ingress gateway and workloads with sidecars, each proxy a real Envoy,
 * the workloads' apps recording what reached them.
 *
 *   const mesh = await startMesh({ mesh: { workloads: [{ name: 'productpage' }, { name: 'reviews', port: 9080 }] }, istio: { files: ['istio/*.yaml'] } });
 *   await mesh.request('/productpage', { host: 'bookinfo.example.com' });           // through the gateway
 *   await mesh.workload('productpage').request('http://reviews:9080/reviews/0');   // productpage's app calls reviews
 *   await mesh.proxy('reviews').logs({ plugin: 'my-plugin' });
 *   await mesh.stop();
 *
 * Each proxy is a `Sandbox` (./sandbox.ts) underneath: requests, logs, stats and reports work as for one sandbox.
 */
import path from 'node:path';
import { meshModelFromSpec, MeshSession } from '../compose/model.ts';
import { startMesh as startMeshModel, type RunningMesh, type RunningMeshProxy } from '../compose/mesh.ts';
import type { EnvoyStats } from '../envoy-admin/admin.ts';
import type { EnvoyLogEntry, PluginLogEntry } from '../envoy-admin/logs.ts';
import { MeshboxError } from '../errors.ts';
import type { MeshModel } from '../istio/mesh/model.ts';
import type { RuntimeName } from '../runtime/types.ts';
import type { UpstreamRecordings } from '../upstream/recordings.ts';
import type { JsonObject } from '../util/json.ts';
import { removeReportDir, reportDirFor } from './report.ts';
import type { ClientTls } from './http-client.ts';
import type { ScenarioTest } from './test-context.ts';
import { Sandbox, type EnvoyLogFilter, type PluginLogFilter, type RequestOptions, type SandboxResponse } from './sandbox.ts';

export type MeshOptions = {
	/** The mesh: `gateways`, `workloads`, `services`, `external` (as `mesh:` in meshbox.yaml; docs/mesh.md). */
	mesh: object;
	/** Istio settings and resources (as `istio:` in meshbox.yaml): `version`, `files`, `resources`, `meshConfig`. */
	istio?: object;
	/** Relative paths (Istio files, local modules) are resolved against this directory. Default: the working directory. */
	baseDir?: string;
	/** How the Envoys run. Default: `MESHBOX_RUNTIME` or `local`. */
	runtime?: RuntimeName;
	/** An Envoy binary to use (otherwise: ENVOY_BIN, PATH, meshbox's cache, or install). */
	envoyBin?: string;
	/** Milliseconds to wait for each Envoy to become ready. Default 60 s. */
	readyTimeoutMs?: number;
	/** local runtime: `true` gives every proxy a dedicated Envoy; otherwise warm Envoys (each proxy its own, by its node), unless MESHBOX_FRESH=1. */
	fresh?: boolean;
	/** Print progress (Envoy install, which Envoy) to stderr. Default: false. */
	verbose?: boolean;
};

export type MeshRequestOptions = RequestOptions & {
	/** The authority the gateway routes by (`host` header); a `host` in `headers` wins. */
	host?: string;
	/** Which gateway (by name). Default: the first. */
	gateway?: string;
};

/** One proxy of the mesh: its Envoy's logs, stats, config and admin. */
export class MeshProxy {
	constructor(
		/** @internal */ readonly box: Sandbox,
		private readonly current: () => RunningMeshProxy,
	) {}

	get name(): string {
		return this.current().name;
	}

	/** `gateway` or `sidecar`. */
	get kind(): 'gateway' | 'sidecar' {
		return this.current().model.kind;
	}

	/** `http://127.0.0.1:<port>`: this proxy's Envoy admin. */
	get adminUrl(): string {
		return this.box.adminUrl;
	}

	/**
	 * What meshbox did as istiod / istio-agent would for this proxy, one plain line each, and what its Envoy
	 * refused at start (a plugin config it NACKed: that filter then answers 500, as in a pod).
	 */
	get notes(): readonly string[] {
		const { model, running } = this.current();
		const refused = (running.rejectedAtStart ?? []).map(rejection => `envoy: refused ${rejection.typeUrl.slice(rejection.typeUrl.lastIndexOf('.') + 1)} at start: ${rejection.message}`);
		return [...model.sandbox.proxy?.notes ?? [], ...refused];
	}

	/** Its listeners: name, role, and where this machine reaches each. */
	get listeners(): ReadonlyArray<{ readonly name: string; readonly role: 'inbound' | 'outbound' | 'gateway'; readonly port: number; readonly url: string }> {
		return this.current().listeners.map(entry => ({ name: entry.listener.name, role: entry.listener.role, port: entry.listener.port, url: entry.url }));
	}

	/** Plugin log entries of this proxy's Envoy so far (as `box.logs()`). */
	async logs(filter: PluginLogFilter = {}): Promise<PluginLogEntry[]> {
		return this.box.logs(filter);
	}

	/** Envoy's own log entries of this proxy so far (as `box.envoyLogs()`). */
	async envoyLogs(filter: EnvoyLogFilter = {}): Promise<EnvoyLogEntry[]> {
		return this.box.envoyLogs(filter);
	}

	/** This proxy's Envoy stats whose names start with `prefix` (as `box.stats()`). */
	async stats(prefix = ''): Promise<EnvoyStats> {
		return this.box.stats(prefix);
	}

	/** Admin `/config_dump` (with EDS): what this proxy's Envoy runs. */
	async configDump(): Promise<JsonObject> {
		const response = await fetch(new URL('/config_dump?include_eds', this.box.adminUrl), { signal: AbortSignal.timeout(5000) });
		return await response.json() as JsonObject;
	}

	/** Writes this proxy's debug report (src/scenario/report.ts) into `dir`. */
	async writeReport(dir: string): Promise<string> {
		return this.box.writeReport(dir);
	}
}

/** A workload of the mesh: its app's calls go through its sidecar; `recordings` is what reached its app. */
/** A caller's identity in the mesh: its service account (and namespace, default `default`). */
export type MeshIdentity = { readonly namespace?: string; readonly serviceAccount: string };

export class MeshWorkload {
	constructor(private readonly proxy: MeshProxy, private readonly trustDomain: string) {}

	/** What reached this workload's app (through its sidecar's inbound). */
	get recordings(): UpstreamRecordings {
		return this.proxy.box.upstream;
	}

	/**
	 * A request this workload's app sends, e.g. to `http://reviews:9080/reviews/0`: to its sidecar's outbound
	 * listener of the URL's port (there is no iptables: the app sends to that listener), with the URL's authority
	 * as Host, which the listener routes by.
	 */
	async request(url: string, options: RequestOptions = {}): Promise<SandboxResponse> {
		const target = parseTarget(url, this.proxy.name);
		const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
		const outbound = this.proxy.listeners.find(listener => listener.role === 'outbound' && listener.port === port);
		if (!outbound) {
			const ports = this.proxy.listeners.filter(listener => listener.role === 'outbound').map(listener => listener.port);
			throw new MeshboxError('USAGE', `workload ${this.proxy.name}: its sidecar has no outbound listener for port ${port} (${url})`,
				ports.length > 0 ? `its outbound ports are: ${ports.join(', ')} (one per port of the mesh's Services)` : 'add a Service with that port to `mesh.services` (or a workload with `service:`)');
		}

		return this.proxy.box.request(`${outbound.url}${target.pathname}${target.search}`, { ...options, headers: { host: target.host, ...options.headers } });
	}

	/**
	 * A request straight to this workload's inbound listener (its sidecar's), from outside the mesh: plain text, or
	 * with `identity` as a caller of the mesh would send it: mTLS with a certificate the mesh CA issues for that
	 * service account (`spiffe://<trust domain>/ns/<namespace>/sa/<serviceAccount>`), the ALPN a sidecar offers.
	 */
	async requestInbound(requestPath: string, options: RequestOptions & { identity?: MeshIdentity } = {}): Promise<SandboxResponse> {
		const inbound = this.proxy.listeners.find(listener => listener.role === 'inbound');
		if (!inbound) {
			throw new MeshboxError('USAGE', `proxy ${this.proxy.name} has no inbound listener`, 'requestInbound() is for a workload\'s sidecar');
		}

		const { identity, ...rest } = options;
		const tls = identity ? await this.clientTls(identity) : undefined;
		return this.proxy.box.request(new URL(requestPath, inbound.url).href, tls ? { ...rest, tls } : rest);
	}

	private async clientTls(identity: MeshIdentity): Promise<ClientTls> {
		const { MeshCa } = await import('../istio/mesh/ca.ts');
		const ca = await MeshCa.shared(this.trustDomain);
		const issued = await ca.issueWorkload({ namespace: identity.namespace ?? 'default', serviceAccount: identity.serviceAccount });
		return { certificateChain: issued.certificateChain, privateKey: issued.privateKey, rootCertificate: issued.rootCertificate };
	}
}

export class Mesh {
	private readonly proxies = new Map<string, MeshProxy>();
	private stopped = false;
	private changes: Promise<unknown> = Promise.resolve();

	constructor(private readonly running: RunningMesh, private readonly spec: MeshSpecState | undefined) {
		for (const proxy of running.proxies) {
			this.proxies.set(proxy.name, new MeshProxy(new Sandbox(proxy.running), () => running.proxy(proxy.name)));
		}
	}

	/** `http://127.0.0.1:<port>`: the first gateway's port. */
	get url(): string {
		const { url } = this.running;
		if (!url) {
			throw new MeshboxError('USAGE', 'the mesh has no gateway', 'add one to `mesh.gateways` (or leave it out for the default istio-ingressgateway)');
		}

		return url;
	}

	/** The model running (every proxy's listeners, clusters, notes). */
	get model(): MeshModel {
		return this.running.model;
	}

	/** Mesh-wide notes (each proxy has its own: `mesh.proxy(name).notes`). */
	get notes(): readonly string[] {
		return this.running.model.notes;
	}

	/** What each host outside the mesh (`mesh.external`) received, by `host:port`. */
	get externals(): Readonly<Record<string, UpstreamRecordings>> {
		return Object.fromEntries(this.running.externals.map(external => [`${external.host}:${external.port}`, external.recordings]));
	}

	/** A request from outside the mesh through a gateway (the first, or `options.gateway`), with `options.host` as Host. */
	async request(requestPath: string, options: MeshRequestOptions = {}): Promise<SandboxResponse> {
		const { host, gateway, ...request } = options;
		const proxy = gateway === undefined ? this.running.proxies.find(entry => entry.model.kind === 'gateway') : this.running.proxy(gateway);
		const listener = proxy?.listeners.find(entry => entry.listener.role === 'gateway');
		if (!proxy || proxy.model.kind !== 'gateway') {
			throw new MeshboxError('USAGE', gateway === undefined ? 'the mesh has no gateway' : `proxy ${gateway} is not a gateway`, 'send to a gateway of `mesh.gateways`, or use mesh.workload(name).requestInbound()');
		}

		if (!listener) {
			throw new MeshboxError('USAGE', `gateway ${proxy.name} has no listeners: no Gateway resource selects it (labels ${Object.entries(proxy.model.labels).map(([key, value]) => `${key}=${value}`).join(', ')})`,
				'add an Istio Gateway whose selector matches its labels (and a VirtualService bound to it), or a Gateway API Gateway');
		}

		return this.proxy(proxy.name).box.request(new URL(requestPath, listener.url).href, { ...request, headers: { ...(host === undefined ? {} : { host }), ...request.headers } });
	}

	/** A proxy by name (a workload's or a gateway's). */
	proxy(name: string): MeshProxy {
		const proxy = this.proxies.get(name);
		if (!proxy) {
			throw new MeshboxError('USAGE', `the mesh has no proxy "${name}"`, `its proxies are: ${[...this.proxies.keys()].join(', ')}`);
		}

		return proxy;
	}

	/** A workload by name: requests its app sends, requests to its inbound, what its app received. */
	workload(name: string): MeshWorkload {
		const proxy = this.proxy(name);
		if (proxy.kind !== 'sidecar') {
			throw new MeshboxError('USAGE', `"${name}" is a gateway, not a workload`, 'use mesh.request(path, { gateway }) to send through a gateway');
		}

		return new MeshWorkload(proxy, this.running.model.trustDomain);
	}

	/**
	 * Applies Istio resources (YAML text or objects) as `kubectl apply` does; istiod's pushes follow to every
	 * proxy they change. Resolves once every changed proxy accepted; rejects with ENVOY_REJECTED_CONFIG naming
	 * the proxy when one refused (its last accepted config keeps serving). `replace: true`: these become the whole set.
	 */
	async applyIstio(resources: string | readonly unknown[], options: { replace?: boolean } = {}): Promise<void> {
		if (this.stopped) {
			throw new MeshboxError('SANDBOX_STOPPED', 'mesh.applyIstio() after mesh.stop()', 'apply the resources before stopping the mesh');
		}

		// One at a time, in call order: each adds to the resources the one before left.
		const change = this.changes.then(async () => this.applyIstioNow(resources, options));
		this.changes = change.catch(() => undefined);
		return change;
	}

	private async applyIstioNow(resources: string | readonly unknown[], options: { replace?: boolean }): Promise<void> {
		if (!this.spec) {
			throw new MeshboxError('USAGE', 'applyIstio: this mesh was started from a model, not a spec', 'start it with startMesh({ mesh, istio })');
		}

		const added = typeof resources === 'string' ? [resources] : [...resources];
		const istio = (this.spec.istio ?? {}) as { files?: unknown[]; resources?: unknown[] };
		const nextIstio = options.replace ? { ...istio, files: [], resources: added } : { ...istio, resources: [...(istio.resources ?? []), ...added] };
		const next = await meshModelFromSpec({ mesh: this.spec.mesh, istio: nextIstio }, { baseDir: this.spec.baseDir, session: this.spec.session });
		const results = await this.running.reconfigure(next);
		// Requests after the change go on new connections (as a sandbox's after update()); between proxies, see
		// PeerGenerations in src/compose/mesh.ts.
		for (const proxy of this.proxies.values()) {
			proxy.box.freshConnections();
		}

		for (const [name, result] of results) {
			if (result.rejections.length > 0) {
				throw new MeshboxError('ENVOY_REJECTED_CONFIG', `proxy ${name} refused the change: ${result.rejections.map(rejection => rejection.message).join('; ')}`,
					`its last accepted config keeps serving; see mesh.proxy('${name}').envoyLogs()`);
			}
		}

		this.spec.istio = nextIstio;
	}

	/** Writes every proxy's debug report into `dir/<proxy name>/` (src/scenario/report.ts). */
	async writeReport(dir: string): Promise<string> {
		await Promise.all([...this.proxies.entries()].map(async ([name, proxy]) => proxy.writeReport(path.join(dir, name))));
		return dir;
	}

	/** Stops every proxy and app; nothing is left behind. Safe to call more than once. */
	async stop(): Promise<void> {
		this.stopped = true;
		await Promise.all([...this.proxies.values()].map(async proxy => proxy.box.stop()));
		await this.running.stop();
	}
}

/** What `applyIstio` resolves again. */
type MeshSpecState = { readonly mesh: object; istio: object | undefined; readonly baseDir: string; readonly session: MeshSession };

function startOptions(options: Omit<MeshOptions, 'mesh' | 'istio' | 'baseDir'>) {
	return {
		runtime: options.runtime,
		envoyBin: options.envoyBin,
		readyTimeoutMs: options.readyTimeoutMs,
		warm: !(options.fresh ?? process.env.MESHBOX_FRESH === '1'),
		onProgress: options.verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined,
	};
}

/** Starts a mesh from its spec: every proxy a real Envoy, at once (src/compose/mesh.ts). */
export async function startMesh(options: MeshOptions): Promise<Mesh> {
	const { mesh, istio, baseDir, ...rest } = options;
	// One pod's worth of istio-agent state for the life of the mesh (applyIstio resolves the spec again).
	const session = new MeshSession();
	const model = await meshModelFromSpec({ mesh, istio }, { baseDir: baseDir ?? process.cwd(), session });
	return new Mesh(await startMeshModel(model, startOptions(rest)), { mesh, istio, baseDir: baseDir ?? process.cwd(), session });
}

/** Starts a mesh from a model made by hand or by src/istio/mesh (tests of the mesh machinery); no `applyIstio`. */
export async function startMeshFromModel(model: MeshModel, options: Omit<MeshOptions, 'mesh' | 'istio' | 'baseDir'> = {}): Promise<Mesh> {
	const { runtime, envoyBin, readyTimeoutMs, fresh, verbose } = options;
	return new Mesh(await startMeshModel(model, startOptions({ runtime, envoyBin, readyTimeoutMs, fresh, verbose })), undefined);
}

/** `meshFor`'s input: a spec (startMesh), or a model (startMeshFromModel). */
export type MeshForOptions = MeshOptions | (Omit<MeshOptions, 'mesh' | 'istio' | 'baseDir'> & { model: MeshModel });

/**
 * A mesh that belongs to one test (as `sandboxFor`: ava's `t`, or any runner's through an adapter of
 * ./test-context.ts, so that the public types name no runner): stopped when the test ends; when the test failed, every
 * proxy's debug report is written first, to a directory named in the test's log.
 */
export async function meshFor(t: ScenarioTest, options: MeshForOptions): Promise<Mesh> {
	const mesh = 'model' in options ? await startMeshFromModel(options.model, options) : await startMesh(options);
	t.teardown(async () => {
		try {
			await reportIfFailed(t, mesh);
		} finally {
			await mesh.stop();
		}
	});
	return mesh;
}

async function reportIfFailed(t: Pick<ScenarioTest, 'title' | 'passed' | 'log'>, mesh: Mesh): Promise<void> {
	const dir = reportDirFor(t.title);
	if (t.passed) {
		await removeReportDir(dir);
		return;
	}

	try {
		await mesh.writeReport(dir);
		t.log(`meshbox: each proxy's debug report (bootstrap, /config_dump, /stats, plugin and Envoy logs) is in ${path.relative(process.cwd(), dir) || dir}/<proxy>`);
	} catch (error) {
		t.log(`meshbox: could not write the mesh's debug report to ${dir}: ${(error as Error).message}`);
	}
}

function parseTarget(url: string, workload: string): URL {
	try {
		return new URL(url);
	} catch {
		throw new MeshboxError('USAGE', `workload ${workload}: request(${JSON.stringify(url)}): expected a URL such as http://reviews:9080/reviews/0`, 'give the Service host and port the app would call');
	}
}
