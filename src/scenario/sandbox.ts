/**
 * The scenario API: start a sandbox (real Envoy + the recording upstream + your plugins), send requests,
 * read what the upstream saw, what the plugins logged and what Envoy counted.
 *
 *   const box = await startSandbox({ plugins: [{ name: 'auth', wasm: 'auth.wasm' }] });
 *   const res = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
 *   await box.stop();
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { modelFromSpec, SandboxSession } from '../compose/model.ts';
import { startComposed } from '../compose/start.ts';
import { isMeshboxError, MeshboxError } from '../errors.ts';
import type { ClusterSpec, LogLevel, PluginSpec } from '../config/spec.ts';
import type { SandboxSpec } from '../compose/spec.ts';
import { LiveSandbox, sandboxStoppedError, type LiveSpec } from '../compose/live.ts';
import { wasmCustomNamespace, type EnvoyStats } from '../envoy-admin/admin.ts';
import { atLeast, type EnvoyLogEntry, type PluginLogEntry, type PluginLogLevel } from '../envoy-admin/logs.ts';
import { checkMessageMatch, matchesMessage, type MessageMatch } from './log-filter.ts';
import type { RunningSandbox, RuntimeName } from '../runtime/types.ts';
import type { EnvoyUsage } from '../runtime/envoy-usage.ts';
import type { UpstreamRecordings } from '../upstream/recordings.ts';
import { sendRequest, type ClientTls, type HttpResponse } from './http-client.ts';
import { MockService, startMock, type StartedMock } from './mock-service.ts';
import { isBrokenStream, StreamResetExplainer } from './stream-reset.ts';
import { writeSandboxReport } from './report.ts';
import { filterSeries, parsePrometheus, type PrometheusSeries } from './prometheus.ts';
import { tcpExchange, type TcpExchange, type TcpOptions } from './tcp-client.ts';
import type { TcpAppRecordings } from '../upstream/tcp-app.ts';

/**
 * The request header box.request() adds so that assertions can find a request among the app's recordings
 * (src/scenario/assertions.ts): a header of meshbox's own, because Envoy may replace x-request-id and a plugin
 * can remove any response header. Plugins see it too; a scenario may set it itself (its value is then used).
 */
export const requestIdHeader = 'x-meshbox-request-id';

export type SandboxOptions = Omit<SandboxSpec, 'clusters'> & {
	/** Services plugins call with http_call, by cluster name: a `mockService()`, a `host:port` or `{ address, protocol: 'http2' }`. */
	clusters?: Record<string, MockService | ClusterSpec>;
	/** How Envoy runs. Default: `MESHBOX_RUNTIME` or `local`. */
	runtime?: RuntimeName;
	/** An Envoy binary to use (otherwise: ENVOY_BIN, PATH, meshbox's cache, or install). */
	envoyBin?: string;
	/** docker runtime: the image to run Envoy from (otherwise: MESHBOX_ENVOY_IMAGE, envoyproxy/envoy, or meshbox/envoy). */
	envoyImage?: string;
	/** Relative wasm paths are resolved against this directory. Default: the working directory. */
	baseDir?: string;
	/** Milliseconds to wait for Envoy to become ready. Default 60 s. */
	readyTimeoutMs?: number;
	/**
	 * local runtime: `true` gives the sandbox a dedicated Envoy. Otherwise it runs on a warm Envoy this process
	 * keeps between sandboxes (its own resources, vm_ids, log and counters; see docs/runtimes.md, "Warm Envoys"), unless
	 * MESHBOX_FRESH=1 or the spec needs an Envoy of its own (a fixed admin port, services, a configuration
	 * naming one of its vm_ids).
	 */
	fresh?: boolean;
	/** Print progress (Envoy install, which Envoy) to stderr. Default: false. */
	verbose?: boolean;
};

