/**
 * `meshbox up` and `meshbox render` of a mesh (a meshbox.yaml with `mesh:`, issue #21): every proxy (gateways,
 * then the workloads' sidecars) a real Envoy, the first gateway's URL printed first.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { startMesh, type RunningMesh } from '../../compose/mesh.ts';
import { meshModelFromFile, MeshSession } from '../../compose/model.ts';
import type { MeshEndpointRef, ProxyModel, SidecarFilter } from '../../config/model.ts';
import { wasmModulesOf } from '../../config/listeners.ts';
import { buildBootstrap } from '../../envoy/bootstrap.ts';
import { pluginLabel, toPluginLog, type EnvoyLogEntry } from '../../envoy-admin/logs.ts';
import type { Placement, SocketAddress } from '../../envoy/placement.ts';
import { Document, isMap, isSeq } from 'yaml';
import { isMeshboxError, MeshboxError } from '../../errors.ts';
import type { MeshModel } from '../../istio/mesh/model.ts';
import type { JsonObject } from '../../util/json.ts';

type Out = (line: string) => void;

/** The signals that stop the mesh cleanly (as `meshbox up`'s sandbox): Ctrl+C, a polite kill, a closed terminal. */
const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

export type MeshUpOptions = {
	readonly configFile: string;
	/** `--port`: the first gateway's port (as given: checked here). */
	readonly port?: string;
	/** `--plugin`: refused (a mesh's plugins are its WasmPlugins). */
	readonly plugins?: readonly string[];
	/** `--envoy-version`: every proxy's Envoy. */
	readonly envoyVersion?: string;
	/** `--admin-port`: refused (every proxy has an admin of its own, on a free port). */
	readonly adminPort?: string;
	/** How the mesh is read (again, under --watch); default: meshModelFromFile(configFile). */
	readonly load?: () => Promise<MeshModel>;
	readonly runtime?: string;
	readonly envoyBin?: string;
	/** docker runtime: `--envoy-image`. */
	readonly envoyImage?: string;
	readonly watch: boolean;
	readonly verbose: boolean;
};

function gatewayPortFlag(value: string): number {
	if (!/^\d+$/.test(value) || Number(value) > 65_535) {
		throw new MeshboxError('USAGE', `--port ${value}: expected a port number from 0 to 65535`, 'e.g. --port 10000 (the first gateway\'s port)');
	}

	return Number(value);
}

/** The first gateway on `--port` when given (its first port); the model's choice otherwise. */
function withGatewayPort(model: MeshModel, port: number | undefined): MeshModel {
	if (port === undefined) {
		return model;
	}

	const first = model.proxies.findIndex(proxy => proxy.kind === 'gateway');
	if (first < 0) {
		throw new MeshboxError('USAGE', `--port ${port}: the mesh has no gateway to listen on it`, 'add a gateway to `mesh.gateways`, or drop --port');
	}

	return { ...model, proxies: model.proxies.map((proxy, index) => (index === first ? { ...proxy, sandbox: { ...proxy.sandbox, port } } : proxy)) };
}

