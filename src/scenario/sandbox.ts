/**
 * The scenario API: start a sandbox (real Envoy + the recording upstream + your plugins), send requests,
 * read what the upstream saw, what the plugins logged and what Envoy counted.
 *
 *   const box = await startSandbox({ plugins: [{ name: 'auth', wasm: 'auth.wasm' }] });
 *   const res = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
 *   await box.stop();
 */
import http from 'node:http';
import { resolveSpec } from '../config/resolve.ts';
import type { SandboxModel } from '../config/model.ts';
import { startSidecar } from '../istio/start.ts';
import { MeshboxError } from '../errors.ts';
import type { SandboxSpec } from '../config/spec.ts';
import type { EnvoyStats } from '../envoy/admin.ts';
import { atLeast, type EnvoyLogEntry, type PluginLogEntry, type PluginLogLevel } from '../envoy/logs.ts';
import { startRuntime } from '../runtime/start.ts';
import type { RunningSandbox, RuntimeName } from '../runtime/types.ts';
import type { UpstreamRecordings } from '../upstream/recordings.ts';
import { sendRequest, type HttpResponse } from './http-client.ts';
import { MockService, startMock, type StartedMock } from './mock-service.ts';

export type SandboxOptions = Omit<SandboxSpec, 'clusters'> & {
	/** Services plugins call with http_call, by cluster name: a `mockService()` or a `host:port`. */
	clusters?: Record<string, MockService | string>;
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
	/** Print progress (Envoy install, which Envoy) to stderr. Default: false. */
	verbose?: boolean;
};

export type RequestOptions = {
	method?: string;
	/** Request headers; `host` sets the authority Envoy and the plugins see. */
	headers?: Record<string, string | string[]>;
	body?: string | Uint8Array;
	/** Request trailers (HTTP/1.1: sent with chunked encoding; HTTP/2: a trailing HEADERS frame). */
	trailers?: Record<string, string>;
	/** HTTP/2 cleartext (prior knowledge) instead of HTTP/1.1. */
	http2?: boolean;
	/** Default 10 s. */
	timeoutMs?: number;
};

export type SandboxResponse = HttpResponse;

export type PluginLogFilter = {
	plugin?: string;
	/** Exactly this level. */
	level?: PluginLogLevel;
	/** This level or above. */
	minLevel?: PluginLogLevel;
	/** A substring, or a pattern the message must match. */
	message?: string | RegExp;
};

export type EnvoyLogFilter = {
	/** Envoy's logger name: `wasm`, `main`, `http`, … */
	logger?: string;
	level?: EnvoyLogEntry['level'];
	message?: string | RegExp;
};

export class Sandbox {
	/** `http://127.0.0.1:<port>`: Envoy's listener. */
	readonly url: string;
	/** `http://127.0.0.1:<port>`: Envoy's admin interface. */
	readonly adminUrl: string;
	/** The bootstrap Envoy runs with. */
	readonly bootstrapYaml: string;
	readonly envoyVersion: string;
	/** What reached the app behind Envoy. */
	readonly upstream: UpstreamRecordings;
	/** What each mock service (by cluster name) received. */
	readonly mocks: Readonly<Record<string, UpstreamRecordings>>;
	/** The address Envoy sees requests from this process come from (`source.address` host): 127.0.0.1, or the docker network's gateway. */
	readonly clientAddress: string;
	/** Istio sidecar emulation (src/istio): what istiod, istio-agent and Envoy did (selection, fetches, fallbacks), one plain line each. */
	istioNotes: readonly string[] = [];
	private readonly agent = new http.Agent({ keepAlive: true });

	private envoyExit: { exitCode: number | undefined; signal: string | undefined } | undefined;

	constructor(private readonly running: RunningSandbox, private readonly startedMocks: readonly StartedMock[] = []) {
		this.mocks = Object.fromEntries(startedMocks.map(mock => [mock.name, mock.recordings]));
		void running.exited.then(exit => {
			this.envoyExit = exit;
		});
		this.url = running.url;
		this.clientAddress = running.clientAddress ?? '127.0.0.1';
		this.adminUrl = running.admin.url;
		this.bootstrapYaml = running.bootstrapYaml;
		this.envoyVersion = running.envoyVersion;
		this.upstream = running.upstream;
	}