export type RequestOptions = {
	method?: string;
	/** Request headers; `host` sets the authority Envoy and the plugins see. */
	headers?: Record<string, string | string[]>;
	/** Sent with content-length (as curl does), unless `chunked` or `trailers` is given. */
	body?: string | Uint8Array;
	/** Request trailers (HTTP/1.1: sent with chunked encoding; HTTP/2: a trailing HEADERS frame). */
	trailers?: Record<string, string>;
	/** Send the body without content-length: HTTP/1.1 `transfer-encoding: chunked`, HTTP/2 DATA frames of unannounced size. */
	chunked?: boolean;
	/** HTTP/2 cleartext (prior knowledge) instead of HTTP/1.1. */
	http2?: boolean;
	/** Default 10 s. */
	timeoutMs?: number;
	/** HTTP/1.1 over TLS presenting this client certificate (e.g. a mesh CA identity: `mesh.workload(name).requestInbound(path, { identity })`). */
	tls?: ClientTls;
};

export type SandboxResponse = HttpResponse & {
	/** The `x-meshbox-request-id` the request carried: the app's recording of it carries the same. */
	readonly requestId: string;
};

export type PluginLogFilter = {
	plugin?: string;
	/** Exactly this level. */
	level?: PluginLogLevel;
	/** This level or above. */
	minLevel?: PluginLogLevel;
	/** A string is a substring of the message; `{ exact: '…' }` the whole message; a RegExp a pattern it matches. */
	message?: MessageMatch;
};

export type EnvoyLogFilter = {
	/** Envoy's logger name: `wasm`, `main`, `http`, … */
	logger?: string;
	level?: EnvoyLogEntry['level'];
	/** As in PluginLogFilter: a substring, `{ exact }` or a RegExp. */
	message?: MessageMatch;
};

/**
 * `MockName`: the spec's mock cluster names, `AppName`: its app names (sandboxFor() and stories() fill them
 * in), so `box.mocks.<name>` and `box.apps.<name>` are checked.
 */
export class Sandbox<MockName extends string = string, AppName extends string = string> {
	/** `http://127.0.0.1:<port>`: Envoy's listener. */
	readonly url: string;
	/** `http://127.0.0.1:<port>`: Envoy's admin interface. */
	readonly adminUrl: string;
	/** The bootstrap Envoy runs with. */
	readonly bootstrapYaml: string;
	readonly envoyVersion: string;
	/** What reached the app behind Envoy. */
	readonly upstream: UpstreamRecordings;
	/** What each named app (`apps:`, by name; `upstream` is `box.upstream`) received. */
	readonly apps: Readonly<Record<AppName | 'upstream', UpstreamRecordings>>;
	/** What each mock service (by cluster name) received. */
	readonly mocks: Readonly<Record<MockName, UpstreamRecordings>>;
	/** What each TCP listener's app (`listeners:`, by listener name) received and sent, connection by connection. */
	readonly tcpApps: Readonly<Record<string, TcpAppRecordings>>;
	/** Where each TCP listener (by name) is reachable from this process: `{ address, port }`. */
	readonly tcpAddresses: Readonly<Record<string, { readonly address: string; readonly port: number }>>;
	/** The address Envoy sees requests from this process come from (`source.address` host): 127.0.0.1, or the docker network's gateway. */
	readonly clientAddress: string;
	/** Istio sidecar emulation (src/istio): what istiod, istio-agent and Envoy did (selection, fetches, fallbacks), one plain line each. */
	istioNotes: readonly string[] = [];
	private agent = new http.Agent({ keepAlive: true });
	/** Agents of earlier configs: their requests in flight finish on the connections they started on. */
	private readonly retiredAgents: http.Agent[] = [];

	private envoyExit: { exitCode: number | undefined; signal: string | undefined } | undefined;
	private live: LiveSandbox | undefined;
	/** Aborted when Envoy exits: ends waits for log entries at once. */
	private readonly exitController = new AbortController();
	private stopped = false;
	private readonly resets: StreamResetExplainer;

	constructor(private readonly running: RunningSandbox, private readonly startedMocks: readonly StartedMock[] = []) {
		this.mocks = Object.fromEntries(startedMocks.map(mock => [mock.name, mock.recordings])) as Record<MockName, UpstreamRecordings>;
		void running.exited.then(exit => {
			this.envoyExit = exit;
			this.exitController.abort();
		});
		this.resets = new StreamResetExplainer(running.admin, running.bootstrapYaml);
		this.url = running.url;
		this.clientAddress = running.clientAddress ?? '127.0.0.1';
		this.adminUrl = running.admin.url;
		this.bootstrapYaml = running.bootstrapYaml;
		this.envoyVersion = running.envoyVersion;
		this.upstream = running.upstream;
		this.apps = { ...running.apps, upstream: running.upstream } as Record<AppName | 'upstream', UpstreamRecordings>;
		this.tcpApps = Object.fromEntries(running.tcp?.apps ?? []);
		this.tcpAddresses = Object.fromEntries(running.tcp?.listeners ?? []);
	}

