/**
 * What `meshbox measure` (and the scenario API's `measure()`) finds: the cost of a plugin chain on real Envoy,
 * beside the same sandbox without the plugins (the baseline). `--json` prints a `MeasureResult` as one object;
 * the HTML report (./report-html.ts) draws one. Figures are the measured ones, never rounded to look good.
 */

/** Latency of one chain's requests, in milliseconds (client side: sent → last byte received). */
export type LatencyFigures = {
	readonly p50Ms: number;
	readonly p90Ms: number;
	readonly p99Ms: number;
	readonly maxMs: number;
	/** The percentile curve the report draws: `[percentile (0–100), ms]`, ascending, about 100 points. */
	readonly curve: ReadonlyArray<readonly [number, number]>;
};

/** Envoy's memory over a run: samples after the warm-up, and the growth fitted through them. */
export type MemoryFigures = {
	/** `[requests sent so far (after the warm-up), Envoy RSS in bytes]` (docker: the container's memory usage). */
	readonly samples: ReadonlyArray<readonly [number, number]>;
	/** Slope of the least-squares line through `samples`: bytes kept per request. */
	readonly growthBytesPerRequest: number;
	/** The slope's uncertainty (its standard error × the t value for 95%), bytes per request. */
	readonly growthUncertaintyBytesPerRequest: number;
	/** Growth clearly above noise (see ./leak.ts for the rule). */
	readonly leakSuspected: boolean;
	readonly rssStartBytes: number;
	readonly rssEndBytes: number;
};

/** One chain's run: the baseline (no plugins) or the user's plugins. */
export type ChainRun = {
	/** `baseline`, `plugins`, or `baseline-build` (the `--baseline old.wasm` chain). */
	readonly name: string;
	/** The plugins' names in chain order (empty for the baseline). */
	readonly plugins: readonly string[];
	readonly requests: number;
	readonly errors: number;
	readonly latency: LatencyFigures;
	readonly throughput: { readonly requestsPerSecond: number };
	/** Envoy's CPU time (user + system) over the measured requests, per request. */
	readonly cpu: { readonly usPerRequest: number };
	readonly memory: MemoryFigures;
};

export type MeasureResult = {
	readonly meshboxVersion: string;
	readonly envoyVersion: string;
	readonly runtime: 'local' | 'docker';
	readonly machine: { readonly cores: number; readonly loadAverage: readonly [number, number, number] };
	/** Envoy's worker threads (`--concurrency`). */
	readonly envoyWorkers: number;
	/** Concurrent connections of the load generator. */
	readonly concurrency: number;
	readonly loadGenerator: string;
	/** Each chain measured, the baseline first. */
	readonly chains: readonly ChainRun[];
	/** The plugins' chain against the baseline: the figures people ask for first. */
	readonly latency: LatencyFigures & { readonly addedP50Ms: number; readonly addedP90Ms: number; readonly addedP99Ms: number };
	readonly throughput: { readonly requestsPerSecond: number; readonly baselineRequestsPerSecond: number };
	readonly cpu: { readonly usPerRequest: number; readonly baselineUsPerRequest: number; readonly addedUsPerRequest: number };
	readonly memory: MemoryFigures;
	/** With `--updates N`: Envoy's memory over N live swaps of the same module. */
	readonly updates?: { readonly count: number; readonly memory: MemoryFigures };
};
