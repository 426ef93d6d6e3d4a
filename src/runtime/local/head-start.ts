/**
 * `meshbox up`'s head start (issue #11: `up` to "listening on" within 1.5× bare Envoy's time to ready).
 *
 * Before it, `up` ran two halves one after the other: meshbox's own (Node's boot, loading its code and the
 * config: ≈140 ms on 2 cores), then Envoy's (its boot, then compiling each module once the control plane named
 * it: ≈200 ms for the Rust seed). The head start runs them side by side. bin/meshbox.js calls `launch` before it
 * loads anything else, and it starts Envoy the way the same command in the same directory started it last time
 * (a record in the cache, written by ./head-start-record.ts once that start succeeded):
 * - the control plane's port is bound already; Envoy's connection waits in it for the control plane
 *   (`PreboundListener`, src/xds/grpc-server.ts);
 * - that run's plugins are preloaded from the boot on (`PreloadKind`), when their files are unchanged: Envoy
 *   compiles them while meshbox loads. Measured on Envoy 1.40: its ADS connection opens before the static
 *   listeners' modules are compiled, and the filters pushed later find the compiled code (and, preloaded as
 *   the plugins themselves, their VMs and root contexts).
 * The local runtime then adopts that Envoy if what it would start now is the same (binary, options, bootstrap,
 * and the preloaded plugins), and otherwise stops it and starts its own: the head start changes when Envoy
 * starts, never what runs.
 *
 * What an adopted Envoy has that a plain `up`'s has not: the listener of the preloads (`meshbox_pins`, on a Unix
 * socket in the work dir). Its start is not admitted by the start slots (../start-slots.ts): `up` is one process
 * with one Envoy.
 *
 * bin/meshbox.js loads this module before anything else, as a file of its own (dist/cli/head-start.cjs, built by
 * `npm run build:cli`): it imports node's modules and a few pure ones only, since every millisecond it takes is
 * one Envoy starts later. It hands Envoy over as a plain child process (`take`); the local runtime adopts it
 * (`adoptHeadStart` in ./local-runtime.ts). */