	/**
	 * Connects to the TCP listener `listener` (`listeners:`), sends `data`, half-closes (unless `end: false`) and
	 * reads what comes back until the connection closes or `until` arrives (src/scenario/tcp-client.ts).
	 */
	async tcp(listener: string, data: string | Uint8Array, options: TcpOptions = {}): Promise<TcpExchange> {
		if (this.envoyExit) {
			throw this.exitError();
		}

		const address = this.tcpAddresses[listener];
		if (!address) {
			const names = Object.keys(this.tcpAddresses);
			throw new MeshboxError('USAGE', `box.tcp(): the sandbox has no TCP listener named "${listener}"`,
				names.length > 0 ? `its TCP listeners are: ${names.join(', ')}` : 'add one to the spec: listeners: { tcp: { kind: tcp, plugins: [...] } }');
		}

		return tcpExchange(address, data, options);
	}

	/**
	 * Sends a request through Envoy, with an `x-meshbox-request-id` header (see `requestIdHeader`). Never throws
	 * for an HTTP status; only for a connection failure or timeout, explained when Envoy reset the stream.
	 */
	async request(path: string, options: RequestOptions = {}): Promise<SandboxResponse> {
		const headers = options.headers ?? {};
		const given = Object.entries(headers).find(([name]) => name.toLowerCase() === requestIdHeader)?.[1];
		const requestId = given === undefined ? randomUUID() : String(given);
		try {
			const response = await sendRequest({
				url: new URL(path, this.url),
				method: options.method ?? 'GET',
				headers: given === undefined ? { ...headers, [requestIdHeader]: requestId } : headers,
				body: options.body,
				trailers: options.trailers,
				chunked: options.chunked,
				http2: options.http2 ?? false,
				timeoutMs: options.timeoutMs ?? 10_000,
				...(options.tls ? { tls: options.tls } : {}),
			}, this.agent);
			return { ...response, requestId };
		} catch (error) {
			throw await this.explainFailure(error);
		}
	}

	/** Plugin log entries so far (every line Envoy wrote before this call is included), oldest first. After Envoy exited: those it wrote. */
	async logs(filter: PluginLogFilter = {}): Promise<PluginLogEntry[]> {
		checkMessageMatch(filter.message, 'box.logs()');
		await this.syncLogs();
		return this.running.logs.pluginEntries.filter(entry => matchesPluginFilter(entry, filter));
	}

	/** Envoy's own log entries so far, oldest first. After Envoy exited: those it wrote. */
	async envoyLogs(filter: EnvoyLogFilter = {}): Promise<EnvoyLogEntry[]> {
		checkMessageMatch(filter.message, 'box.envoyLogs()');
		await this.syncLogs();
		return this.running.logs.entries.filter(entry => (filter.logger === undefined || entry.logger === filter.logger)
			&& (filter.level === undefined || entry.level === filter.level)
			&& matchesMessage(entry.message, filter.message));
	}

	/**
	 * The level Envoy's `wasm` logger runs at, which decides which of the plugins' lines Envoy prints at all:
	 * `envoy.componentLogLevels.wasm`, else `envoy.logLevel` (Istio sidecars: the proxy's levels).
	 */
	get pluginLogLevel(): LogLevel | undefined {
		const envoy = this.live?.current.model.envoy;
		return envoy ? envoy.componentLogLevels.wasm ?? envoy.logLevel : undefined;
	}

	/**
	 * Waits for a plugin log entry (e.g. from a timer or an http_call callback); undefined after the timeout.
	 * Rejects at once with ENVOY_EXITED when Envoy has exited (or exits while waiting) and no entry matched.
	 */
	async waitForLog(filter: PluginLogFilter, timeoutMs = 5000): Promise<PluginLogEntry | undefined> {
		checkMessageMatch(filter.message, 'box.waitForLog()');
		const found = await this.running.logs.waitForPluginEntry(entry => matchesPluginFilter(entry, filter), timeoutMs, this.exitController.signal);
		if (found === undefined && this.envoyExit) {
			throw this.exitError();
		}

		return found;
	}

