/**
 * Samples Envoy's memory while load runs: every `every` responses (counted by the load generator), one read of
 * the Envoy's usage (/proc/<pid>/status locally, the container's statistics on docker). A read still under way
 * is not doubled (docker's statistics take a while); its x is the middle of the response counts it spanned.
 */
import type { EnvoyUsage } from '../runtime/envoy-usage.ts';
import { fitGrowth } from './leak.ts';
import type { MemoryFigures } from './result.ts';

export class MemorySampler {
	readonly samples: Array<[number, number]> = [];
	private pending: Promise<void> | undefined;
	private nextAt: number;
	private failure: unknown;

	/** `current`: the response count now (read again when a sample completes). */
	constructor(private readonly read: () => Promise<EnvoyUsage>, private readonly every: number, private readonly current: () => number) {
		this.nextAt = every;
	}

	/** One sample now, at `x` (before the load starts, and once it ended). */
	async sampleAt(x: number): Promise<void> {
		await this.pending;
		const usage = await this.read();
		this.samples.push([x, usage.memoryBytes]);
	}

	/** Called with the count of responses so far; starts a read each time the count passes the next multiple of `every`. */
	observe(count: number): void {
		if (count < this.nextAt || this.pending) {
			return;
		}

		this.nextAt = (Math.floor(count / this.every) + 1) * this.every;
		this.pending = this.read().then(usage => {
			// The usage is of some moment during the read: its x is the middle of the counts it spans.
			this.samples.push([Math.round((count + this.current()) / 2), usage.memoryBytes]);
		}, (error: unknown) => {
			this.failure ??= error;
		}).finally(() => {
			this.pending = undefined;
		});
	}

	/** Waits for a read under way; throws the first failed read's error. */
	async settle(): Promise<void> {
		await this.pending;
		if (this.failure) {
			throw this.failure;
		}
	}

	figures(floor: number): MemoryFigures {
		return memoryFigures(this.samples, floor);
	}
}

export function memoryFigures(samples: ReadonlyArray<readonly [number, number]>, floor: number): MemoryFigures {
	const sorted = [...samples].sort((a, b) => a[0] - b[0]);
	const growth = fitGrowth(sorted, floor);
	return {
		samples: sorted,
		growthBytesPerRequest: growth.slope,
		growthUncertaintyBytesPerRequest: growth.uncertainty,
		leakSuspected: growth.leakSuspected,
		rssStartBytes: sorted[0]?.[1] ?? 0,
		rssEndBytes: sorted.at(-1)?.[1] ?? 0,
	};
}
