/**
 * The table `meshbox measure` prints: one row per chain, each figure beside the baseline's, then the machine
 * and how the load was driven (what the figures depend on).
 */
import type { ChainRun, MeasureResult } from './result.ts';

export function formatMeasureTable(result: MeasureResult): string[] {
	const header = ['chain', 'requests', 'errors', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'req/s', 'CPU µs/req', 'RSS end MiB', 'growth B/req (95%)', 'leak?'];
	const rows = result.chains.map(chain => row(chain));
	const baseline = result.chains.find(chain => chain.name === 'baseline');
	const delta = (chain: ChainRun): string[] => {
		if (!baseline || chain === baseline) {
			return [];
		}

		return ['  vs baseline', '', '', signed(chain.latency.p50Ms - baseline.latency.p50Ms), signed(chain.latency.p90Ms - baseline.latency.p90Ms),
			signed(chain.latency.p99Ms - baseline.latency.p99Ms), signed(chain.latency.maxMs - baseline.latency.maxMs),
			percent(chain.throughput.requestsPerSecond, baseline.throughput.requestsPerSecond), signed(chain.cpu.usPerRequest - baseline.cpu.usPerRequest, 1),
			signed((chain.memory.rssEndBytes - baseline.memory.rssEndBytes) / mib, 1), '', ''];
	};
	const table = [header, ...result.chains.flatMap((chain, index) => {
		const extra = delta(chain);
		return extra.length > 0 ? [rows[index]!, extra] : [rows[index]!];
	})];
	const widths = header.map((_, column) => Math.max(...table.map(cells => (cells[column] ?? '').length)));
	const lines = table.map(cells => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
	lines.push('');
	for (const chain of result.chains.filter(chain => chain.plugins.length > 0)) {
		lines.push(`${chain.name}: ${chain.plugins.join(' → ')}`);
	}

	if (result.updates) {
		const { memory, count } = result.updates;
		lines.push(`live updates: ${count}, memory ${(memory.rssStartBytes / mib).toFixed(1)} → ${(memory.rssEndBytes / mib).toFixed(1)} MiB, `
			+ `growth ${kib(memory.growthBytesPerRequest)} ± ${kib(memory.growthUncertaintyBytesPerRequest)} KiB per update${memory.leakSuspected ? ' — LEAK SUSPECTED' : ''}`);
	}

	lines.push(`Envoy ${result.envoyVersion} (${result.runtime}), ${result.envoyWorkers} worker thread${result.envoyWorkers === 1 ? '' : 's'}; load: ${result.loadGenerator}, `
		+ `${result.concurrency} connection${result.concurrency === 1 ? '' : 's'}; machine: ${result.machine.cores} cores, load average ${result.machine.loadAverage.map(value => value.toFixed(2)).join(' ')}`);
	if (result.memory.leakSuspected) {
		lines.push(`LEAK SUSPECTED: Envoy keeps ${result.memory.growthBytesPerRequest.toFixed(0)} ± ${result.memory.growthUncertaintyBytesPerRequest.toFixed(0)} bytes per request with the plugins`);
	}

	return lines;
}

const mib = 1024 * 1024;

function row(chain: ChainRun): string[] {
	const { latency, memory } = chain;
	return [chain.name, String(chain.requests), String(chain.errors), ms(latency.p50Ms), ms(latency.p90Ms), ms(latency.p99Ms), ms(latency.maxMs),
		chain.throughput.requestsPerSecond.toFixed(0), chain.cpu.usPerRequest.toFixed(1), (memory.rssEndBytes / mib).toFixed(1),
		`${memory.growthBytesPerRequest.toFixed(0)} ± ${memory.growthUncertaintyBytesPerRequest.toFixed(0)}`, memory.leakSuspected ? 'YES' : 'no'];
}

function ms(value: number): string {
	return value.toFixed(3);
}

function signed(value: number, digits = 3): string {
	return `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;
}

function percent(value: number, baseline: number): string {
	return baseline > 0 ? `${value >= baseline ? '+' : ''}${((value / baseline - 1) * 100).toFixed(1)}%` : '';
}

function kib(bytes: number): string {
	return (bytes / 1024).toFixed(1);
}
