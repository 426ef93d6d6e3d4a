/**
 * The same plugins on two Envoy releases, and what differs (measured; scripts/conformance-matrix.ts
 * envoyDifferences lists them for the conformance matrix):
 *
 * - a histogram's quantiles in `/stats`: the plugin records 42 and 7; before Envoy 1.38 a quantile is the upper
 *   bound of the value's bucket (p100 = 43), from 1.38 on it is interpolated inside the bucket (p100 = 42.5).
 *   A dashboard or an assertion written against one release reads a different number on the other.
 * - a Go (wasip1) plugin's panic: from Envoy 1.39 the log has `panic: trap requested` and the goroutine trace;
 *   before, the Go runtime dies while printing it (`fatal error: wasi_snapshot_preview1.poll_oneoff`, `panic
 *   during panic`), so the reason for the failure is not in the log. Either way the request gets 503.
 *
 * Told on the local runtime (the difference is Envoy's, not the runtime's), on 1.36 and 1.40.
 */
import test from 'ava';
import { forEachEnvoyVersion, type Sandbox } from 'meshbox';

const histogram = 'wasmcustom.meshbox_fixture_histogram';
const plugin = { name: 'metrics', wasm: 'fixtures/plugins/rust-metrics/rust-metrics.wasm' };

/** Records 42 and 7, then waits for Envoy's stats flush to show the quantiles. */
async function quantiles(box: Sandbox): Promise<{ p0: number; p100: number }> {
	await box.request('/', { headers: { 'x-histogram-record': '42' } });
	await box.request('/', { headers: { 'x-histogram-record': '7' } });
	// waitFor resolves only with a truthy value (its type still includes undefined).
	return (await box.waitFor(async () => {
		const values = (await box.stats(histogram)).histograms.get(histogram);
		return typeof values?.p0 === 'number' && typeof values.p100 === 'number' ? { p0: values.p0, p100: values.p100 } : undefined;
	}, 10_000, 200))!;
}

const expected: Record<string, { p100: number; why: string }> = {
	'1.36': { p100: 43, why: 'the upper bound of the bucket that holds 42' },
	'1.40': { p100: 42.5, why: 'interpolated inside the bucket that holds 42' },
};

forEachEnvoyVersion(['local'], ['1.36', '1.40'], ({ title, startSandbox, envoyVersion }) => {
	test(title('a histogram\'s p100 in /stats'), async t => {
		const box = await startSandbox({ plugins: [plugin] });
		t.teardown(async () => box.stop());
		t.true(box.envoyVersion.startsWith(`${envoyVersion!}.`), `runs Envoy ${envoyVersion!}.x: ${box.envoyVersion}`);
		const seen = await quantiles(box);
		const { p100, why } = expected[envoyVersion!]!;
		t.is(seen.p100, p100, `p100 on Envoy ${box.envoyVersion}: ${why}`);
		t.true(seen.p0 >= 7 && seen.p0 < 8, `p0 is the 7 recorded on every release: ${seen.p0}`);
	});
});

forEachEnvoyVersion(['local'], ['1.36', '1.40'], ({ title, startSandbox, envoyVersion }) => {
	test(title('a Go plugin\'s panic in the log'), async t => {
		const box = await startSandbox({ plugins: [{ name: 'trap', wasm: 'fixtures/plugins/go-trap/go-trap.wasm' }] });
		t.teardown(async () => box.stop());
		const response = await box.request('/trap?now=1');
		t.is(response.status, 503, 'the trap fails the request on every release (fail closed)');
		const messages = (await box.logs({ plugin: 'trap', level: 'error' })).map(entry => entry.message);
		if (envoyVersion === '1.40') {
			t.true(messages.includes('trap requested'), `the panic's message is logged: ${messages.slice(0, 6).join(' | ')}`);
			t.false(messages.includes('panic during panic'));
		} else {
			t.false(messages.includes('trap requested'), 'the panic\'s message is lost');
			t.true(messages.includes('wasi_snapshot_preview1.poll_oneoff') && messages.includes('panic during panic'), messages.slice(0, 6).join(' | '));
		}
	});
});
