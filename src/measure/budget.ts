/**
 * Budgets in CI: `assertBudget(result, { addedP99Ms: 2, cpuUsPerRequest: 50, growthBytesPerRequest: 256 })`
 * throws a MeshboxError (BUDGET_EXCEEDED) naming every figure over its budget, measured beside budget.
 */
import { MeshboxError } from '../errors.ts';
import type { MeasureResult } from './result.ts';

export type MeasureBudget = {
	/** Latency the plugins add at the median, ms. */
	readonly addedP50Ms?: number;
	/** Latency the plugins add at p99, ms. */
	readonly addedP99Ms?: number;
	/** Envoy CPU time per request with the plugins, µs (the whole Envoy, not only the plugins). */
	readonly cpuUsPerRequest?: number;
	/** Envoy CPU time the plugins add per request, µs. */
	readonly addedCpuUsPerRequest?: number;
	/** Memory kept per request (the fitted growth), bytes. */
	readonly growthBytesPerRequest?: number;
	/** Lowest acceptable throughput with the plugins, requests/s. */
	readonly minRequestsPerSecond?: number;
	/** `false`: fail when a leak is suspected. */
	readonly leakSuspected?: false;
};

type Check = { readonly name: string; readonly measured: number | boolean; readonly budget: number | boolean; readonly over: boolean; readonly unit: string };

export function budgetChecks(result: MeasureResult, budget: MeasureBudget): Check[] {
	const checks: Check[] = [];
	const atMost = (name: string, measured: number, limit: number | undefined, unit: string) => {
		if (limit !== undefined) {
			checks.push({ name, measured, budget: limit, over: measured > limit, unit });
		}
	};

	atMost('addedP50Ms', result.latency.addedP50Ms, budget.addedP50Ms, 'ms');
	atMost('addedP99Ms', result.latency.addedP99Ms, budget.addedP99Ms, 'ms');
	atMost('cpuUsPerRequest', result.cpu.usPerRequest, budget.cpuUsPerRequest, 'µs');
	atMost('addedCpuUsPerRequest', result.cpu.addedUsPerRequest, budget.addedCpuUsPerRequest, 'µs');
	atMost('growthBytesPerRequest', result.memory.growthBytesPerRequest, budget.growthBytesPerRequest, 'B');
	if (budget.minRequestsPerSecond !== undefined) {
		const measured = result.throughput.requestsPerSecond;
		checks.push({ name: 'minRequestsPerSecond', measured, budget: budget.minRequestsPerSecond, over: measured < budget.minRequestsPerSecond, unit: 'req/s' });
	}

	if (budget.leakSuspected === false) {
		checks.push({ name: 'leakSuspected', measured: result.memory.leakSuspected, budget: false, over: result.memory.leakSuspected, unit: '' });
	}

	return checks;
}

/** Throws when any figure is over its budget; the message lists each such figure as `measured X (budget Y)`. */
export function assertBudget(result: MeasureResult, budget: MeasureBudget): void {
	const over = budgetChecks(result, budget).filter(check => check.over);
	if (over.length === 0) {
		return;
	}

	const lines = over.map(check => `${check.name}: measured ${show(check.measured, check.unit)} (budget ${show(check.budget, check.unit)})`);
	if (over.some(check => check.name === 'growthBytesPerRequest')) {
		lines.push(`  growth ${show(result.memory.growthBytesPerRequest, 'B')} ± ${show(result.memory.growthUncertaintyBytesPerRequest, 'B')} per request (95%)`);
	}

	throw new MeshboxError('BUDGET_EXCEEDED', `the plugins are over budget: ${lines.join('; ')}`,
		'see the figures beside the baseline in measure-report.html, or raise the budget if the cost is expected', lines);
}

function show(value: number | boolean, unit: string): string {
	if (typeof value === 'boolean') {
		return String(value);
	}

	const text = Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(3).replace(/\.?0+$/, '');
	return unit ? `${text} ${unit}` : text;
}
