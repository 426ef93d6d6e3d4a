/**
 * `npm run bench [-- --requests N] [--runtimes local,docker] [--starts N]`: what a scenario author waits for,
 * measured on this machine and printed as a table (never asserted in tests):
 *   - start-up against its bare counterpart, side by side in the same run (rounds alternate): the same Envoy
 *     binary started by hand from the equivalent static bootstrap with the same plugin (seed, Rust), spawn →
 *     admin /ready polled every 5 ms, vs `startSandbox()` → ready (the control plane, the upstream, Envoy driven
 *     over xDS); medians, minimums and the ratio;
 *   - sandbox start → ready, and stop, per runtime;
 *   - request latency through Envoy (sequential, keep-alive): no plugin vs the seed plugin (a local reply)
 *     vs a plugin that adds headers on the way to the app (the Rust headers fixture);
 *   - a burst of concurrent requests (throughput);
 *   - live update latency: the plugin's .wasm file rewritten → the new module answering, through
 *     `swapPlugin()` (xDS), for the seed (Rust) and a Go plugin.
 *   - the xDS gRPC server reassembling a 4 MiB request message (its limit) sent in 1 KiB writes;
 *   - meshbox against its bare counterparts (./bench-ratios.ts): `meshbox up` vs bare Envoy, the exit after
 *     stop(), docker start vs a bare `docker run`, throughput with a logging plugin, the log pipeline at 1M lines.
 *   - `meshbox measure`'s load generator against Debian's wrk on the same no-plugin sandbox (./bench-measure.ts).
 *   - a mesh (gateway with the seed plugin + 2 sidecars) starting, fresh and warm, vs one bare Envoy (./bench-mesh.ts).
 * Bounded: a fixed number of requests per case, all on loopback.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startSandbox, type Sandbox, type SandboxOptions } from '../src/index.ts';
import type { RuntimeName } from '../src/runtime/types.ts';
import { bidiMethod, GrpcServer, maxRequestBytes } from '../src/xds/grpc-server.ts';
import { bareEnvoy, ratioRows } from './bench-ratios.ts';
import { loadGeneratorRows } from './bench-measure.ts';
import { meshRows } from './bench-mesh.ts';

const { values } = parseArgs({ options: {
	requests: { type: 'string', default: '500' },
	runtimes: { type: 'string', default: 'local' },
	starts: { type: 'string', default: '7' },
} });
const requests = Math.max(10, Number(values.requests));
const runtimes = values.runtimes.split(',').map(name => name.trim()) as RuntimeName[];
const starts = Math.max(1, Number(values.starts));
// Start-up is measured, not the wait in line behind other meshbox processes' Envoy starts (src/runtime/start-slots.ts).
process.env.MESHBOX_START_SLOTS ??= '64';
const seedWasm = 'fixtures/plugins/seed-rust/seed-rust.wasm';
const loadAtStart = os.loadavg().map(load => load.toFixed(1)).join(' ');

type Row = { what: string; value: string };
const rows: Row[] = [];

function percentile(sorted: number[], p: number): number {
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function timeStartStop(runtime: RuntimeName, options: SandboxOptions): Promise<Sandbox> {
	const started = performance.now();
	const box = await startSandbox({ ...options, runtime });
	rows.push({ what: `[${runtime}] start → ready (${options.plugins?.length ?? 0} plugin(s)${runtime === 'local' ? ', warm Envoy' : ''})`, value: `${(performance.now() - started).toFixed(0)} ms` });
	return box;
}

async function latency(runtime: RuntimeName, label: string, box: Sandbox): Promise<void> {
	for (let index = 0; index < 20; index++) {
		await box.request('/warm-up');
	}

	const times: number[] = [];
	for (let index = 0; index < requests; index++) {
		const started = performance.now();
		const response = await box.request(`/bench/${index}`, { headers: { host: 'bench.example' } });
		times.push(performance.now() - started);
		if (response.status !== 200) {
			throw new Error(`${label}: unexpected status ${response.status}`);
		}
	}

	times.sort((a, b) => a - b);
	rows.push({ what: `[${runtime}] ${label}: latency p50 / p99 (${requests} sequential)`, value: `${percentile(times, 50).toFixed(2)} / ${percentile(times, 99).toFixed(2)} ms` });

	const burst = requests;
	const started = performance.now();
	await Promise.all(Array.from({ length: burst }, async (_, index) => box.request(`/burst/${index}`)));
	const seconds = (performance.now() - started) / 1000;
	rows.push({ what: `[${runtime}] ${label}: ${burst} concurrent requests`, value: `${(burst / seconds).toFixed(0)} req/s` });
}

/** The bare counterpart of a sandbox with the seed plugin: its static bootstrap, run by hand, spawn → /ready. */
async function bareEnvoyStart(): Promise<number> {
	const envoy = await bareEnvoy(seedWasm);
	await envoy.stop();
	return envoy.readyMs;
}

