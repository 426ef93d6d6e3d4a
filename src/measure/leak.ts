/**
 * The growth rule: how many bytes Envoy keeps per request (or per live update), with an honest uncertainty,
 * and when that growth counts as a leak.
 *
 * Envoy's memory is sampled every few hundred requests after a warm-up (./memory.ts). The growth is the slope
 * of the least-squares line through the samples; its uncertainty is the slope's standard error times Student's
 * t for 95% (two-sided, n − 2 degrees of freedom). A leak is suspected when even the low end of that interval
 * is above a floor (512 B/request by default): allocator arenas, Envoy's stats and connection buffers move RSS
 * in steps of pages, which a short run can fit as a small slope, but never as a steady half-kilobyte per request.
 * RSS residuals are correlated (steps, not independent noise), so the interval is narrower than the truth: the
 * floor is what keeps a steady plugin from being flagged, the interval is what keeps a noisy run from being.
 */

/** Bytes per request below which growth is never called a leak. */
export const defaultLeakFloorBytesPerRequest = 512;

export type Growth = {
	/** Slope, bytes per x unit (request or update). */
	readonly slope: number;
	/** Half-width of the slope's 95% interval. */
	readonly uncertainty: number;
	readonly leakSuspected: boolean;
};

/**
 * Fits `y = a + slope·x` through `samples` and applies the rule above. Fewer than 3 samples: the slope (0 for
 * fewer than 2), an infinite uncertainty (JSON: null) and no verdict.
 */
export function fitGrowth(samples: ReadonlyArray<readonly [number, number]>, floor = defaultLeakFloorBytesPerRequest): Growth {
	const n = samples.length;
	if (n < 2) {
		return { slope: 0, uncertainty: Number.POSITIVE_INFINITY, leakSuspected: false };
	}

	const meanX = samples.reduce((sum, [x]) => sum + x, 0) / n;
	const meanY = samples.reduce((sum, [, y]) => sum + y, 0) / n;
	let sxx = 0;
	let sxy = 0;
	for (const [x, y] of samples) {
		sxx += (x - meanX) ** 2;
		sxy += (x - meanX) * (y - meanY);
	}

	if (sxx === 0) {
		return { slope: 0, uncertainty: Number.POSITIVE_INFINITY, leakSuspected: false };
	}

	const slope = sxy / sxx;
	if (n < 3) {
		return { slope, uncertainty: Number.POSITIVE_INFINITY, leakSuspected: false };
	}

	const intercept = meanY - slope * meanX;
	const residuals = samples.reduce((sum, [x, y]) => sum + (y - intercept - slope * x) ** 2, 0);
	const standardError = Math.sqrt(residuals / (n - 2) / sxx);
	const uncertainty = studentT95(n - 2) * standardError;
	return { slope, uncertainty, leakSuspected: slope - uncertainty > floor };
}

/** Two-sided 95% quantile of Student's t with `df` degrees of freedom (table to 30, then the normal's 1.96 approached). */
export function studentT95(df: number): number {
	const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
		2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042];
	if (df < 1) {
		return Number.POSITIVE_INFINITY;
	}

	if (df <= table.length) {
		return table[df - 1]!;
	}

	// 40: 2.021, 60: 2.000, 120: 1.980, ∞: 1.960. 1.96 + 2.4/df is within 0.005 of these.
	return 1.96 + 2.4 / df;
}