	/**
	 * Envoy's stats (admin `/stats`) whose names start with `prefix`, or `wasmcustom.` + `prefix`: Envoy files a
	 * plugin's own metrics under `wasmcustom.` (a plugin's `my_metric` is `wasmcustom.my_metric`). The maps hold
	 * Envoy's names; `get('my_metric')` also finds `wasmcustom.my_metric`. Throws ENVOY_EXITED once Envoy exited.
	 */
	async stats(prefix = ''): Promise<EnvoyStats> {
		if (this.envoyExit) {
			throw this.exitError();
		}

		try {
			return await this.running.admin.stats(prefix ? `^(?:${escapeRegExp(wasmCustomNamespace)})?${escapeRegExp(prefix)}` : undefined);
		} catch (error) {
			throw await this.exitedWithin(exitGraceMs) ? this.exitError() : error;
		}
	}

	/**
	 * Envoy's stats in the Prometheus form (admin `/stats/prometheus`): one entry per series, with the labels
	 * Envoy's tag extraction (default tags and `stats.tags`) made. A plugin's metrics appear under the names the
	 * plugin gave them (without `wasmcustom.`). `name`: a prefix of the series name, or a pattern it matches.
	 * Throws ENVOY_EXITED once Envoy exited.
	 */
	async prometheus(name?: string | RegExp): Promise<PrometheusSeries[]> {
		if (this.envoyExit) {
			throw this.exitError();
		}

		try {
			return filterSeries(parsePrometheus(await this.running.admin.get('stats/prometheus')), name);
		} catch (error) {
			throw await this.exitedWithin(exitGraceMs) ? this.exitError() : error;
		}
	}

