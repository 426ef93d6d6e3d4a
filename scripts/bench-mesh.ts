/**
 * The mesh's start (issue #21) against one bare Envoy start, side by side (rounds alternate): the default ingress
 * gateway with the seed plugin (a WasmPlugin selecting it) + 2 workloads' sidecars, resolved once from its spec
 * (src/istio/mesh), from startMesh() to resolved (every proxy ready, the endpoints push accepted), on dedicated
 * Envoys and on warm ones, vs the bare Envoy with the seed plugin (./bench-ratios.ts `bareEnvoy`), spawn → /ready.
 * Run alone: `node --import tsx scripts/bench-mesh.ts [--starts N]`; `npm run bench` includes it.
 */
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { startMesh } from '../src/compose/mesh.ts';
import { meshModelFromSpec } from '../src/compose/model.ts';
import type { MeshModel } from '../src/istio/mesh/model.ts';
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

/** The seed's WasmPlugin on the ingress gateway, productpage and reviews behind it. */
async function seedMesh(): Promise<MeshModel> {
	const seedPlugin = {
		apiVersion: 'extensions.istio.io/v1alpha1',
		kind: 'WasmPlugin',
		metadata: { name: 'seed', namespace: 'istio-system' },
		spec: { selector: { matchLabels: { istio: 'ingressgateway' } }, url: `file://${path.resolve(seedWasm)}` },
	};
	const gateway = {
		apiVersion: 'networking.istio.io/v1',
		kind: 'Gateway',
		metadata: { name: 'bookinfo', namespace: 'default' },
		spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['bookinfo.example.com'] }] },
	};
	const route = {
		apiVersion: 'networking.istio.io/v1',
		kind: 'VirtualService',
		metadata: { name: 'bookinfo', namespace: 'default' },
		spec: { hosts: ['bookinfo.example.com'], gateways: ['bookinfo'], http: [{ route: [{ destination: { host: 'productpage', port: { number: 9080 } } }] }] },
	};
	const mesh = { workloads: [{ name: 'productpage', port: 9080, service: 'productpage' }, { name: 'reviews', port: 9080, service: 'reviews' }] };
	return meshModelFromSpec({ mesh, istio: { resources: [gateway, route, seedPlugin] } }, { baseDir: process.cwd() });
}

async function meshStart(model: MeshModel, warm: boolean, check = false): Promise<number> {
	const started = performance.now();
	const mesh = await startMesh(model, { warm });
	const elapsed = performance.now() - started;
	try {
		// Once, untimed: the seed plugin answers at the gateway (what "ready" means here).
		const body = check ? await fetch(`${mesh.url!}/hello`, { headers: { host: 'bookinfo.example.com' } }).then(async response => response.text()) : undefined;
		if (body !== undefined && !body.includes('Hello from Wasm')) {
			throw new Error(`bench-mesh: the gateway answered ${JSON.stringify(body)}, not the seed plugin`);
		}
	} finally {
		await mesh.stop();
	}

	return elapsed;
}

export async function meshRows(starts: number): Promise<Row[]> {
	const model = await seedMesh();
	if (model.proxies[0]?.sandbox.plugins.length !== 1) {
		throw new Error('bench-mesh: the seed WasmPlugin did not select the gateway');
	}

	// One of each first: this process's first start also loads code (imports, the xDS schemas), and warms the pool.
	await meshStart(model, false, true);
	await meshStart(model, true, true);
	await bareStart();
	const bare: number[] = [];
	const fresh: number[] = [];
	const warm: number[] = [];
	for (let round = 0; round < starts; round++) {
		bare.push(await bareStart());
		fresh.push(await meshStart(model, false));
		warm.push(await meshStart(model, true));
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
