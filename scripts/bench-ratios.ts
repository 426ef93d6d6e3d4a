/**
 * The parts of `npm run bench` that compare meshbox with its bare counterpart in the same run (issue #11):
 *   - `meshbox up` → "listening" against bare Envoy → ready (same binary, same plugin, static bootstrap): a command run
 *     again (Envoy started ahead, src/runtime/local/head-start.ts) and its first run;
 *   - how long a script waits after `stop()` before it can exit (local, docker);
 *   - docker: `startSandbox({ runtime: 'docker' })` against a bare `docker run` of the same image → ready;
 *   - throughput through a sandbox against bare Envoy with the same logging plugin and log level;
 *   - the log pipeline: lines per second at the start and after a million lines (constant cost per line).
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { modelFromSpec } from '../src/compose/model.ts';
import { buildBootstrap } from '../src/envoy/bootstrap.ts';
import { envoyArguments } from '../src/envoy-binary/command-line.ts';
import { provisionEnvoy } from '../src/envoy-binary/provision.ts';
import { renderBootstrapYaml } from '../src/envoy/render.ts';
import { startSandbox } from '../src/index.ts';
import { LogBuffer } from '../src/runtime/log-buffer.ts';
import { RecordingUpstream } from '../src/upstream/recording-server.ts';
import type { RuntimeName } from '../src/runtime/types.ts';

export type Row = { what: string; value: string };

const seedWasm = 'fixtures/plugins/seed-rust/seed-rust.wasm';
const loggingWasm = 'fixtures/plugins/rust-logging/rust-logging.wasm';

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

const ms = (value: number) => `${value.toFixed(0)} ms`;
const ratio = (value: number, base: number) => `×${(value / base).toFixed(2)}`;

/** Polls `url` until it answers 200 (every 5 ms); rejects when `gone` says the process ended. */
async function waitFor200(url: () => string | undefined, gone: () => boolean): Promise<void> {
	for (;;) {
		if (gone()) {
			throw new Error('the process ended before it was ready');
		}

		const target = url();
		if (target) {
			const status = await new Promise<number>(resolve => {
				http.get(target, { agent: false }, response => {
					response.resume();
					resolve(response.statusCode ?? 0);
				}).on('error', () => resolve(0));
			});
			if (status === 200) {
				return;
			}
		}

		await new Promise(resolve => setTimeout(resolve, 5));
	}
}

/** A bare Envoy with the seed's static bootstrap, spawn → /ready; `logFile` gets its output. */
export async function bareEnvoy(wasm: string, logFile?: string, upstream = { address: '127.0.0.1', port: 9 }): Promise<{ url: string; adminUrl: string; readyMs: number; stop(): Promise<void> }> {
	const model = await modelFromSpec({ plugins: [{ name: 'bench', wasm }] }, { baseDir: process.cwd() });
	const envoy = await provisionEnvoy({ version: model.envoy.version, versionOrigin: model.envoy.versionOrigin, onProgress: () => undefined });
	const directory = await mkdtemp(path.join(os.tmpdir(), 'meshbox-bench-'));
	const bootstrapPath = path.join(directory, 'envoy.yaml');
	const adminAddressPath = path.join(directory, 'admin-address');
	const started = performance.now();
	await writeFile(bootstrapPath, renderBootstrapYaml(buildBootstrap(model, {
		listener: { address: '127.0.0.1', port: 0 },
		admin: { address: '127.0.0.1', port: 0 },
		upstream,
		wasmPath: plugin => plugin.wasmPath,
	}), ['meshbox bench: bare Envoy']));
	const output = logFile ? { file: logFile } : 'ignore';
	const child = execa(envoy.path, [...envoyArguments(model.envoy, bootstrapPath), '--admin-address-path', adminAddressPath], {
		stdin: 'ignore', stdout: output, stderr: output, reject: false, cleanup: true,
	});
	let gone = false;
	void child.then(() => {
		gone = true;
	});
	let admin: string | undefined;
	const cleanUp = async () => {
		child.kill('SIGKILL');
		await child;
		await rm(directory, { recursive: true, force: true });
	};

	await waitFor200(() => {
		if (!admin) {
			const address = existsSync(adminAddressPath) ? readFileSync(adminAddressPath, 'utf8').trim() : '';
			admin = address ? `http://${address}` : undefined;
		}

		return admin ? `${admin}/ready` : undefined;
	}, () => gone).catch(async (error: unknown) => {
		await cleanUp();
		throw error;
	});
	const readyMs = performance.now() - started;
	const listeners = await (await fetch(`${admin}/listeners?format=json`)).json() as { listener_statuses: Array<{ local_address: { socket_address: { port_value: number } } }> };
	return {
		url: `http://127.0.0.1:${listeners.listener_statuses[0]!.local_address.socket_address.port_value}`,
		adminUrl: admin!,
		readyMs,
		stop: cleanUp,
	};
}

