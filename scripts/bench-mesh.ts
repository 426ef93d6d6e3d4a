/**
 * The mesh's start (issue #21) against one bare Envoy start, side by side (rounds alternate): a gateway with the
 * seed plugin + 2 sidecars (the hand-made bookinfo model of test/mesh/mesh-models.ts, as src/istio/mesh makes
 * them) from startMesh() to resolved (every proxy ready, the endpoints push accepted), on dedicated Envoys and on
 * warm ones, vs the bare Envoy with the seed plugin (./bench-ratios.ts `bareEnvoy`), spawn → /ready.
 * Run alone: `node --import tsx scripts/bench-mesh.ts [--starts N]`; `npm run bench` includes it.
 */
import { performance } from 'node:perf_hooks';
import { startMesh } from '../src/compose/mesh.ts';
import { bookinfoMesh } from '../test/mesh/mesh-models.ts';
import { bareEnvoy } from './bench-ratios.ts';

type Row = { what: string; value: string };
const seedWasm = 'fixtures/plugins/seed-rust/seed-rust.wasm';

function median(times: number[]): number {
	const sorted = [...times].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function bareStart(): Promise<number> {
	const envoy = await bareEnvoy(seedWasm);
	await envoy.stop();
	return envoy.readyMs;
}

async function meshStart(warm: boolean): Promise<number> {
	const model = await bookinfoMesh({ gateway: ['seed-rust'] });
	const started = performance.now();
	const mesh = await startMesh(model, { warm });
	const elapsed = performance.now() - started;
	await mesh.stop();
	return elapsed;
}

export async function meshRows(starts: number): Promise<Row[]> {
	// One of each first: this process's first start also loads code (imports, the xDS schemas), and warms the pool.
	await meshStart(false);
	await meshStart(true);
	await bareStart();
	const bare: number[] = [];
	const fresh: number[] = [];
	const warm: number[] = [];
	for (let round = 0; round < starts; round++) {
		bare.push(await bareStart());
		fresh.push(await meshStart(false));
		warm.push(await meshStart(true));
	}

	const ratio = (times: number[]) => `×${(median(times) / median(bare)).toFixed(2)}`;
	return [
		{ what: `[local] mesh: bare Envoy, static bootstrap, seed plugin, spawn → ready (${starts} starts)`, value: `median ${median(bare).toFixed(0)} ms` },
		{ what: `[local] mesh: gateway (seed plugin) + 2 sidecars, dedicated Envoys → endpoints pushed (${starts})`, value: `median ${median(fresh).toFixed(0)} ms (${ratio(fresh)} bare)` },
		{ what: `[local] mesh: gateway (seed plugin) + 2 sidecars, warm Envoys → endpoints pushed (${starts})`, value: `median ${median(warm).toFixed(0)} ms (${ratio(warm)} bare)` },
	];
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const index = process.argv.indexOf('--starts');
	process.env.MESHBOX_START_SLOTS ??= '64';
	const rows = await meshRows(index > 0 ? Math.max(1, Number(process.argv[index + 1])) : 7);
	for (const row of rows) {
		process.stdout.write(`${row.what}  ${row.value}\n`);
	}
}