	/** Sends a request through Envoy. Never throws for an HTTP status; only for a connection failure or timeout. */
	async request(path: string, options: RequestOptions = {}): Promise<SandboxResponse> {
		return sendRequest({
			url: new URL(path, this.url),
			method: options.method ?? 'GET',
			headers: options.headers ?? {},
			body: options.body,
			trailers: options.trailers,
			http2: options.http2 ?? false,
			timeoutMs: options.timeoutMs ?? 10_000,
		}, this.agent).catch((error: unknown) => {
			throw this.envoyExit ? this.exitError() : error;
		});
	}

	/** Plugin log entries so far (every line Envoy wrote before this call is included), oldest first. */
	async logs(filter: PluginLogFilter = {}): Promise<PluginLogEntry[]> {
		await this.running.logs.sync(this.running.admin);
		return this.running.logs.pluginEntries.filter(entry => matchesPluginFilter(entry, filter));
	}

	/** Envoy's own log entries so far, oldest first. */
	async envoyLogs(filter: EnvoyLogFilter = {}): Promise<EnvoyLogEntry[]> {
		await this.running.logs.sync(this.running.admin);
		return this.running.logs.entries.filter(entry => (filter.logger === undefined || entry.logger === filter.logger)
			&& (filter.level === undefined || entry.level === filter.level)
			&& matchesText(entry.message, filter.message));
	}

	/** Waits for a plugin log entry (e.g. from a timer or an http_call callback); undefined after the timeout. */
	async waitForLog(filter: PluginLogFilter, timeoutMs = 5000): Promise<PluginLogEntry | undefined> {
		return this.running.logs.waitForPluginEntry(entry => matchesPluginFilter(entry, filter), timeoutMs);
	}

	/** Envoy's stats (admin `/stats`) whose names start with `prefix`. */
	async stats(prefix = ''): Promise<EnvoyStats> {
		return this.running.admin.stats(prefix ? `^${escapeRegExp(prefix)}` : undefined);
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

	/** Stops Envoy and the upstream and removes temporary files. Safe to call more than once. */
	async stop(): Promise<void> {
		this.agent.destroy();
		await this.running.stop();
		await Promise.all(this.startedMocks.map(async mock => mock.stop()));
	}
	private exitError(): MeshboxError {
		const status = this.envoyExit?.exitCode === undefined ? `signal ${this.envoyExit?.signal ?? '?'}` : `status ${this.envoyExit.exitCode}`;
		return new MeshboxError('ENVOY_EXITED', `Envoy exited (${status}) while the scenario was running`, 'the last lines of its log follow', this.running.logs.tail(20));
	}
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
	const { runtime, envoyBin, envoyImage, baseDir, readyTimeoutMs, verbose, clusters, ...spec } = options;
	const mocks: StartedMock[] = [];
	try {
		const clusterAddresses: Record<string, string> = {};
		for (const [name, target] of Object.entries(clusters ?? {})) {
			if (target instanceof MockService) {
				const mock = await startMock(name, target);
				mocks.push(mock);
				clusterAddresses[name] = mock.address;
			} else {
				clusterAddresses[name] = target;
			}
		}

		const model = await resolveSpec({ ...spec, ...(clusters ? { clusters: clusterAddresses } : {}) }, { baseDir: baseDir ?? process.cwd() });
		const startWith = async (current: SandboxModel) => startRuntime(runtime, {
			model: current,
			envoyBin,
			envoyImage,
			readyTimeoutMs,
			onProgress: verbose ? line => process.stderr.write(`${line}\n`) : undefined,
		});
		// Istio sidecars (src/istio): a plugin Envoy refuses is marked rejected and Envoy started again, as a sidecar NACKs it.
		const { running, model: started } = model.sidecar ? await startSidecar(model, startWith) : { running: await startWith(model), model };
		const box = new Sandbox(running, mocks);
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
		&& matchesText(entry.message, filter.message);
}

function matchesText(text: string, expected: string | RegExp | undefined): boolean {
	if (expected === undefined) {
		return true;
	}

	return typeof expected === 'string' ? text.includes(expected) : expected.test(text);
}

function escapeRegExp(text: string): string {
	return text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