/**
 * `meshbox up` (the CLI, as `npm run sandbox` runs it) → its "listening on" line. `firstRun`: as a command's first
 * run, with nothing to start Envoy ahead from (src/runtime/local/head-start.ts): a MESHBOX_* variable of its own
 * makes it another command.
 */
async function cliUp(firstRun = false): Promise<number> {
	const started = performance.now();
	const env = firstRun ? { MESHBOX_BENCH_RUN: String(started) } : {};
	const child = execa('node', ['bin/meshbox.js', 'up', '--plugin', seedWasm, '--port', '0'], { stdin: 'ignore', reject: false, buffer: false, env });
	try {
		await new Promise<void>((resolve, reject) => {
			let text = '';
			child.stdout!.on('data', (chunk: Buffer) => {
				text += chunk.toString();
				if (text.includes('listening on')) {
					resolve();
				}
			});
			void child.then(() => reject(new Error(`meshbox up ended before listening: ${text}`)));
		});
		return performance.now() - started;
	} finally {
		child.kill('SIGINT');
		await child;
	}
}

/** A script that starts a sandbox, stops it, and exits: ms between stop() resolving and the process exit. */
async function exitAfterStop(runtime: RuntimeName): Promise<number> {
	const script = [
		'import { startSandbox } from \'meshbox\';',
		`const box = await startSandbox({ runtime: '${runtime}', plugins: ['${seedWasm}'] });`,
		'await box.stop();',
		'const stopped = performance.now();',
		'process.on(\'exit\', () => process.stdout.write(String(performance.now() - stopped)));',
	].join('\n');
	const file = path.join(process.cwd(), `.bench-exit-${process.pid}.ts`);
	await writeFile(file, script);
	try {
		const result = await execa('node', ['--import', 'tsx', '--conditions=meshbox-source', file]);
		return Number(result.stdout);
	} finally {
		await rm(file, { force: true });
	}
}

/** `count` GETs, `concurrency` at a time over keep-alive: requests per second. */
async function throughput(url: string, count: number, concurrency: number): Promise<number> {
	const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
	let next = 0;
	const started = performance.now();
	await Promise.all(Array.from({ length: concurrency }, async () => {
		while (next < count) {
			next++;
			await new Promise<void>((resolve, reject) => {
				http.get(`${url}/bench`, { agent, headers: { host: 'bench.example' } }, response => {
					response.resume();
					response.on('end', resolve);
				}).on('error', reject);
			});
		}
	}));
	agent.destroy();
	return count / ((performance.now() - started) / 1000);
}

/** The log pipeline alone: Envoy-format lines through a LogBuffer, lines/s over the first and the last 100 000 of `total`. */
function logPipeline(total: number): { first: number; last: number } {
	const buffer = new LogBuffer([{ name: 'bench', rootId: '', vmId: '' } as never]);
	const line = (index: number) => `[2026-11-29 12:00:00.${String(index % 1000).padStart(3, '0')}][12][info][wasm] [source/extensions/common/wasm/context.cc:1195] wasm log bench: info message ${index}`;
	const measure = (from: number, to: number) => {
		const started = performance.now();
		for (let index = from; index < to; index++) {
			buffer.pushLine(line(index));
		}

		buffer.end();
		return (to - from) / ((performance.now() - started) / 1000);
	};

	const first = measure(0, 100_000);
	measure(100_000, total - 100_000);
	const last = measure(total - 100_000, total);
	return { first, last };
}