	/**
	 * Polls `check` until it returns something truthy (which is returned), e.g. for timer-driven behaviour:
	 * `await box.waitFor(async () => (await box.upstream.hits()) === 1)`. Rejects after `timeoutMs`.
	 */
	async waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 50): Promise<NonNullable<T>> {
		const started = Date.now();
		for (;;) {
			const result = await check();
			if (result) {
				return result as NonNullable<T>;
			}

			if (this.envoyExit) {
				throw this.exitError();
			}

			if (Date.now() - started >= timeoutMs) {
				throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
			}

			await new Promise(resolve => setTimeout(resolve, intervalMs));
		}
	}

	/**
	 * The version of the config Envoy runs: 1 after start, higher after each accepted `update()`,
	 * `swapPlugin()` or `rollback()` (the xDS control plane's version, counted per sandbox). Changes apply one at
	 * a time in call order, so once the last of several changes started together resolved, this names its config.
	 */
	get configVersion(): number {
		return this.live?.current.version ?? 1;
	}

	/**
	 * Changes the running sandbox without restarting Envoy: `plugins` (the whole new chain), `clusters`,
	 * `upstream`. Resolves once Envoy accepted the change (ACK); rejects with ENVOY_REJECTED_CONFIG, Envoy's
	 * reason and the plugin's own log lines when Envoy refuses it (NACK), and the last accepted config keeps serving.
	 * Changes called while one is in flight wait for it and apply in call order (each on the config the one before
	 * left). After `stop()` it rejects at once with SANDBOX_STOPPED (as do `swapPlugin()`, `rollback()`, `applyIstio()`).
	 */
	async update(change: LiveSpec): Promise<void> {
		await this.liveSandbox('update').update(change);
		this.freshConnections();
	}

	/** Replaces one plugin's module (a wasm path) or its spec, in place in the chain; as `update()`. */
	async swapPlugin(name: string, replacement: string | PluginSpec): Promise<void> {
		await this.liveSandbox('swapPlugin').swapPlugin(name, replacement);
		this.freshConnections();
	}

	/** Goes back to the config accepted before the current one; as `update()`. */
	async rollback(): Promise<void> {
		const accepted = await this.liveSandbox('rollback').rollback();
		this.istioNotes = accepted.model.sidecar?.notes ?? this.istioNotes;
		this.freshConnections();
	}

	/**
	 * Istio sidecars: applies WasmPlugin resources (YAML text or objects) as `kubectl apply` does and pushes
	 * what istiod would (selection, fetch, translation again); as `update()`. `replace: true`: these become the
	 * whole set (how a WasmPlugin is deleted). `istioNotes` then describe the new state.
	 */
	async applyIstio(resources: string | readonly unknown[], options: { replace?: boolean } = {}): Promise<void> {
		const accepted = await this.liveSandbox('applyIstio').applyIstio(resources, options);
		this.istioNotes = accepted.model.sidecar?.notes ?? [];
		this.freshConnections();
	}

	/**
	 * Requests after a change go on new connections. Envoy keeps serving a connection opened before a listener
	 * change with the old filter chain until it drains it (a plugin swap alone, over ECDS, reaches open
	 * connections at once), and "after the update" should mean the new config; requests in flight keep theirs.
	 */
	/** @internal Also called by a mesh (./mesh.ts) after a change it pushed. */
	freshConnections(): void {
		const old = this.agent;
		this.agent = new http.Agent({ keepAlive: true });
		this.retiredAgents.push(old);
		for (const sockets of Object.values(old.freeSockets)) {
			for (const socket of sockets ?? []) {
				socket.destroy();
			}
		}

		// Sockets still busy return to `old` when their request ends: close them then.
		old.on('free', (socket: import('node:net').Socket) => {
			socket.destroy();
		});
	}

	/**
	 * Envoy's resident memory and CPU time so far (src/runtime/envoy-usage.ts), for `measure()`. Only a sandbox
	 * with an Envoy of its own has them (`fresh: true`, or the docker runtime): a warm Envoy's are shared.
	 */
	async envoyUsage(): Promise<EnvoyUsage> {
		if (!this.running.envoyUsage) {
			throw new MeshboxError('MEASURE_UNSUPPORTED', 'this sandbox runs on a warm Envoy shared with other sandboxes: its memory and CPU are not its own',
				'start it with fresh: true (an Envoy of its own)');
		}

		return this.running.envoyUsage();
	}

	/** @internal Set by startSandbox. */
	attachLive(live: LiveSandbox): void {
		this.live = live;
	}

	/** `what`: the call, for the error. */
	private liveSandbox(what: string): LiveSandbox {
		// First: a stopped sandbox's Envoy (a warm one) may serve the next sandbox, which a change would replace.
		if (this.stopped) {
			throw sandboxStoppedError(what);
		}

		if (this.envoyExit) {
			throw this.exitError();
		}

		if (!this.live) {
			throw new MeshboxError('USAGE', 'this sandbox cannot change while it runs', 'start a new sandbox with the new spec');
		}

		return this.live;
	}

	/** Writes the debug report (bootstrap, /config_dump, /stats, plugin and Envoy logs; src/scenario/report.ts) into `dir`; call before stop(). */
	async writeReport(dir: string): Promise<string> {
		return writeSandboxReport(this, dir);
	}

	/** Stops Envoy and the upstream and removes temporary files. Safe to call more than once. */
	async stop(): Promise<void> {
		this.stopped = true;
		// Changes queued behind one in flight are refused too (src/compose/live.ts).
		this.live?.close();
		this.agent.destroy();
		for (const agent of this.retiredAgents) {
			agent.destroy();
		}

		await this.running.stop();
		await Promise.all(this.startedMocks.map(async mock => mock.stop()));
	}
	/**
	 * Waits until every line Envoy wrote so far is read. Once Envoy is gone (exited, or the sandbox stopped)
	 * there is nothing more to wait for: what was captured is all there is.
	 */
	private async syncLogs(): Promise<void> {
		if (this.envoyExit || this.stopped) {
			return;
		}

		try {
			await this.running.logs.sync(this.running.admin);
		} catch (error) {
			// Admin refused because Envoy is dying: its exit is seen a moment later (once its output is read).
			if (!(await this.exitedWithin(exitGraceMs))) {
				throw error;
			}
		}
	}

	/** Whether Envoy has exited, waiting up to `ms` for an exit that is under way. */
	private async exitedWithin(ms: number): Promise<boolean> {
		if (!this.envoyExit) {
			let timer: NodeJS.Timeout | undefined;
			await Promise.race([this.running.exited, new Promise(resolve => {
				timer = setTimeout(resolve, ms);
			})]);
			clearTimeout(timer);
			// running.exited's own handler (constructor) ran first: it was attached first.
		}

		return this.envoyExit !== undefined;
	}

	/** The error box.request() throws for a failed exchange: Envoy exited, Envoy reset the stream, or the client's own. */
	private async explainFailure(error: unknown): Promise<unknown> {
		if (this.envoyExit) {
			return this.exitError();
		}

		// No response in time: the runtime may know why (a plugin stuck in a callback), and retires what timed out.
		if (isMeshboxError(error) && error.code === 'REQUEST_TIMEOUT') {
			return this.running.explainTimeout ? this.running.explainTimeout(error) : error;
		}

		// Refused: Envoy closed its listeners, which it does on its way out (admin /quitquitquit, a crash).
		if ((error as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED') {
			return await this.exitedWithin(exitGraceMs) ? this.exitError() : error;
		}

		if (!isBrokenStream(error)) {
			return error;
		}

		try {
			return await this.resets.explain(error as Error) ?? error;
		} catch {
			// Admin does not answer: Envoy is dying, which is why the stream broke.
			return await this.exitedWithin(exitGraceMs) ? this.exitError() : error;
		}
	}

	private exitError(): MeshboxError {
		const status = this.envoyExit?.exitCode === undefined ? `signal ${this.envoyExit?.signal ?? '?'}` : `status ${this.envoyExit.exitCode}`;
		return new MeshboxError('ENVOY_EXITED', `Envoy exited (${status}) while the scenario was running`, 'the last lines of its log follow', this.running.logs.tail(20));
	}
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
	const { runtime, envoyBin, envoyImage, baseDir, readyTimeoutMs, verbose, clusters, fresh, ...spec } = options;
	const mocks: StartedMock[] = [];
	try {
		const clusterAddresses: Record<string, ClusterSpec> = {};
		for (const [name, target] of Object.entries(clusters ?? {})) {
			if (target instanceof MockService) {
				const mock = await startMock(name, target);
				mocks.push(mock);
				clusterAddresses[name] = mock.protocol === 'http2' ? { address: mock.address, protocol: 'http2' } : mock.address;
			} else {
				clusterAddresses[name] = target;
			}
		}

		// One pod's worth of Istio state for the life of the sandbox (its live updates resolve the spec again).
		const session = new SandboxSession();
		const model = await modelFromSpec({ ...spec, ...(clusters ? { clusters: clusterAddresses } : {}) }, { baseDir: baseDir ?? process.cwd(), session });
		const { running, model: started } = await startComposed(model, {
			runtime,
			envoyBin,
			envoyImage,
			readyTimeoutMs,
			warm: !(fresh ?? process.env.MESHBOX_FRESH === '1'),
			onProgress: verbose ? line => process.stderr.write(`${line}\n`) : undefined,
		});
		const box = new Sandbox(running, mocks);
		box.attachLive(new LiveSandbox(running, { ...spec, ...(clusters ? { clusters: clusterAddresses } : {}) }, started, baseDir ?? process.cwd(), session));
		box.istioNotes = started.sidecar?.notes ?? [];
		if (verbose) {
			for (const note of box.istioNotes) {
				process.stderr.write(`meshbox: ${note}\n`);
			}
		}

		return box;
	} catch (error) {
		await Promise.all(mocks.map(async mock => mock.stop()));
		throw error;
	}
}

function matchesPluginFilter(entry: PluginLogEntry, filter: PluginLogFilter): boolean {
	return (filter.plugin === undefined || entry.plugin === filter.plugin)
		&& (filter.level === undefined || entry.level === filter.level)
		&& (filter.minLevel === undefined || atLeast(entry.level, filter.minLevel))
		&& matchesMessage(entry.message, filter.message);
}

/** How long to wait for Envoy's exit to be seen once admin stopped answering. */
const exitGraceMs = 2000;

function escapeRegExp(text: string): string {
	return text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