export async function meshUp(options: MeshUpOptions, out: Out, err: Out): Promise<number> {
	if (options.plugins && options.plugins.length > 0) {
		throw new MeshboxError('USAGE', `--plugin: ${options.configFile} is a mesh, whose plugins come from its WasmPlugin resources`, 'add a WasmPlugin to the `istio.files`, or use a config without `mesh:` for a plain sandbox');
	}

	if (options.adminPort !== undefined) {
		throw new MeshboxError('USAGE', `--admin-port: ${options.configFile} is a mesh, whose proxies each have an admin of their own`, 'drop --admin-port: `meshbox up` prints every proxy\'s admin URL');
	}

	const port = options.port === undefined ? undefined : gatewayPortFlag(options.port);
	// istio-agent's state (module cache) across --watch's re-resolutions.
	const session = new MeshSession();
	const read = options.load ?? (async () => meshModelFromFile(options.configFile, { session, envoyVersion: options.envoyVersion }));
	const load = async () => withGatewayPort(await read(), port);
	const model = await load();
	let stopRequested: string | undefined;
	let wake: (() => void) | undefined;
	const onSignal = (signal: NodeJS.Signals) => {
		if (stopRequested) {
			if (signal === 'SIGHUP') {
				return;
			}

			// A second Ctrl+C while starting: leave now (Envoys are stopped on exit, src/runtime/local/envoy-process.ts).
			process.exit(130);
		}

		stopRequested = signal;
		wake?.();
	};

	for (const signal of stopSignals) {
		process.on(signal, onSignal);
	}

	try {
		const mesh = await startMesh(model, { runtime: options.runtime, envoyBin: options.envoyBin, envoyImage: options.envoyImage, onProgress: err });
		try {
			printMesh(mesh, out, err);
			const unsubscribe = streamLogs(mesh, out, options.verbose);
			const watcher = options.watch ? watchMesh(mesh, load, [options.configFile, ...model.sources], out) : undefined;
			const exited = await new Promise<{ proxy: string; exitCode: number | undefined } | undefined>(resolve => {
				wake = () => resolve(undefined);
				if (stopRequested) {
					resolve(undefined);
				}

				for (const proxy of mesh.proxies) {
					void proxy.running.exited.then(exit => resolve({ proxy: proxy.name, exitCode: exit.exitCode }));
				}
			});
			unsubscribe();
			watcher?.close();
			if (exited && !stopRequested) {
				err(`meshbox: the Envoy of proxy ${exited.proxy} exited unexpectedly (status ${exited.exitCode ?? 'unknown'}); last lines:\n${mesh.proxy(exited.proxy).running.logs.tail(15).join('\n')}`);
				return 1;
			}

			err(`meshbox: stopped (${stopRequested ?? 'signal'})`);
			return 0;
		} finally {
			await mesh.stop();
		}
	} finally {
		for (const signal of stopSignals) {
			process.off(signal, onSignal);
		}
	}
}

/** The gateway's URL first (what scripts wait for), then each proxy's admin and listeners, then a try line. */
function printMesh(mesh: RunningMesh, out: Out, err: Out): void {
	if (mesh.url) {
		out(`listening on ${mesh.url}`);
	}

	for (const note of mesh.model.notes) {
		err(`meshbox: ${note}`);
	}

	for (const proxy of mesh.proxies) {
		const listeners = proxy.listeners.map(entry => `${entry.listener.name} (${entry.listener.role}) ${entry.url}`).join(', ');
		out(`proxy ${proxy.name} (${proxy.model.kind}, ${proxy.model.namespace}): admin ${proxy.running.admin.url}; ${listeners}`);
		for (const note of proxy.model.sandbox.proxy?.notes ?? []) {
			err(`meshbox: ${proxy.name}: ${note}`);
		}
	}

	for (const external of mesh.externals) {
		out(`external ${external.host}:${external.port}: a recording app on ${external.address.address}:${external.address.port}`);
	}

	if (mesh.url) {
		const host = gatewayHost(mesh);
		out(`try: curl -i ${host ? `-H 'host: ${host}' ` : ''}${mesh.url}/    (Ctrl+C to stop)`);
	}
}

/** A host the first gateway routes (the first domain of its first virtual host that is not a wildcard). */
function gatewayHost(mesh: RunningMesh): string | undefined {
	const gateway = mesh.proxies.find(proxy => proxy.model.kind === 'gateway');
	const listener = gateway?.model.sandbox.proxy?.listeners.find(entry => entry.role === 'gateway');
	const routeConfig = listener?.filterChains[0]?.http.routeConfig as { virtual_hosts?: Array<{ domains?: string[] }> } | undefined;
	return routeConfig?.virtual_hosts?.flatMap(host => host.domains ?? []).find(domain => !domain.includes('*'));
}

