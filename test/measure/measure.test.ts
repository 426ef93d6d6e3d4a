/**
 * `meshbox measure` and `measure()` on real Envoy with plugins built from source: the JSON has the documented
 * figures with sane relationships, the leaking fixture (4 KiB kept per request) is flagged and a steady
 * plugin is not, `--baseline` measures a chain per build, `--updates` reports memory over live updates, and
 * assertBudget's failure shows measured beside budget. No speeds are asserted: relationships and presence.
 *
 * Request counts come from scripts/measure-leaks.ts's runs: at 3,000 requests the leak reads 4.1 KiB/request
 * within ±10 B, and rust-headers 0 ± 2 B, far on either side of the 512 B floor.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { assertBudget, formatMeasureTable, isMeshboxError, measure, startSandbox, type MeasureResult } from '../../src/index.ts';
import { runCli, RunningCli } from '../helpers/cli.ts';
import { isRunning } from '../helpers/leftovers.ts';
import { fixturePlugin, repoRoot } from '../helpers/paths.ts';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-measure-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

const leakWasm = fixturePlugin('rust-leak');
const headersWasm = fixturePlugin('rust-headers');

function assertLatencyOrdered(t: import('ava').ExecutionContext, latency: MeasureResult['latency'] | MeasureResult['chains'][number]['latency'], what: string): void {
	t.true(latency.p50Ms > 0, `${what}: p50 > 0`);
	t.true(latency.p50Ms <= latency.p90Ms && latency.p90Ms <= latency.p99Ms && latency.p99Ms <= latency.maxMs, `${what}: p50 ≤ p90 ≤ p99 ≤ max`);
	t.true(latency.curve.length >= 100, `${what}: a curve of about 100 points`);
	t.deepEqual([...latency.curve].sort((a, b) => a[0] - b[0]), [...latency.curve], `${what}: the curve ascends`);
}

test.serial('`meshbox measure --json` on the leaking plugin with --baseline and --updates: documented fields, a chain per build, the leak flagged, exit 1', async t => {
	const out = path.join(scratch, 'leak');
	const cli = await runCli(['measure', '--plugin', leakWasm, '--baseline', headersWasm, '--requests', '3000', '--updates', '2', '--json', '--out', out]);
	t.is(cli.exitCode, 1, `a suspected leak exits 1\n${cli.stderr}`);
	const result = JSON.parse(cli.stdout) as MeasureResult;
	t.deepEqual(result.chains.map(chain => chain.name), ['baseline', 'plugins', 'baseline-build']);
	t.deepEqual(result.chains.map(chain => chain.plugins), [[], ['rust-leak'], ['rust-leak']], 'the old build runs under the same name, in the same place');
	for (const chain of result.chains) {
		t.is(chain.requests, 3000, `${chain.name}: every measured request counted`);
		t.is(chain.errors, 0, `${chain.name}: no errors`);
		assertLatencyOrdered(t, chain.latency, chain.name);
		t.true(chain.throughput.requestsPerSecond > 0);
		t.true(chain.cpu.usPerRequest > 0, `${chain.name}: Envoy spent CPU`);
		t.true(chain.memory.samples.length >= 10, `${chain.name}: memory sampled over the run`);
	}

	assertLatencyOrdered(t, result.latency, 'plugins');
	t.is(typeof result.latency.addedP50Ms, 'number');
	t.is(typeof result.latency.addedP99Ms, 'number');
	t.is(result.latency.addedP99Ms, result.latency.p99Ms - result.chains[0]!.latency.p99Ms);
	t.is(result.throughput.baselineRequestsPerSecond, result.chains[0]!.throughput.requestsPerSecond);
	t.is(result.cpu.addedUsPerRequest, result.cpu.usPerRequest - result.cpu.baselineUsPerRequest);
	t.is(result.runtime, 'local');
	t.is(result.meshboxVersion, (JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version);
	t.is(result.envoyWorkers, 1);
	t.true(result.machine.cores >= 1);

	// The leak: 4096 bytes kept per request, flagged, the estimate near it; the old build (rust-headers) and the baseline not.
	t.true(result.memory.leakSuspected, `leak flagged: ${result.memory.growthBytesPerRequest} ± ${result.memory.growthUncertaintyBytesPerRequest}`);
	t.true(result.memory.growthBytesPerRequest > 3500 && result.memory.growthBytesPerRequest < 5000, `growth near 4 KiB/request: ${result.memory.growthBytesPerRequest}`);
	t.true(result.memory.rssEndBytes - result.memory.rssStartBytes > 3000 * 3500, 'RSS grew by about 3000 × 4 KiB');
	t.false(result.chains[0]!.memory.leakSuspected, 'the baseline is not flagged');
	t.false(result.chains[2]!.memory.leakSuspected, `the steady old build is not flagged: ${result.chains[2]!.memory.growthBytesPerRequest}`);

	// --updates 2: memory after each sampled update (and before the first).
	t.is(result.updates?.count, 2);
	t.deepEqual(result.updates?.memory.samples.map(([x]) => x), [0, 1, 2]);
	t.true((result.updates?.memory.rssEndBytes ?? 0) > 0);

	const written = JSON.parse(await readFile(path.join(out, 'measure-result.json'), 'utf8')) as MeasureResult;
	t.deepEqual(written, result, 'measure-result.json holds what --json printed');
	t.regex(await readFile(path.join(out, 'measure-report.html'), 'utf8'), /<html/i);
});

test.serial('measure() with 2 Envoy workers: a steady plugin is not flagged, the table shows it beside the baseline, assertBudget shows measured vs budget', async t => {
	const result = await measure({ plugins: [headersWasm], requests: 3000, envoyWorkers: 2, concurrency: 4 });
	t.is(result.envoyWorkers, 2);
	t.is(result.concurrency, 4);
	t.false(result.memory.leakSuspected, `rust-headers keeps nothing: ${result.memory.growthBytesPerRequest} ± ${result.memory.growthUncertaintyBytesPerRequest}`);
	t.true(Math.abs(result.memory.growthBytesPerRequest) < 512);
	t.is(result.chains.length, 2);

	const table = formatMeasureTable(result);
	t.regex(table[0]!, /^chain\s+requests\s+errors\s+p50 ms\s+p90 ms\s+p99 ms/);
	t.regex(table[1]!, /^baseline\s+3000\s+0\s/);
	t.regex(table[2]!, /^plugins\s+3000\s+0\s/);
	t.regex(table[3]!, /^\s+vs baseline\s+[+-]\d/);
	t.true(table.some(line => /, 2 worker threads; .*, 4 connections; machine: \d+ cores, load average /.test(line)), 'workers, connections and the machine are stated');

	t.notThrows(() => {
		assertBudget(result, { growthBytesPerRequest: 512, leakSuspected: false });
	});
	const error = t.throws(() => {
		assertBudget(result, { cpuUsPerRequest: 0, growthBytesPerRequest: 512 });
	});
	t.true(isMeshboxError(error) && error.code === 'BUDGET_EXCEEDED');
	t.regex(error!.message, new RegExp(`cpuUsPerRequest: measured ${result.cpu.usPerRequest >= 100 ? result.cpu.usPerRequest.toFixed(0) : '[\\d.]+'} µs \\(budget 0 µs\\)`));
	t.notRegex(error!.message, /growthBytesPerRequest/, 'only figures over budget are named');
});

test.serial('measuring needs an Envoy of its own: a warm sandbox\'s envoyUsage() says so', async t => {
	const box = await startSandbox({ plugins: [headersWasm] });
	try {
		const error = await t.throwsAsync(box.envoyUsage());
		t.true(isMeshboxError(error) && error.code === 'MEASURE_UNSUPPORTED', String(error));
		t.regex(error!.message, /warm Envoy/);
	} finally {
		await box.stop();
	}
});

test('`meshbox measure` with a bad count or no plugin: a usage error naming the flag, exit 2', async t => {
	const bad = await runCli(['measure', '--plugin', headersWasm, '--requests', 'lots']);
	t.is(bad.exitCode, 2);
	t.regex(bad.stderr, /--requests lots: expected a whole number of at least 100/);
	const header = await runCli(['measure', '--plugin', headersWasm, '--header', 'no separator']);
	t.is(header.exitCode, 2);
	t.regex(header.stderr, /--header no separator: expected "NAME: VALUE"/);
	const none = await runCli(['measure'], { cwd: scratch });
	t.is(none.exitCode, 2);
	t.regex(none.stderr, /no --plugin given/);
});

test.serial('Ctrl+C during `meshbox measure` stops the load and the Envoy, says so, and leaves nothing running', async t => {
	const cli = RunningCli.start(['measure', '--plugin', headersWasm, '--requests', '500000', '--out', path.join(scratch, 'stopped')]);
	await cli.waitForLine(/^meshbox measure: baseline: /);
	const envoys = await envoysOf(cli.process.pid!);
	t.is(envoys.length, 1, 'one dedicated Envoy runs the measurement');
	t.is(await cli.stop('SIGINT'), 2);
	t.true(cli.lines.some(line => /measure stopped \(SIGINT\)/.test(line)), cli.lines.join('\n'));
	t.false(await isRunning(envoys[0]!), 'the Envoy is gone');
});

/** Pids of `envoy` processes whose parent is `parent`. */
async function envoysOf(parent: number): Promise<number[]> {
	const pids: number[] = [];
	for (const name of (await readdir('/proc')).filter(entry => /^\d+$/.test(entry))) {
		const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
		const [, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'envoy' && Number(ppid) === parent) {
			pids.push(Number(name));
		}
	}

	return pids;
}
