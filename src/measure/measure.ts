/**
 * `measure()`: what a plugin chain costs on real Envoy. One dedicated Envoy (`fresh: true`, no warm sharing:
 * its memory and CPU are the sandbox's own) serves the baseline first (the same sandbox with no plugins), then,
 * after a live update on the SAME Envoy, the user's chain, then (with `baselineBuild`) the old build of the
 * plugin. Same Envoy, same app, same routes: the only difference between chains is the plugins. The baseline
 * runs first so that no plugin's memory (a VM is never given back to the OS at once) is counted in it.
 *
 * Each chain: a warm-up (VMs created on every worker, connection pools filled, allocator arenas grown), then
 * `requests` requests at `concurrency` connections from autocannon in this process. Every response's latency
 * (client side, sent → last byte) is kept, so the percentiles are exact, not histogram buckets. Envoy's memory
 * is sampled every `sampleEvery` responses and its CPU time read before and after (./memory.ts, ./leak.ts,
 * src/runtime/envoy-usage.ts).
 *
 * Why autocannon: maintained (the Node.js ecosystem's load tester), HDR-histogram based, exact per-response
 * events in process (no extra binary on every machine), keep-alive connections like wrk. That it is not the
 * bottleneck is checked by `npm run bench` against Debian's wrk on the same sandbox.
 */
import os from 'node:os';
import path from 'node:path';
import { MeshboxError } from '../errors.ts';
import { meshboxVersion } from '../util/meshbox-package.ts';
import type { PluginSpec } from '../config/spec.ts';
import { startSandbox, type Sandbox, type SandboxOptions } from '../scenario/sandbox.ts';
import { defaultLeakFloorBytesPerRequest } from './leak.ts';
import { MemorySampler, memoryFigures } from './memory.ts';
import type { ChainRun, LatencyFigures, MeasureResult } from './result.ts';

export type MeasureOptions = Omit<SandboxOptions, 'plugins' | 'fresh' | 'port' | 'adminPort'> & {
	/** The chain to measure (as `plugins:` of a sandbox spec). */
	plugins: Array<PluginSpec | string>;
	/** An older build of the (first) plugin, measured as a third chain `baseline-build` beside the new one. */
	baselineBuild?: string;
	/** Measured requests per chain, after the warm-up. Default 20,000. */
	requests?: number;
	/** Requests before measuring, per chain. Default 2,000 (at least 500 when fewer were asked for). */
	warmupRequests?: number;
	/** Connections the load generator keeps open (each sends one request at a time). Default 8. */
	concurrency?: number;
	/** Envoy's worker threads (`--concurrency`). Default 1 (the spec's `envoy.concurrency` when it sets one). */
	envoyWorkers?: number;
	/** Memory is sampled every this many responses. Default: requests / 40, at least 100. */
	sampleEvery?: number;
	/**
	 * Live updates of the same module (a new vm_id each time, so Envoy builds new VMs and must free the old) to
	 * measure memory over: 2 unsampled ones, then `updates` sampled ones (samples' x: updates done).
	 */
	updates?: number;
	/** Request path. Default `/`. */
	path?: string;
	/** Request headers (e.g. `host` for a route). */
	headers?: Record<string, string>;
	/** Growth per request above which (at the 95% interval's low end) a leak is suspected. Default 512 B. */
	leakFloorBytesPerRequest?: number;
	/**
	 * Growth per live update above which a leak is suspected. Default 512 KiB: a VM kept per update is at least
	 * its linear memory (a Rust plugin's: 1.1 MiB), while Envoy's own growth per update (a new vm_id's stats and
	 * caches) measured 1–158 KiB (scripts/measure-leaks.ts --updates 10, headers plugins of the three SDKs).
	 */
	leakFloorBytesPerUpdate?: number;
	onProgress?: (line: string) => void;
	/** Stops the run (the CLI's Ctrl+C): the load stops, Envoy is stopped, and measure() rejects. */
	signal?: AbortSignal;
};