/** Every proxy's plugin log lines (and with --verbose Envoy's own), prefixed by the proxy's name. */
function streamLogs(mesh: RunningMesh, out: Out, verbose: boolean): () => void {
	const unsubscribes = mesh.proxies.map(proxy => {
		const show = (entry: EnvoyLogEntry) => {
			const pluginEntry = toPluginLog(entry, wasmModulesOf(proxy.model.sandbox));
			if (pluginEntry) {
				out(`${proxy.name} [${pluginEntry.time}] ${pluginEntry.level.padEnd(5)} ${pluginLabel(pluginEntry)}: ${pluginEntry.message}`);
			} else if (verbose || entry.level === 'critical' || entry.level === 'error') {
				out(`${proxy.name} envoy [${entry.level}][${entry.logger}] ${entry.message}`);
			}
		};

		for (const entry of proxy.running.logs.entries) {
			show(entry);
		}

		return proxy.running.logs.subscribe(show);
	});
	return () => {
		for (const unsubscribe of unsubscribes) {
			unsubscribe();
		}
	};
}

/**
 * `up --watch` of a mesh: a change of meshbox.yaml, an Istio file or a local module resolves the mesh again and
 * pushes to every proxy it changes (as istiod does); a refused push is reported, the last good config serves on.
 */
function watchMesh(mesh: RunningMesh, load: () => Promise<MeshModel>, files: readonly string[], report: Out): { close(): void } {
	const watchers: FSWatcher[] = [];
	let timer: NodeJS.Timeout | undefined;
	let queue = Promise.resolve();
	const reload = async (reason: string) => {
		try {
			const results = await mesh.reconfigure(await load());
			if (results.size === 0) {
				report(`meshbox: ${reason}: no proxy changed`);
			}

			for (const [name, result] of results) {
				report(result.rejections.length > 0
					? `meshbox: ${reason}: proxy ${name} refused the change (its last config serves on): ${result.rejections.map(rejection => rejection.message).join('; ')}`
					: `meshbox: ${reason}: proxy ${name} reloaded (config version ${result.version})`);
			}
		} catch (error) {
			report(`meshbox: not reloaded (${reason}): ${isMeshboxError(error) ? error.describe() : String(error)}`);
		}
	};

	for (const file of new Set(files.map(entry => path.resolve(entry)))) {
		try {
			watchers.push(watch(file, () => {
				clearTimeout(timer);
				// Editors write in bursts: one reload per burst, one at a time.
				timer = setTimeout(() => {
					queue = queue.then(async () => reload(`${path.relative(process.cwd(), file) || file} changed`));
				}, 150);
			}));
		} catch (error) {
			report(`meshbox: cannot watch ${file}: ${(error as Error).message}`);
		}
	}

	report(`meshbox: watching ${watchers.length} file(s): meshbox.yaml, the Istio files and local modules`);
	return {
		close() {
			clearTimeout(timer);
			for (const watcher of watchers) {
				watcher.close();
			}
		},
	};
}

/**
 * `meshbox render` of a mesh: every proxy's bootstrap with its resources inline, as a container runtime would
 * place them (another proxy by its name and istiod's port, an external host by its own), each filter's origin
 * (the resource and file:line) and the proxy's notes as comments.
 */