async function sandboxStart(): Promise<number> {
	const started = performance.now();
	// A dedicated Envoy, as the bare one is: warm starts have rows of their own (./bench-ratios.ts).
	const box = await startSandbox({ runtime: 'local', fresh: true, plugins: [{ name: 'seed', wasm: seedWasm }] });
	const elapsed = performance.now() - started;
	await box.stop();
	return elapsed;
}

if (runtimes.includes('local')) {
	// One of each first, apart: this process's first sandbox also loads code (imports, the xDS schemas).
	const firstSandbox = await sandboxStart();
	await bareEnvoyStart();
	const bare: number[] = [];
	const sandbox: number[] = [];
	for (let round = 0; round < starts; round++) {
		bare.push(await bareEnvoyStart());
		sandbox.push(await sandboxStart());
	}

	bare.sort((a, b) => a - b);
	sandbox.sort((a, b) => a - b);
	const format = (times: number[]) => `median ${percentile(times, 50).toFixed(0)} / min ${times[0]!.toFixed(0)} ms`;
	rows.push(
		{ what: `[local] start → ready, bare Envoy, static bootstrap, seed plugin (${starts} starts)`, value: format(bare) },
		{ what: `[local] start → ready, startSandbox({ fresh: true }), xDS, seed plugin (${starts} starts)`, value: format(sandbox) },
		{ what: '[local] start → ready, startSandbox({ fresh: true }) / bare Envoy', value: `median ×${(percentile(sandbox, 50) / percentile(bare, 50)).toFixed(2)} / min ×${(sandbox[0]! / bare[0]!).toFixed(2)}` },
		{ what: '[local] start → ready, the process\'s first startSandbox() (loads code)', value: `${firstSandbox.toFixed(0)} ms` },
	);
}

for (const runtime of runtimes) {
	const cases: Array<[string, SandboxOptions]> = [
		['no plugin (to the app)', {}],
		['seed plugin (local reply)', { plugins: [{ name: 'seed', wasm: seedWasm }] }],
		['headers plugin (to the app)', { plugins: [{ name: 'headers', wasm: 'fixtures/plugins/rust-headers/rust-headers.wasm' }] }],
	];
	for (const [label, options] of cases) {
		const box = await timeStartStop(runtime, options);
		try {
			await latency(runtime, label, box);
		} finally {
			const stopping = performance.now();
			await box.stop();
			rows.push({ what: `[${runtime}] stop (${label})`, value: `${(performance.now() - stopping).toFixed(0)} ms` });
		}
	}
}

/**
 * The module file is rewritten (as a build would), pushed with swapPlugin(), and requests poll until the new
 * module answers; alternating between two modules, so every round is a real change.
 */