const defaultRequests = 20_000;
const defaultConcurrency = 8;
/** Requests after each live update, so that every worker builds the new VM before memory is read. */
const requestsPerUpdate = 50;
/**
 * Updates before memory is sampled: the first ones step RSS up (Envoy's and V8's caches for the new config
 * fill; measured: +10 MB, +4 MB, then flat within 8 KiB over 6 more, go-headers) and would read as a slope.
 */
const unsampledUpdates = 2;
export const loadGeneratorName = 'autocannon';

export async function measure(options: MeasureOptions): Promise<MeasureResult> {
	const { plugins, baselineBuild, requests = defaultRequests, concurrency = defaultConcurrency, updates = 0, onProgress, signal,
		leakFloorBytesPerRequest = defaultLeakFloorBytesPerRequest, leakFloorBytesPerUpdate = 512 * 1024, headers = {},
		// The rest is the sandbox's spec and start options: none of measure()'s own may reach startSandbox().
		warmupRequests, sampleEvery: sampleEveryOption, envoyWorkers: envoyWorkersOption, path: requestPath, ...sandbox } = options;
	const warmup = warmupRequests ?? Math.max(500, Math.min(2000, Math.floor(requests / 2)));
	const sampleEvery = sampleEveryOption ?? Math.max(100, Math.floor(requests / 40));
	const envoyWorkers = envoyWorkersOption ?? sandbox.envoy?.concurrency ?? 1;
	checkCount('requests', requests, 100);
	checkCount('concurrency', concurrency, 1);
	checkCount('envoyWorkers', envoyWorkers, 1);
	checkCount('updates', updates, 0);
	if (plugins.length === 0) {
		throw new MeshboxError('USAGE', 'measure: no plugins given', 'give the chain to measure: --plugin FILE.wasm (repeatable), or plugins: in the spec');
	}

	const progress = onProgress ?? (() => undefined);
	// Taken before Envoy starts: the load the machine already carries, not ours.
	const [oneMinute = 0, fiveMinutes = 0, fifteenMinutes = 0] = os.loadavg();
	const machine = { cores: os.availableParallelism(), loadAverage: [oneMinute, fiveMinutes, fifteenMinutes] as const };
	const box = await startSandbox({
		...sandbox,
		plugins: [],
		fresh: true,
		port: 0,
		adminPort: 0,
		envoy: {
			...sandbox.envoy,
			concurrency: envoyWorkers,
			// Production log levels: a debug log line per request would measure the log pipe, not the plugin.
			logLevel: sandbox.envoy?.logLevel ?? 'warning',
			componentLogLevels: sandbox.envoy?.componentLogLevels ?? { wasm: 'warning' },
		},
	});
	try {
		signal?.throwIfAborted();
		const runOptions = { requests, warmup, concurrency, sampleEvery, headers, path: requestPath ?? '/', floor: leakFloorBytesPerRequest, progress, signal };
		const chains: ChainRun[] = [];
		chains.push(await runChain(box, 'baseline', [], runOptions));
		await box.update({ plugins });
		chains.push(await runChain(box, 'plugins', plugins.map(pluginName), runOptions));
		if (baselineBuild !== undefined) {
			const old = replaceFirstModule(plugins, baselineBuild);
			await box.update({ plugins: old });
			chains.push(await runChain(box, 'baseline-build', old.map(pluginName), runOptions));
		}

		const updateFigures = updates > 0 ? await measureUpdates(box, plugins, updates, { ...runOptions, floor: leakFloorBytesPerUpdate }) : undefined;
		return summarize({
			meshboxVersion: await meshboxVersion(),
			envoyVersion: box.envoyVersion,
			runtime: (sandbox.runtime ?? process.env.MESHBOX_RUNTIME ?? 'local') === 'docker' ? 'docker' : 'local',
			machine,
			envoyWorkers,
			concurrency,
			loadGenerator: `${loadGeneratorName} (in-process, keep-alive, one request at a time per connection)`,
			chains,
			updates: updateFigures,
		});
	} finally {
		await box.stop();
	}
}

