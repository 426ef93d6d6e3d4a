/**
 * Conformance: trap (fixtures/plugins/CONFORMANCE.md "trap"). `/trap` makes the plugin fail its VM in
 * request headers with the SDK's idiomatic failure; fail closed (Envoy's default) answers 503 from then on,
 * fail open lets traffic through without the plugin.
 */
import test, { type ExecutionContext } from 'ava';
import type { Sandbox } from 'meshbox';
import type { Sdk } from '../../scripts/conformance-matrix.ts';
import { cell, fixtureFor, hasNewBehaviour, sdksFor } from '../../scripts/conformance-matrix.ts';
import { sandboxFor } from './helpers.ts';

/** Each SDK's own message before the trap (logged by the plugin's stream context). */
const sdkFailure: Record<Sdk, Array<{ level: 'critical' | 'error'; message: string }>> = {
	// The SDK's panic hook.
	rust: [{ level: 'critical', message: 'panicked at \'trap requested\', rust-trap/src/lib.rs:25:13' }],
	// The Go runtime's panic text on stderr, one error line per write fragment.
	go: [{ level: 'error', message: 'panic: ' }, { level: 'error', message: 'trap requested' }, { level: 'error', message: 'goroutine ' }],
	// wasi-shim's abort on stderr.
	as: [{ level: 'error', message: 'abort: trap requested in assembly/index.ts(29:7)' }],
};

/** Before Envoy 1.39 the Go runtime dies while printing its panic (matrix.ts envoyDifferences): what is logged instead. */
const goBefore139 = [{ level: 'error', message: 'fatal error: ' }, { level: 'error', message: 'wasi_snapshot_preview1.poll_oneoff' }, { level: 'error', message: 'panic during panic' }] as const;

async function assertTrapLogged(t: ExecutionContext, box: Sandbox, sdk: Sdk): Promise<void> {
	const logged = (await box.logs({ plugin: 'trap' })).map(({ level, message }) => ({ level, message }));
	t.deepEqual(logged[0], { level: 'info', message: 'trapping now' });
	for (const expected of hasNewBehaviour('trap', sdk, box.envoyVersion) ? sdkFailure[sdk] : goBefore139) {
		t.true(logged.some(entry => entry.level === expected.level && entry.message === expected.message), `the SDK's failure message on Envoy ${box.envoyVersion}: ${expected.level} ${JSON.stringify(expected.message)}`);
	}

	const failures = await box.envoyLogs({ logger: 'wasm', level: 'error', message: 'Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable' });
	t.is(failures.length, 1, 'Envoy logs the trap once');
	const [, ...backtrace] = failures[0]?.message.split('\n') ?? [];
	t.is(backtrace[0], 'Proxy-Wasm plugin in-VM backtrace:');
	t.true(backtrace.length > 1 && backtrace.slice(1).every(frame => /^ {2}\d+: {2}0x[\da-f]+ - \S/.test(frame)), `in-VM frames: ${backtrace.join(' | ')}`);
}

for (const sdk of sdksFor('trap')) {
	test(cell(sdk, 'trap', 'fail closed: 503 on the trap and for every later request'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'trap', wasm: fixtureFor(sdk, 'trap') }] });
		const alive = await box.request('/');
		t.is(alive.status, 200);
		t.is(alive.headers['x-trap-plugin'], 'alive');
		t.is(await box.upstream.hits(), 1);

		const trapped = await box.request('/trap?now=1');
		t.is(trapped.status, 503);
		t.is(trapped.body, '');
		t.is(trapped.headers['content-length'], '0');
		t.is(await box.upstream.hits(), 1, 'the trapped request does not reach the upstream');
		await assertTrapLogged(t, box, sdk);

		const before = (await box.logs({ plugin: 'trap' })).length;
		const later = await box.request('/');
		t.is(later.status, 503, 'the VM is dead');
		t.is(later.headers['x-trap-plugin'], undefined);
		t.is(await box.upstream.hits(), 1, 'later requests do not reach the upstream either');
		t.is((await box.logs({ plugin: 'trap' })).length, before, 'the plugin is not called again');
	});

	test(cell(sdk, 'trap', 'fail open: the trapped and later requests reach the upstream without the plugin'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'trap', wasm: fixtureFor(sdk, 'trap'), failOpen: true }] });
		const alive = await box.request('/');
		t.is(alive.status, 200);
		t.is(alive.headers['x-trap-plugin'], 'alive');

		const trapped = await box.request('/trap');
		t.is(trapped.status, 200, 'the request continues unmodified');
		t.is(trapped.body, 'Hello, world!\n');
		t.is(trapped.headers['x-trap-plugin'], undefined);
		t.is(await box.upstream.hits(), 2);
		t.is((await box.upstream.requests())[1]?.path, '/trap');
		await assertTrapLogged(t, box, sdk);

		const before = (await box.logs({ plugin: 'trap' })).length;
		const later = await box.request('/');
		t.is(later.status, 200);
		t.is(later.body, 'Hello, world!\n');
		t.is(later.headers['x-trap-plugin'], undefined, 'the plugin is skipped');
		t.is(await box.upstream.hits(), 3);
		t.is((await box.logs({ plugin: 'trap' })).length, before, 'the plugin is not called again');
	});
}
