/**
 * Conformance: logging (fixtures/plugins/CONFORMANCE.md "logging"). Each request logs one line per
 * proxy-wasm level plus a line on WASI stdout and stderr; Envoy prints what its `wasm` logger's level lets
 * through, and the plugin reports that level back from `proxy_get_log_level`.
 */
import test from 'ava';
import type { Sdk } from '../../scripts/conformance-matrix.ts';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { loggedDuring, sandboxFor } from './helpers.ts';

const levelLines = [
	{ level: 'trace', message: 'trace message' },
	{ level: 'debug', message: 'debug message' },
	{ level: 'info', message: 'info message' },
	{ level: 'warn', message: 'warn message' },
	{ level: 'error', message: 'error message' },
	{ level: 'critical', message: 'critical message' },
] as const;
/** WASI stdout is logged at info, stderr at error. */
const stdioLines = [
	{ level: 'info', message: 'stdout message' },
	{ level: 'error', message: 'stderr message' },
] as const;

/**
 * What `x-wasm-log-level` says. Go: absent — the Go SDK declares ABI 0.2.0 and Envoy offers
 * `proxy_get_log_level` only to 0.2.1 modules, so go-logging cannot ask (CONFORMANCE.md "What the SDKs lack").
 */
function expectedLevelHeader(sdk: Sdk, level: string): string | undefined {
	return sdk === 'go' ? undefined : level;
}

for (const sdk of sdksFor('logging')) {
	test(cell(sdk, 'logging', 'wasm logger at trace: every level at its own level, stdout at info, stderr at error'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'log', wasm: fixtureFor(sdk, 'logging') }], envoy: { componentLogLevels: { wasm: 'trace' } } });
		const before = (await box.logs()).length;
		const response = await box.request('/');
		t.is(response.status, 200);
		t.is(response.headers['x-wasm-log-level'], expectedLevelHeader(sdk, 'trace'));
		const logged = (await box.logs()).slice(before).filter(entry => entry.plugin === 'log');
		t.deepEqual(logged.map(({ level, message }) => ({ level, message })), [...levelLines, ...stdioLines]);
		t.true(logged.every(entry => entry.context === 'stream'), 'logged from the request\'s stream context');
	});

	test(cell(sdk, 'logging', 'wasm logger at info: trace and debug are not printed'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'log', wasm: fixtureFor(sdk, 'logging') }], envoy: { componentLogLevels: { wasm: 'info' } } });
		const [response, logged] = await loggedDuring(box, async () => box.request('/'), { plugin: 'log' });
		t.is(response.status, 200);
		t.is(response.headers['x-wasm-log-level'], expectedLevelHeader(sdk, 'info'));
		t.deepEqual(logged, [...levelLines.slice(2), ...stdioLines].map(line => line.message));
		t.deepEqual(await box.logs({ plugin: 'log', message: /^(trace|debug) message$/ }), []);
	});
}
