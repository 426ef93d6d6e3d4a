/**
 * `meshbox measure`'s load generator (autocannon, in-process: src/measure/measure.ts) against Debian's wrk on
 * the same sandbox: the no-plugin baseline, a dedicated Envoy with measure()'s settings (1 worker, warning
 * logs). The bar: autocannon reaches at least 70% of wrk's throughput there, so that it is not what
 * limits a measurement. Rounds alternate between the generators (the machine's load drifts); medians.
 * Run by `npm run bench`, or alone: node --import tsx scripts/bench-measure.ts [--seconds S] [--rounds R].
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { execa } from 'execa';
import { startSandbox } from '../src/index.ts';

type Row = { what: string; value: string };

const wrkPath = process.env.MESHBOX_WRK ?? '/usr/bin/wrk';

async function autocannonRate(url: string, connections: number, seconds: number, perResponse: boolean): Promise<number> {
	const instance = autocannon({ url, connections, duration: seconds });
	let count = 0;
	if (perResponse) {
		// What measure() does: every response's latency kept, and a counter for the memory sampler.
		instance.on('response', () => {
			count += 1;
		});
	}

	const result = await instance;
	return result.requests.total / result.duration;
}

async function wrkRate(url: string, connections: number, threads: number, seconds: number): Promise<number> {
	const { stdout } = await execa(wrkPath, [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, url]);
	const match = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
	if (!match) {
		throw new Error(`wrk printed no Requests/sec:\n${stdout}`);
	}

	return Number(match[1]);
}

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)]!;
}

export async function loadGeneratorRows({ seconds = 5, rounds = 3, connectionCounts = [8, 32] } = {}): Promise<Row[]> {
	if (!existsSync(wrkPath)) {
		return [{ what: '[local] measure load generator vs wrk', value: `skipped: no wrk at ${wrkPath} (apt-get install wrk, or MESHBOX_WRK)` }];
	}

	const box = await startSandbox({ fresh: true, envoy: { concurrency: 1, logLevel: 'warning', componentLogLevels: { wasm: 'warning' } } });
	const rows: Row[] = [];
	try {
		const url = `${box.url}/`;
		await autocannonRate(url, 8, 1, false);
		for (const connections of connectionCounts) {
			const rates = { wrk1: [] as number[], wrk2: [] as number[], autocannon: [] as number[], measure: [] as number[] };
			for (let round = 0; round < rounds; round++) {
				rates.wrk1.push(await wrkRate(url, connections, 1, seconds));
				rates.measure.push(await autocannonRate(url, connections, seconds, true));
				rates.wrk2.push(await wrkRate(url, connections, 2, seconds));
				rates.autocannon.push(await autocannonRate(url, connections, seconds, false));
			}

			const best = Math.max(median(rates.wrk1), median(rates.wrk2));
			const show = (values: number[]) => `${median(values).toFixed(0)} req/s (${(median(values) / best * 100).toFixed(0)}% of wrk's best)`;
			rows.push(
				{ what: `[local] no-plugin baseline, ${connections} connections, wrk -t1 (${rounds}×${seconds} s, median)`, value: show(rates.wrk1) },
				{ what: `[local] no-plugin baseline, ${connections} connections, wrk -t2`, value: show(rates.wrk2) },
				{ what: `[local] no-plugin baseline, ${connections} connections, autocannon in-process`, value: show(rates.autocannon) },
				{ what: `[local] no-plugin baseline, ${connections} connections, autocannon as measure() drives it`, value: show(rates.measure) },
			);
		}
	} finally {
		await box.stop();
	}

	return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' } } });
	for (const row of await loadGeneratorRows({ seconds: Number(values.seconds), rounds: Number(values.rounds) })) {
		process.stdout.write(`${row.what}  ${row.value}\n`);
	}
}
