/**
 * A typed client for the parts of Envoy's admin API meshbox uses: readiness, the bound listener address,
 * stats, and log levels. Admin is always on loopback (or a published loopback port for containers).
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';

export type EnvoyStats = {
	readonly counters: ReadonlyMap<string, number>;
	readonly gauges: ReadonlyMap<string, number>;
	/** Cumulative quantiles per histogram (`p50`, `p99`, …); null where Envoy has no value yet. */
	readonly histograms: ReadonlyMap<string, Readonly<Record<string, number | null>>>;
};

type StatsJson = { stats?: Array<{ name?: string; value?: number; histograms?: HistogramsJson }> };
type HistogramsJson = {
	supported_quantiles?: number[];
	computed_quantiles?: Array<{ name: string; values: Array<{ cumulative: number | null }> }>;
};
type ListenersJson = {
	listener_statuses?: Array<{ name: string; local_address?: { socket_address?: { address: string; port_value: number } } }>;
};

type AdminResponse = { readonly statusCode: number; readonly body: string };

/**
 * Admin requests go over node:http with a keep-alive agent: admin is local and plain, and a start polls
 * `/ready` every few milliseconds, so neither an HTTP client library (loaded at every start) nor a new
 * connection per poll is worth its cost.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

export class EnvoyAdmin {
	readonly url: string;

	constructor(private readonly host: string, private readonly port: number) {
		this.url = `http://${host}:${port}`;
	}

	/**
	 * The admin address Envoy writes to `--admin-address-path` once it bound it (a free port): a function that
	 * gives the client once the file holds an address, undefined until then.
	 */
	static fromAddressFile(file: string): () => Promise<EnvoyAdmin | undefined> {
		let admin: EnvoyAdmin | undefined;
		return async () => {
			if (!admin) {
				const address = (await readFile(file, 'utf8').catch(() => '')).trim();
				const match = /^(.*):(\d+)$/.exec(address);
				if (match?.[1] && match[2]) {
					admin = new EnvoyAdmin(match[1], Number(match[2]));
				}
			}

			return admin;
		};
	}

	/** True once Envoy's `/ready` answers 200 (`LIVE`): listeners are bound and workers started. */
	async isReady(): Promise<boolean> {
		try {
			const response = await this.request('GET', 'ready', {}, 1000);
			return response.statusCode === 200;
		} catch {
			return false;
		}
	}

	/** The address a listener actually bound (port 0 in the config means "any free port"). */
	async listenerAddress(listenerName: string): Promise<{ address: string; port: number }> {
		const listeners = JSON.parse((await this.request('GET', 'listeners', { format: 'json' })).body) as ListenersJson;
		const status = listeners.listener_statuses?.find(entry => entry.name === listenerName);
		const socket = status?.local_address?.socket_address;
		if (!socket) {
			throw new Error(`Envoy has no listener named ${listenerName}`);
		}

		return { address: socket.address, port: socket.port_value };
	}

	/** Counters, gauges and histograms whose names match `filter` (a regular expression, as Envoy's `filter=`). */
	async stats(filter?: string): Promise<EnvoyStats> {
		const read = async (type: 'Counters' | 'Gauges' | 'Histograms') => JSON.parse((await this.request('GET', 'stats', { format: 'json', type, ...(filter ? { filter } : {}) })).body) as StatsJson;
		const [counters, gauges, histograms] = await Promise.all([read('Counters'), read('Gauges'), read('Histograms')]);
		return {
			counters: toValueMap(counters),
			gauges: toValueMap(gauges),
			histograms: toHistogramMap(histograms),
		};
	}

	/** Sets one logger's level (`POST /logging?<logger>=<level>`); Envoy logs the change on its `admin` logger. */
	async setLogLevel(logger: string, level: string): Promise<void> {
		const response = await this.request('POST', 'logging', { [logger]: level });
		if (response.statusCode !== 200) {
			throw new Error(`Envoy refused log level ${logger}=${level}: ${response.body.trim()}`);
		}
	}

	/** POSTs an admin action without parameters (`reset_counters`); rejects unless Envoy answers 200. */
	async post(adminPath: string): Promise<void> {
		const response = await this.request('POST', adminPath);
		if (response.statusCode !== 200) {
			throw new Error(`Envoy admin ${adminPath}: ${response.statusCode} ${response.body.trim()}`);
		}
	}

	/** Raw text of any admin path, e.g. `config_dump`. */
	async get(adminPath: string): Promise<string> {
		return (await this.request('GET', adminPath.replace(/^\//, ''))).body;
	}

	/** One admin request; rejects on a connection error or after `timeoutMs`. */
	private async request(method: 'GET' | 'POST', adminPath: string, query: Readonly<Record<string, string>> = {}, timeoutMs = 5000): Promise<AdminResponse> {
		const search = new URLSearchParams(query).toString();
		return new Promise((resolve, reject) => {
			const request = http.request({ host: this.host, port: this.port, method, path: `/${adminPath}${search ? `?${search}` : ''}`, agent, timeout: timeoutMs }, response => {
				const chunks: Buffer[] = [];
				response.on('data', (chunk: Buffer) => chunks.push(chunk));
				response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
				response.on('error', reject);
			});
			request.on('timeout', () => request.destroy(new Error(`Envoy admin ${adminPath} did not answer within ${timeoutMs} ms`)));
			request.on('error', reject);
			request.end();
		});
	}
}

/**
 * A stats map keyed by Envoy's names in which a plugin's metric is also found by the name the plugin gave it:
 * Envoy files plugin metrics under `wasmcustom.` (source/extensions/common/wasm/stats_handler.h
 * `CustomStatNamespace`), so `get('my_metric')` falls back to `wasmcustom.my_metric`. Iteration, `size` and
 * `keys()` show Envoy's names only, once each.
 */
export class StatMap<V> extends Map<string, V> {
	override get(name: string): V | undefined {
		return super.get(name) ?? super.get(`${wasmCustomNamespace}${name}`);
	}

	override has(name: string): boolean {
		return super.has(name) || super.has(`${wasmCustomNamespace}${name}`);
	}
}

export const wasmCustomNamespace = 'wasmcustom.';

function toValueMap(json: StatsJson): Map<string, number> {
	const map = new StatMap<number>();
	for (const entry of json.stats ?? []) {
		if (entry.name !== undefined && typeof entry.value === 'number') {
			map.set(entry.name, entry.value);
		}
	}

	return map;
}

function toHistogramMap(json: StatsJson): Map<string, Record<string, number | null>> {
	const map = new StatMap<Record<string, number | null>>();
	for (const entry of json.stats ?? []) {
		const quantiles = entry.histograms?.supported_quantiles ?? [];
		for (const histogram of entry.histograms?.computed_quantiles ?? []) {
			const values: Record<string, number | null> = {};
			for (const [index, quantile] of quantiles.entries()) {
				values[`p${quantile}`] = histogram.values[index]?.cumulative ?? null;
			}

			map.set(histogram.name, values);
		}
	}

	return map;
}
