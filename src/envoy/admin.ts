/**
 * A typed client for the parts of Envoy's admin API meshbox uses: readiness, the bound listener address,
 * stats, and log levels. Admin is always on loopback (or a published loopback port for containers).
 */
import got, { type Got } from 'got';

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

export class EnvoyAdmin {
	readonly url: string;
	private readonly http: Got;

	constructor(host: string, port: number) {
		this.url = `http://${host}:${port}`;
		this.http = got.extend({
			prefixUrl: this.url,
			retry: { limit: 0 },
			timeout: { request: 5000 },
			throwHttpErrors: false,
		});
	}

	/** True once Envoy's `/ready` answers 200 (`LIVE`): listeners are bound and workers started. */
	async isReady(): Promise<boolean> {
		try {
			const response = await this.http.get('ready', { timeout: { request: 1000 } });
			return response.statusCode === 200;
		} catch {
			return false;
		}
	}

	/** The address a listener actually bound (port 0 in the config means "any free port"). */
	async listenerAddress(listenerName: string): Promise<{ address: string; port: number }> {
		const listeners = await this.http.get('listeners', { searchParams: { format: 'json' } }).json<ListenersJson>();
		const status = listeners.listener_statuses?.find(entry => entry.name === listenerName);
		const socket = status?.local_address?.socket_address;
		if (!socket) {
			throw new Error(`Envoy has no listener named ${listenerName}`);
		}

		return { address: socket.address, port: socket.port_value };
	}

	/** Counters, gauges and histograms whose names match `filter` (a regular expression, as Envoy's `filter=`). */
	async stats(filter?: string): Promise<EnvoyStats> {
		const read = async (type: 'Counters' | 'Gauges' | 'Histograms') => this.http.get('stats', {
			searchParams: { format: 'json', type, ...(filter ? { filter } : {}) },
		}).json<StatsJson>();
		const [counters, gauges, histograms] = await Promise.all([read('Counters'), read('Gauges'), read('Histograms')]);
		return {
			counters: toValueMap(counters),
			gauges: toValueMap(gauges),
			histograms: toHistogramMap(histograms),
		};
	}

	/** Sets one logger's level (`POST /logging?<logger>=<level>`); Envoy logs the change on its `admin` logger. */
	async setLogLevel(logger: string, level: string): Promise<void> {
		const response = await this.http.post('logging', { searchParams: { [logger]: level } });
		if (response.statusCode !== 200) {
			throw new Error(`Envoy refused log level ${logger}=${level}: ${response.body.trim()}`);
		}
	}

	/** Raw text of any admin path, e.g. `config_dump`. */
	async get(adminPath: string): Promise<string> {
		return (await this.http.get(adminPath.replace(/^\//, ''))).body;
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