export async function ratioRows(runtimes: readonly RuntimeName[], starts: number): Promise<Row[]> {
	const rows: Row[] = [];
	if (runtimes.includes('local')) {
		const bare: number[] = [];
		const cli: number[] = [];
		const firstRuns: number[] = [];
		await cliUp();
		// Interleaved, so both see the same machine; all `starts` rounds (7 by default): a median of fewer is noise.
		for (let round = 0; round < starts; round++) {
			const envoy = await bareEnvoy(seedWasm);
			bare.push(envoy.readyMs);
			await envoy.stop();
			cli.push(await cliUp());
			firstRuns.push(await cliUp(true));
		}

		rows.push(
			{ what: `[local] \`meshbox up\` → "listening on", seed plugin (median of ${starts})`, value: ms(median(cli)) },
			{ what: '[local] `meshbox up` / bare Envoy → ready', value: `${ratio(median(cli), median(bare))} (bare: ${ms(median(bare))})` },
			{ what: '[local] `meshbox up`, a command\'s first run (no Envoy started ahead) / bare Envoy', value: `${ms(median(firstRuns))} (${ratio(median(firstRuns), median(bare))})` },
		);

		const directory = await mkdtemp(path.join(os.tmpdir(), 'meshbox-bench-'));
		try {
			// The same app behind both: meshbox's recording upstream, in this process as in a local sandbox.
			const app = await RecordingUpstream.start({ host: '127.0.0.1' });
			const envoy = await bareEnvoy(loggingWasm, path.join(directory, 'envoy.log'), { address: app.address.host, port: app.address.port });
			const bareRate = await throughput(envoy.url, 3000, 16);
			await envoy.stop();
			await app.stop();
			const box = await startSandbox({ runtime: 'local', plugins: [{ name: 'bench', wasm: loggingWasm }] });
			const boxRate = await throughput(box.url, 3000, 16);
			await box.stop();
			rows.push(
				{ what: '[local] throughput, logging plugin (8 lines/request), bare Envoy (log to a file)', value: `${bareRate.toFixed(0)} req/s` },
				{ what: '[local] throughput, logging plugin, sandbox (meshbox reads every line)', value: `${boxRate.toFixed(0)} req/s (${ratio(boxRate, bareRate)})` },
			);
		} finally {
			await rm(directory, { recursive: true, force: true });
		}

		// Warm Envoys (src/runtime/local/warm-envoy.ts): 20 scenarios in turn on a 3 MB Go plugin, after the first
		// compile, against one bare Envoy start with that plugin; and a Rust scenario whose module is loaded.
		const goWasm = 'fixtures/plugins/go-headers/go-headers.wasm';
		const bareGo = await bareEnvoy(goWasm);
		const bareGoMs = bareGo.readyMs;
		await bareGo.stop();
		const scenario = async (wasm: string) => {
			const started = performance.now();
			const box = await startSandbox({ fresh: false, plugins: [{ name: 'bench', wasm }] });
			const ready = performance.now() - started;
			try {
				const response = await box.request('/');
				if (response.status !== 200) {
					throw new Error(`a scenario got ${response.status}`);
				}
			} finally {
				await box.stop();
			}

			return ready;
		};

		// 16 scenarios at once in this process (what ava does with a file's tests) before any has compiled the
		// Go plugin here, against one bare start: they share the warm pool (src/runtime/local/warm-envoy.ts).
		const concurrentStarted = performance.now();
		const concurrent = await Promise.allSettled(Array.from({ length: 16 }, async () => scenario(goWasm)));
		const concurrentMs = performance.now() - concurrentStarted;
		const concurrentFailures = concurrent.filter(result => result.status === 'rejected').length;

		await scenario(goWasm);
		const serialStarted = performance.now();
		for (let round = 0; round < 20; round++) {
			await scenario(goWasm);
		}

		const serialMs = performance.now() - serialStarted;
		await scenario(seedWasm);
		const rustTimes: number[] = [];
		for (let round = 0; round < 3; round++) {
			rustTimes.push(await scenario(seedWasm));
		}

		const rustReady = median(rustTimes);
		rows.push(
			{ what: '[local] bare Envoy → ready, Go plugin (3 MB)', value: ms(bareGoMs) },
			{ what: '[local] warm: 16 Go-plugin scenarios started at once, first compile included (wall)', value: `${ms(concurrentMs)} (${ratio(concurrentMs, bareGoMs)} one bare start)${concurrentFailures > 0 ? `; ${concurrentFailures} FAILED` : '; all passed'}` },
			{ what: '[local] warm: 20 scenarios in turn, Go plugin, after the first compile (wall)', value: `${ms(serialMs)} (${ratio(serialMs, bareGoMs)} one bare start)` },
			{ what: '[local] warm: a scenario whose Rust module is loaded, start → ready (median of 3)', value: ms(rustReady) },
		);

		const pipeline = logPipeline(1_000_000);
		rows.push({ what: '[local] log pipeline: lines/s, first 100k vs last 100k of 1M lines', value: `${pipeline.first.toFixed(0)} / ${pipeline.last.toFixed(0)} (${ratio(pipeline.last, pipeline.first)})` });
	}

	for (const runtime of runtimes) {
		rows.push({ what: `[${runtime}] a script's exit after stop() resolved`, value: ms(await exitAfterStop(runtime)) });
	}

	if (runtimes.includes('docker')) {
		const box: number[] = [];
		const bare: number[] = [];
		for (let round = 0; round < Math.min(starts, 5); round++) {
			bare.push(await bareDockerRun());
			const started = performance.now();
			const sandbox = await startSandbox({ runtime: 'docker', plugins: [{ name: 'seed', wasm: seedWasm }] });
			box.push(performance.now() - started);
			await sandbox.stop();
		}

		rows.push(
			{ what: '[docker] bare `docker run` of the Envoy image (seed, static bootstrap) → ready', value: ms(median(bare)) },
			{ what: '[docker] startSandbox() → ready, and / bare', value: `${ms(median(box))} (${ratio(median(box), median(bare))})` },
		);
	}

	return rows;
}