type RunOptions = {
	readonly requests: number;
	readonly warmup: number;
	readonly concurrency: number;
	readonly sampleEvery: number;
	readonly headers: Record<string, string>;
	readonly path: string;
	readonly floor: number;
	readonly progress: (line: string) => void;
	readonly signal: AbortSignal | undefined;
};

async function runChain(box: Sandbox, name: string, plugins: readonly string[], options: RunOptions): Promise<ChainRun> {
	const url = new URL(options.path, box.url).href;
	options.progress(`meshbox measure: ${name}: ${options.warmup} warm-up requests, then ${options.requests} at ${options.concurrency} connections`);
	await load(url, options.warmup, options.concurrency, options.headers, options.signal);
	let count = 0;
	const sampler = new MemorySampler(async () => box.envoyUsage(), options.sampleEvery, () => count);
	await sampler.sampleAt(0);
	const cpuBefore = (await box.envoyUsage()).cpuMicros;
	const latencies = new Float64Array(options.requests);
	const started = performance.now();
	let lastResponse = started;
	const result = await load(url, options.requests, options.concurrency, options.headers, options.signal, (milliseconds: number) => {
		if (count < latencies.length) {
			latencies[count] = milliseconds;
		}

		lastResponse = performance.now();

		count += 1;
		sampler.observe(count);
	});
	// Up to the last response, not to autocannon's end: with `amount` it notices the end at its next 1 s
	// sample tick, which made every run's throughput `requests / whole seconds`.
	const seconds = (lastResponse - started) / 1000;
	await sampler.settle();
	const after = await box.envoyUsage();
	sampler.samples.push([count, after.memoryBytes]);
	const answered = Math.min(count, latencies.length);
	if (answered === 0) {
		throw new MeshboxError('ENVOY_EXITED', `measure: no response came back for the ${name} chain`, 'run `meshbox up` with the same plugins and send a request to see why');
	}

	return {
		name,
		plugins,
		requests: answered,
		errors: result.errors + result.timeouts + result.non2xx,
		latency: latencyFigures(latencies.subarray(0, answered)),
		throughput: { requestsPerSecond: answered / seconds },
		cpu: { usPerRequest: (after.cpuMicros - cpuBefore) / answered },
		memory: sampler.figures(options.floor),
	};
}

/** Memory over `count` live updates of the same modules: each gets a new vm_id, so Envoy builds new VMs and should free the old. */
async function measureUpdates(box: Sandbox, plugins: ReadonlyArray<PluginSpec | string>, count: number, options: RunOptions): Promise<NonNullable<MeasureResult['updates']>> {
	options.progress(`meshbox measure: ${count} live updates of the same module(s)`);
	const url = new URL(options.path, box.url).href;
	const samples: Array<[number, number]> = [];
	for (let update = 1 - unsampledUpdates; update <= count; update++) {
		await box.update({ plugins: plugins.map(plugin => ({ ...asSpec(plugin), vmId: `meshbox-measure-update-${update + unsampledUpdates}` })) });
		await load(url, requestsPerUpdate, options.concurrency, options.headers, options.signal);
		if (update >= 0) {
			samples.push([update, (await box.envoyUsage()).memoryBytes]);
		}
	}

	return { count, memory: memoryFigures(samples, options.floor) };
}

type LoadResult = { readonly errors: number; readonly timeouts: number; readonly non2xx: number };

async function load(url: string, amount: number, connections: number, headers: Record<string, string>, signal: AbortSignal | undefined, onResponse?: (milliseconds: number) => void): Promise<LoadResult> {
	signal?.throwIfAborted();
	// Loaded when a measurement runs: autocannon compiles hdr-histogram's WebAssembly as it loads, which every
	// `import 'meshbox'` would pay for otherwise.
	const { default: autocannon } = await import('autocannon');
	const instance = autocannon({ url, amount, connections: Math.min(connections, amount), headers, timeout: 10 });
	const stop = () => {
		instance.stop();
	};
	signal?.addEventListener('abort', stop, { once: true });
	if (onResponse) {
		instance.on('response', (_client: unknown, _status: number, _bytes: number, milliseconds: number) => {
			onResponse(milliseconds);
		});
	}

	const result = await instance;
	signal?.removeEventListener('abort', stop);
	signal?.throwIfAborted();
	return { errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx };
}