async function updateLatency(runtime: RuntimeName, label: string, modules: readonly [string, string], isSecond: (body: string, headers: Record<string, unknown>) => boolean): Promise<void> {
	const directory = await mkdtemp(path.join(os.tmpdir(), 'meshbox-bench-'));
	const file = path.join(directory, 'plugin.wasm');
	await copyFile(modules[0], file);
	const box = await startSandbox({ runtime, plugins: [{ name: 'live', wasm: file }] });
	const times: number[] = [];
	try {
		for (let round = 1; round <= 6; round++) {
			const wantSecond = round % 2 === 1;
			const started = performance.now();
			await copyFile(modules[wantSecond ? 1 : 0], file);
			await box.swapPlugin('live', file);
			for (;;) {
				const response = await box.request('/live', { headers: { host: 'bench.example' } });
				if (isSecond(response.body, response.headers) === wantSecond) {
					break;
				}
			}

			times.push(performance.now() - started);
		}
	} finally {
		await box.stop();
		await rm(directory, { recursive: true, force: true });
	}

	times.sort((a, b) => a - b);
	rows.push({ what: `[${runtime}] live update, ${label}: file written → new module answering (6 swaps)`, value: `median ${percentile(times, 50).toFixed(0)} / max ${times.at(-1)!.toFixed(0)} ms` });
}

for (const runtime of runtimes) {
	const seed = seedWasm;
	await updateLatency(runtime, 'seed (Rust) ↔ headers (Rust)', [seed, 'fixtures/plugins/rust-headers/rust-headers.wasm'], body => body !== 'Hello from Wasm!\n');
	await updateLatency(runtime, 'seed (Rust) ↔ headers (Go, 3 MB)', [seed, 'fixtures/plugins/go-headers/go-headers.wasm'], body => body !== 'Hello from Wasm!\n');
}

/** A request message of the server's limit, written in 1 KiB pieces, until the server decoded it (ms). */
async function grpcReassembly(): Promise<number> {
	let received: (() => void) | undefined;
	const server = await GrpcServer.listen({ host: '127.0.0.1', port: 0, methods: { '/bench.B/M': bidiMethod<number, Uint8Array>({
		decode: bytes => bytes.length,
		encode: bytes => bytes,
		handle(call) {
			call.on('data', () => received?.());
			call.on('end', () => call.end());
		},
	}) } });
	const session = http2.connect(`http://127.0.0.1:${server.port}`);
	try {
		const stream = session.request({ ':method': 'POST', ':path': '/bench.B/M', 'content-type': 'application/grpc' });
		const message = Buffer.alloc(5 + maxRequestBytes);
		message.writeUInt32BE(maxRequestBytes, 1);
		const decoded = new Promise<void>(resolve => {
			received = resolve;
		});
		const started = performance.now();
		for (let offset = 0; offset < message.length; offset += 1024) {
			if (!stream.write(message.subarray(offset, offset + 1024))) {
				await new Promise(resolve => stream.once('drain', resolve));
			}
		}

		await decoded;
		const elapsed = performance.now() - started;
		stream.end();
		return elapsed;
	} finally {
		session.close();
		await server.close(100);
	}
}

const reassembly: number[] = [];
for (let round = 0; round < 5; round++) {
	reassembly.push(await grpcReassembly());
}

reassembly.sort((a, b) => a - b);
rows.push({ what: 'xDS gRPC server: a 4 MiB request in 1 KiB writes → decoded (median of 5)', value: `${percentile(reassembly, 50).toFixed(0)} ms` });

rows.push(...await ratioRows(runtimes, starts));
if (runtimes.includes('local')) {
	rows.push(...await meshRows(starts));
}

rows.push(...await loadGeneratorRows());

const width = Math.max(...rows.map(row => row.what.length));
process.stdout.write(`meshbox bench (${new Date().toISOString()}, node ${process.version}, ${os.availableParallelism()} CPUs, load average at start ${loadAtStart})\n`);
for (const row of rows) {
	process.stdout.write(`${row.what.padEnd(width)}  ${row.value}\n`);
}