/** `docker run` of the Envoy image meshbox uses, with the seed's static bootstrap and module mounted → /ready. */
async function bareDockerRun(): Promise<number> {
	const model = await modelFromSpec({ plugins: [{ name: 'seed', wasm: seedWasm }] }, { baseDir: process.cwd() });
	const directory = await mkdtemp(path.join(os.tmpdir(), 'meshbox-bench-'));
	const image = `meshbox/envoy:${(await provisionEnvoy({ version: model.envoy.version, versionOrigin: model.envoy.versionOrigin, onProgress: () => undefined })).version}`;
	await writeFile(path.join(directory, 'envoy.yaml'), renderBootstrapYaml(buildBootstrap(model, {
		listener: { address: '0.0.0.0', port: 10_000 },
		admin: { address: '0.0.0.0', port: 9901 },
		upstream: { address: '127.0.0.1', port: 9 },
		wasmPath: () => '/etc/bench/seed.wasm',
	}), ['meshbox bench: bare docker run']));
	await copyFile(seedWasm, path.join(directory, 'seed.wasm'));
	const started = performance.now();
	const run = await execa('docker', ['run', '-d', '--rm', '-p', '127.0.0.1::9901', '-v', `${directory}:/etc/bench:ro`, '--entrypoint', '/usr/local/bin/envoy', image, '-c', '/etc/bench/envoy.yaml', '--concurrency', '1']);
	const id = run.stdout.trim();
	try {
		const port = (await execa('docker', ['port', id, '9901/tcp'])).stdout.trim().split(':').at(-1);
		await waitFor200(() => `http://127.0.0.1:${port}/ready`, () => false);
		return performance.now() - started;
	} finally {
		await execa('docker', ['rm', '-f', id], { reject: false });
		await rm(directory, { recursive: true, force: true });
	}
}