import { createHash } from 'node:crypto';
import { accessSync, constants, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net, { type Socket } from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { pinsListener } from '../../envoy/pins.ts';
import { typeUrls } from '../../envoy-api/type-urls.ts';
import { cacheDir } from '../../util/cache-dir.ts';
import type { JsonObject } from '../../util/json.ts';
import type { PreboundListener } from '../../xds/grpc-server.ts';
import type { EnvoyHeadStart, EnvoyStartPlan, LaunchedEnvoy, PreloadKind } from '../head-start-contract.ts';
import { makeWorkDir, writeOwner } from './work-dir.ts';

/** Bumped when the record's shape changes: an older record is then ignored (and replaced). */
export const recordFormat = 2;
const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

// The types the runtime contract shares with this module live in ../head-start-contract.ts (kept apart so the
// contract does not import the local runtime); re-exported for this folder's modules.
export type { EnvoyStartPlan, LaunchedEnvoy, PreloadKind } from '../head-start-contract.ts';

export type PreloadRecord = {
	/** The plugin's .wasm as the user gave it, with its size and time: a changed file is not preloaded. */
	readonly source: string;
	readonly size: number;
	readonly mtimeMs: number;
	/** The HTTP filter, loading the module's copy in the cache. */
	readonly filter: JsonObject;
	readonly module: string;
};

export type HeadStartRecord = {
	readonly format: typeof recordFormat;
	readonly envoyPath: string;
	/** Envoy's arguments but the bootstrap's and the admin address file's paths. */
	readonly options: readonly string[];
	/** The bootstrap with the control plane's port 0 (each start binds its own). */
	readonly bootstrap: JsonObject;
	/** The control plane's cluster in `bootstrap`: where the port goes. */
	readonly adsCluster: string;
	readonly preload: PreloadKind;
	readonly preloads: readonly PreloadRecord[];
};

type Launched = {
	readonly record: HeadStartRecord;
	/** The filters Envoy preloads (the record's, but those of rebuilt files). */
	readonly preloadedFilters: readonly JsonObject[];
	readonly envoy: LaunchedEnvoy;
	/** Stops listening for signals and the exit (the Envoy was taken or is being discarded). */
	readonly stopListening: () => void;
};

export class HeadStart implements EnvoyHeadStart {
	private launched: Launched | undefined;

	private constructor(
		/** The record's name: this command line, in this directory, with these MESHBOX_* variables. */
		readonly key: string,
	) {}

	/**
	 * Starts Envoy as the last run of this command did, when there is a record of it (and its Envoy is still
	 * there). Never throws: without a record, or when anything fails, there is simply no head start.
	 */
	static async launch(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<HeadStart> {
		const headStart = new HeadStart(keyOf(argv, env, cwd));
		try {
			const record = readRecord(headStart.key, env);
			// The record is a file in the cache: its binary is spawned only when it is one meshbox would run now.
			if (record && shapedAsWritten(record) && envoysResolvableNow(argv, env, cwd).includes(record.envoyPath)) {
				headStart.launched = await start(record, env);
			}
		} catch {
			// A head start is an optimisation: whatever went wrong, `up` starts Envoy itself.
		}

		return headStart;
	}

	/** Whether an Envoy was started ahead and is still waiting to be taken. */
	get pending(): boolean {
		return this.launched !== undefined;
	}

	/** Whether the Envoy started ahead (not taken yet) still runs: one that exited is no head start, whatever the config. */
	get running(): boolean {
		return this.launched !== undefined && running(this.launched.envoy.child);
	}

	/**
	 * The Envoy started ahead, if it still runs and was started as `plan` says: it is then the caller's. Otherwise
	 * undefined (and the Envoy, if any, still this head start's: `discard` it).
	 */
	take(plan: EnvoyStartPlan): LaunchedEnvoy | undefined {
		const launched = this.launched;
		if (!launched) {
			return undefined;
		}

		const same = running(launched.envoy.child)
			&& plan.envoyPath === launched.record.envoyPath
			&& JSON.stringify(plan.options) === JSON.stringify(launched.record.options)
			&& JSON.stringify(plan.bootstrap) === JSON.stringify(launched.record.bootstrap)
			// A preloaded plugin is the sandbox's own VM and root context: it must be exactly what the sandbox runs.
			&& (launched.record.preload === 'modules' || launched.preloadedFilters.every(filter => plan.preloads.some(wanted => JSON.stringify(wanted) === JSON.stringify(filter))));
		if (!same) {
			return undefined;
		}

		this.forget(launched);
		return launched.envoy;
	}

	/** Stops the Envoy started ahead (if any, and not taken) and removes what it left. Safe to call twice. */
	async discard(): Promise<void> {
		const launched = this.launched;
		if (!launched) {
			return;
		}

		this.forget(launched);
		const { child, workDir } = launched.envoy;
		// A child that never started (a spawn error) has no 'exit' to wait for.
		if (running(child)) {
			await new Promise(resolve => {
				child.once('exit', resolve);
				child.kill('SIGKILL');
			});
		}

		await launched.envoy.prebound.close();
		await rm(workDir, { recursive: true, force: true });
	}

	private forget(launched: Launched): void {
		this.launched = undefined;
		launched.stopListening();
	}
}

/** Whether the child was spawned and has not exited. */
function running(child: ChildProcess): boolean {
	return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

function keyOf(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): string {
	const meshboxEnv = Object.entries(env).filter(([name]) => name.startsWith('MESHBOX_')).sort(([a], [b]) => a.localeCompare(b));
	return createHash('sha256').update(JSON.stringify({ cwd, argv, env: meshboxEnv })).digest('hex').slice(0, 32);
}

/**
 * The Envoy binaries `up` with these arguments could resolve now (src/envoy-binary/provision.ts, same order): the one
 * `--envoy-bin` or ENVOY_BIN names; else `envoy` on PATH and meshbox's installs in the cache (which of those
 * depends on the version asked for, known only once the config is loaded: the runtime's plan decides, `take`).
 * Node's fs only, a few stats: this runs before Envoy is spawned.
 */
export function envoysResolvableNow(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
	const explicit = flagValue(argv, '--envoy-bin') ?? (env.ENVOY_BIN || undefined);
	if (explicit !== undefined) {
		return [path.resolve(cwd, explicit)];
	}

	const found: string[] = [];
	for (const dir of (env.PATH ?? '').split(path.delimiter)) {
		if (dir && executable(path.join(dir, 'envoy'))) {
			found.push(path.join(dir, 'envoy'));
			break;
		}
	}

	const cache = cacheDir(env);
	let installs: string[] = [];
	try {
		installs = readdirSync(cache).filter(name => name.startsWith('envoy-'));
	} catch {
		// No cache yet: nothing installed.
	}

	for (const name of installs) {
		try {
			// provision.ts's cachedBinary: an install's binary is recorded in `envoy-path` once it completed.
			const binary = readFileSync(path.join(cache, name, 'envoy-path'), 'utf8').trim();
			if (binary && executable(binary)) {
				found.push(binary);
			}
		} catch {
			// Not an install (or a half-finished one).
		}
	}

	return found;
}

/** Envoy's options as src/envoy-binary/command-line.ts's envoyOptions writes them: these flags (with a value, or not) only. */
const recordedOptions: Readonly<Record<string, boolean>> = { '--log-level': true, '--component-log-level': true, '--log-format': true, '--concurrency': true, '--disable-hot-restart': false };
const bootstrapFields = new Set(['node', 'stats_flush_interval', 'admin', 'dynamic_resources', 'static_resources', 'stats_config']);

/**
 * Whether a record has the shape the local runtime writes (./head-start-record.ts): options envoyOptions makes, a
 * bootstrap of buildAdsBootstrap's fields whose only static resource is the control plane's cluster, and whose
 * addresses are 127.0.0.1. What Envoy is started with is compared with the runtime's plan only once meshbox has
 * loaded: until then this keeps a record someone else wrote (a static listener, another cluster, an admin on every
 * interface or with an access log) from running at all. Services (bootstrap_extensions) are never recorded.
 */
function shapedAsWritten(record: HeadStartRecord): boolean {
	const options = record.options as readonly unknown[];
	for (let index = 0; index < options.length; index++) {
		const option = options[index];
		const takesValue = typeof option === 'string' ? recordedOptions[option] : undefined;
		if (takesValue === undefined || (takesValue && typeof options[++index] !== 'string')) {
			return false;
		}
	}

	const bootstrap = record.bootstrap as { admin?: unknown; static_resources?: { clusters?: unknown[] }; dynamic_resources?: { ads_config?: { grpc_services?: unknown } } };
	const clusters = bootstrap.static_resources?.clusters;
	return Object.keys(record.bootstrap).every(field => bootstrapFields.has(field))
		&& JSON.stringify(Object.keys(bootstrap.static_resources ?? {})) === '["clusters"]'
		&& Array.isArray(clusters) && clusters.length === 1 && (clusters[0] as { name?: unknown }).name === record.adsCluster
		&& JSON.stringify(bootstrap.dynamic_resources?.ads_config?.grpc_services) === JSON.stringify([{ envoy_grpc: { cluster_name: record.adsCluster } }])
		&& JSON.stringify(Object.keys(bootstrap.admin ?? {})) === '["address"]' && loopbackOnly(bootstrap.admin) && loopbackOnly(clusters[0]);
}

/** Whether `value` names an address, and every address in it is a TCP one on 127.0.0.1 (no pipe, no other host). */
function loopbackOnly(value: unknown): boolean {
	let found = 0;
	const visit = (node: unknown): boolean => {
		if (Array.isArray(node)) {
			return node.every(child => visit(child));
		}

		if (!node || typeof node !== 'object') {
			return true;
		}

		const entries = Object.entries(node);
		const address = (node as { address?: unknown }).address;
		if (address !== null && typeof address === 'object') {
			const socket = (address as { socket_address?: { address?: unknown } }).socket_address;
			found++;
			if (Object.keys(address).length !== 1 || socket?.address !== '127.0.0.1') {
				return false;
			}
		}

		return entries.every(([, child]) => visit(child));
	};

	return visit(value) && found > 0;
}

/** The value of `--name VALUE` or `--name=VALUE` in `argv` (the last one, as node's parseArgs takes it). */
function flagValue(argv: readonly string[], name: string): string | undefined {
	let value: string | undefined;
	for (const [index, argument] of argv.entries()) {
		if (argument === '--') {
			break;
		}

		if (argument === name && index + 1 < argv.length) {
			value = argv[index + 1];
		} else if (argument.startsWith(`${name}=`)) {
			value = argument.slice(name.length + 1);
		}
	}

	return value;
}

function executable(file: string): boolean {
	try {
		accessSync(file, constants.X_OK);
		return statSync(file).isFile();
	} catch {
		return false;
	}
}

/** Where records and module copies are kept. */
export function headStartDir(env: NodeJS.ProcessEnv = process.env): string {
	return path.join(cacheDir(env), 'head-start');
}

function readRecord(key: string, env: NodeJS.ProcessEnv): HeadStartRecord | undefined {
	const file = path.join(headStartDir(env), `${key}.json`);
	let record: HeadStartRecord;
	try {
		record = JSON.parse(readFileSync(file, 'utf8')) as HeadStartRecord;
	} catch {
		return undefined;
	}

	return record.format === recordFormat ? record : undefined;
}

/** Binds the control plane's port, writes the bootstrap (with the pins still valid) and spawns Envoy. */
async function start(record: HeadStartRecord, env: NodeJS.ProcessEnv): Promise<Launched> {
	const made: { workDir?: string; child?: ChildProcess } = {};
	// A signal before the runtime took (or discarded) this Envoy: unless `up` handles it (it does once it runs,
	// then it takes or discards), stop Envoy, remove the dir, and end as the signal would have. Also at exit.
	// Listening from before anything is made: a signal with no listener would end this process on the spot.
	const onSignal = (signal: NodeJS.Signals | number) => {
		if (typeof signal === 'string' && process.listenerCount(signal) > 1) {
			return;
		}

		undo();
		if (typeof signal === 'string') {
			process.kill(process.pid, signal);
		}
	};

	const stopListening = () => {
		process.off('exit', onSignal);
		for (const signal of stopSignals) {
			process.off(signal, onSignal);
		}
	};

	const undo = () => {
		made.child?.kill('SIGKILL');
		if (made.workDir) {
			rmSync(made.workDir, { recursive: true, force: true });
		}

		stopListening();
	};

	process.on('exit', onSignal);
	for (const signal of stopSignals) {
		process.on(signal, onSignal);
	}

	const accepted: Socket[] = [];
	let forward: ((socket: Socket) => void) | undefined;
	const server = net.createServer(socket => {
		// Its bytes stay in the socket until the control plane takes it (see PreboundListener).
		if (forward) {
			forward(socket);
		} else {
			accepted.push(socket);
		}
	});
	try {
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(0, '127.0.0.1', () => {
				server.off('error', reject);
				resolve();
			});
		});
		// ./reaper.ts removes it (and Envoy) should this process be killed before it does.
		const workDir = makeWorkDir();
		made.workDir = workDir;
		const preloaded = record.preloads.filter(preload => unchanged(preload, env)).map(preload => preload.filter);
		const port = (server.address() as net.AddressInfo).port;
		const bootstrap = withPreloads(withAdsPort(record.bootstrap, record.adsCluster, port), preloaded, path.join(workDir, 'pins.sock'));
		const bootstrapPath = path.join(workDir, 'envoy.json');
		const adminAddressPath = path.join(workDir, 'admin-address');
		writeFileSync(bootstrapPath, JSON.stringify(bootstrap));
		const child = spawn(record.envoyPath, ['--config-path', bootstrapPath, ...record.options, '--admin-address-path', adminAddressPath], { stdio: ['ignore', 'pipe', 'pipe'] });
		made.child = child;
		// A spawn failure is an 'error' event: the taker sees a child that never ran (or discard cleans up).
		child.on('error', () => undefined);
		writeOwner(workDir, { ownerPid: process.pid, envoyPid: child.pid });
		const prebound: PreboundListener = {
			server,
			handOver(accept) {
				forward = accept;
				for (const socket of accepted.splice(0)) {
					accept(socket);
				}
			},
			async close() {
				for (const socket of accepted.splice(0)) {
					socket.destroy();
				}

				// Already closed by the server that took it over: the callback then gets an error, which is fine.
				await new Promise(resolve => {
					server.close(resolve);
				});
			},
		};
		return { record, preloadedFilters: preloaded, envoy: { workDir, child, prebound, adminAddressPath, bootstrap, preloaded: preloaded.length, preload: record.preload }, stopListening };
	} catch (error) {
		undo();
		server.close();
		throw error;
	}
}

/**
 * Whether a preload's source file is the one recorded and its module copy in the cache is intact: named by its
 * SHA-256 in the modules dir, what its filter loads, and of that hash. A copy replaced or cut short since (another
 * plugin, a full disk) is not preloaded: Envoy would run it under the user's plugin's name, or fail to start and
 * blame an intact plugin. Hashing costs ≈0.3 ms per 160 KB (seed-rust), before Envoy is spawned.
 */
function unchanged(preload: PreloadRecord, env: NodeJS.ProcessEnv): boolean {
	try {
		const source = statSync(preload.source);
		return source.size === preload.size && source.mtimeMs === preload.mtimeMs && intactModule(preload.module, env)
			&& loadsOnly(preload.filter, preload.module);
	} catch {
		return false;
	}
}

/** Whether `filter` is a Wasm HTTP filter (wasmFilter's shape) loading `module` from a file, and nothing else. */
function loadsOnly(filter: JsonObject, module: string): boolean {
	const typed = filter.typed_config as { '@type'?: unknown; config?: { vm_config?: { runtime?: unknown; code?: unknown } } } | undefined;
	return JSON.stringify(Object.keys(filter).sort()) === '["name","typed_config"]'
		&& typed?.['@type'] === typeUrls.httpWasm
		&& typed.config?.vm_config?.runtime === 'envoy.wasm.runtime.v8'
		&& JSON.stringify(typed.config.vm_config.code) === JSON.stringify({ local: { filename: module } });
}

/** Whether `module` is a copy in the head start's modules dir whose content has the SHA-256 its name says. */
export function intactModule(module: string, env: NodeJS.ProcessEnv = process.env): boolean {
	const hash = /^([\da-f]{64})\.wasm$/.exec(path.basename(module))?.[1];
	if (!hash || module !== path.join(headStartDir(env), 'modules', `${hash}.wasm`)) {
		return false;
	}

	try {
		return createHash('sha256').update(readFileSync(module)).digest('hex') === hash;
	} catch {
		return false;
	}
}

function withAdsPort(bootstrap: JsonObject, adsCluster: string, port: number): JsonObject {
	const copy = structuredClone(bootstrap) as { static_resources?: { clusters?: Array<{ name?: string; load_assignment?: { endpoints?: Array<{ lb_endpoints?: Array<{ endpoint?: { address?: { socket_address?: { port_value?: number } } } }> }> } }> } };
	for (const cluster of copy.static_resources?.clusters ?? []) {
		if (cluster.name === adsCluster) {
			const address = cluster.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
			if (!address) {
				throw new Error(`the head start's record has no address for cluster ${adsCluster}`);
			}

			address.port_value = port;
		}
	}

	return copy as JsonObject;
}

/** The bootstrap with a listener of the preloaded filters (src/envoy/pins.ts's shape, whatever the kind). */
function withPreloads(bootstrap: JsonObject, filters: readonly JsonObject[], socketPath: string): JsonObject {
	if (filters.length === 0) {
		return bootstrap;
	}

	const resources = (bootstrap.static_resources ?? {}) as JsonObject;
	const listeners = (resources.listeners ?? []) as JsonObject[];
	return { ...bootstrap, static_resources: { ...resources, listeners: [...listeners, pinsListener(filters, socketPath)] } };
}