export function renderMesh(model: MeshModel, out: Out, err: Out, displayPath: (file: string) => string): number {
	const listenerPort = (ref: Extract<MeshEndpointRef, { kind: 'proxy' }>) => model.proxies.find(proxy => proxy.name === ref.proxy)?.sandbox.proxy?.listeners.find(listener => listener.name === ref.listener)?.port;
	out(['# A mesh rendered by `meshbox render`: one Envoy bootstrap per proxy (gateways first), separated by `---`.',
		...model.notes.map(note => `# ${note}`)].join('\n'));
	for (const proxy of model.proxies) {
		const placement: Placement = {
			listener: { address: '0.0.0.0', port: 0 },
			admin: { address: '127.0.0.1', port: 15_000 },
			// The workload's app, as in a pod: the container port on localhost.
			upstream: { address: '127.0.0.1', port: proxy.sandbox.proxy?.listeners.find(listener => listener.role === 'inbound')?.port ?? 8080 },
			wasmPath: plugin => displayPath(plugin.wasmPath),
			// As in a pod: the inbound listener where iptables redirects to (15006), the others on istiod's port.
			proxyListener: listener => ({ address: '0.0.0.0', port: listener.role === 'inbound' ? 15_006 : listener.port }),
			meshEndpoint: (ref): SocketAddress | undefined => ref.kind === 'proxy' ? { address: ref.proxy, port: listenerPort(ref) ?? 0 } : { address: ref.host, port: ref.port },
		};
		const bootstrap: JsonObject = buildBootstrap(proxy.sandbox, placement);
		const header = [
			`proxy ${proxy.name} (${proxy.kind}, namespace ${proxy.namespace}, ${proxy.principal})`,
			...(proxy.sandbox.proxy?.summary ?? []),
			...(proxy.sandbox.proxy?.notes ?? []).map(note => `note: ${note}`),
		];
		out(`---\n${renderProxyYaml(bootstrap, proxy.sandbox.proxy, header).trimEnd()}`);
		for (const note of proxy.sandbox.proxy?.notes ?? []) {
			err(`meshbox: ${proxy.name}: ${note}`);
		}
	}

	return 0;
}

/**
 * The bootstrap as YAML with each filter's origin (its `comment`: the resource and file:line) above it, and each
 * cluster's reason above the cluster; a filter Envoy has no counterpart for (a placeholder) is noted where it sits.
 */
function renderProxyYaml(bootstrap: JsonObject, proxy: ProxyModel | undefined, header: readonly string[]): string {
	const document = new Document(bootstrap);
	document.commentBefore = header.map(line => ` ${line}`).join('\n');
	const listeners = document.getIn(['static_resources', 'listeners']);
	const clusters = document.getIn(['static_resources', 'clusters']);
	for (const listener of proxy?.listeners ?? []) {
		const listenerNode = isSeq(listeners) ? listeners.items.find(item => isMap(item) && item.get('name') === listener.name) : undefined;
		const chains = isMap(listenerNode) ? listenerNode.get('filter_chains') : undefined;
		if (isMap(listenerNode)) {
			listenerNode.commentBefore = ` ${listener.role} listener (port ${listener.port}, ${listener.trafficDirection})`;
		}

		for (const [index, chain] of listener.filterChains.entries()) {
			const chainNode = isSeq(chains) ? chains.items[index] : undefined;
			const filters = isMap(chainNode) ? chainNode.get('filters') : undefined;
			annotateFilters(filters, chain.networkFilters);
			const hcm = isSeq(filters) ? filters.items.at(-1) : undefined;
			annotateFilters(isMap(hcm) ? hcm.getIn(['typed_config', 'http_filters']) : undefined, chain.http.httpFilters);
		}
	}

	for (const cluster of proxy?.clusters ?? []) {
		const clusterNode = isSeq(clusters) ? clusters.items.find(item => isMap(item) && item.get('name') === cluster.name) : undefined;
		if (isMap(clusterNode) && cluster.comment) {
			clusterNode.commentBefore = ` ${cluster.comment}`;
		}
	}

	return document.toString({ lineWidth: 0, indent: 2 });
}

function annotateFilters(sequence: unknown, filters: readonly SidecarFilter[]): void {
	if (!isSeq(sequence)) {
		return;
	}

	let pending: string[] = [];
	for (const filter of filters) {
		if (filter.kind === 'placeholder') {
			pending.push(`(${filter.name}, not in upstream Envoy: ${filter.comment})`);
			continue;
		}

		const name = filter.kind === 'wasm' ? filter.plugin.filterName ?? filter.plugin.name : filter.name;
		const item = sequence.items.find(entry => isMap(entry) && entry.get('name') === name);
		if (isMap(item)) {
			item.commentBefore = [...pending, filter.comment].map(line => ` ${line}`).join('\n');
			pending = [];
		}
	}

	const last = sequence.items.at(-1);
	if (pending.length > 0 && isMap(last)) {
		last.commentBefore = pending.map(line => ` ${line}`).join('\n');
	}
}