/** The curve's percentiles: every whole percent, then the tail. */
const curvePercentiles = [...Array.from({ length: 100 }, (_, index) => index), 99.5, 99.9, 100];

export function latencyFigures(latencies: Float64Array): LatencyFigures {
	const sorted = Float64Array.from(latencies).sort();
	const at = (percentile: number) => percentileOf(sorted, percentile);
	return {
		p50Ms: at(50),
		p90Ms: at(90),
		p99Ms: at(99),
		maxMs: sorted.at(-1) ?? 0,
		curve: curvePercentiles.map(percentile => [percentile, at(percentile)] as const),
	};
}

/** Nearest-rank percentile of ascending `sorted` (0: the minimum, 100: the maximum). */
function percentileOf(sorted: Float64Array, percentile: number): number {
	if (sorted.length === 0) {
		return 0;
	}

	const rank = Math.max(1, Math.ceil((percentile / 100) * sorted.length));
	return sorted[Math.min(sorted.length, rank) - 1]!;
}

type Measured = Omit<MeasureResult, 'latency' | 'throughput' | 'cpu' | 'memory' | 'updates'> & { readonly updates: MeasureResult['updates'] };

/** The top-level figures: the plugins' chain beside the baseline. */
function summarize(measured: Measured): MeasureResult {
	const { updates, ...rest } = measured;
	const baseline = measured.chains.find(chain => chain.name === 'baseline')!;
	const plugins = measured.chains.find(chain => chain.name === 'plugins')!;
	return {
		...rest,
		latency: {
			...plugins.latency,
			addedP50Ms: plugins.latency.p50Ms - baseline.latency.p50Ms,
			addedP90Ms: plugins.latency.p90Ms - baseline.latency.p90Ms,
			addedP99Ms: plugins.latency.p99Ms - baseline.latency.p99Ms,
		},
		throughput: { requestsPerSecond: plugins.throughput.requestsPerSecond, baselineRequestsPerSecond: baseline.throughput.requestsPerSecond },
		cpu: { usPerRequest: plugins.cpu.usPerRequest, baselineUsPerRequest: baseline.cpu.usPerRequest, addedUsPerRequest: plugins.cpu.usPerRequest - baseline.cpu.usPerRequest },
		memory: plugins.memory,
		...(updates ? { updates } : {}),
	};
}

function asSpec(plugin: PluginSpec | string): PluginSpec {
	return typeof plugin === 'string' ? { wasm: plugin } : plugin;
}

/** A plugin's name as the sandbox gives it (src/config/resolve.ts): its `name`, else the file's base name. */
function pluginName(plugin: PluginSpec | string): string {
	const spec = asSpec(plugin);
	return spec.name ?? path.basename(spec.wasm).replace(/\.wasm$/, '');
}

/** The chain with the first plugin's module replaced by `wasm` (same name, config and place). */
function replaceFirstModule(plugins: ReadonlyArray<PluginSpec | string>, wasm: string): PluginSpec[] {
	return plugins.map((plugin, index) => {
		const spec = asSpec(plugin);
		return index === 0 ? { ...spec, name: pluginName(plugin), wasm } : spec;
	});
}

function checkCount(name: string, value: number, minimum: number): void {
	if (!Number.isInteger(value) || value < minimum) {
		throw new MeshboxError('USAGE', `measure: ${name} ${value}: expected a whole number of at least ${minimum}`, `e.g. ${name} ${Math.max(minimum, name === 'requests' ? defaultRequests : 1)}`);
	}
}
