/**
 * Conformance: metrics (fixtures/plugins/CONFORMANCE.md "metrics"). The plugin defines a counter, a gauge
 * and a histogram, updates them per request from request headers and reads counter and gauge back.
 */
import test from 'ava';
import got from 'got';
import { cell, fixtureFor, hasNewBehaviour, sdksFor } from '../../scripts/conformance-matrix.ts';
import { sandboxFor } from './helpers.ts';

const counter = 'wasmcustom.meshbox_fixture_requests';
const gauge = 'wasmcustom.meshbox_fixture_gauge';
const histogram = 'wasmcustom.meshbox_fixture_histogram';

for (const sdk of sdksFor('metrics')) {
	test(cell(sdk, 'metrics', 'counter, gauge and histogram: read back by the plugin, shown in /stats'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'metrics', wasm: fixtureFor(sdk, 'metrics') }] });

		const one = await box.request('/', { headers: { 'x-gauge-set': '10', 'x-histogram-record': '42' } });
		t.is(one.status, 200);
		t.is(one.headers['x-counter-value'], '1');
		t.is(one.headers['x-gauge-value'], '10', 'set');
		const two = await box.request('/', { headers: { 'x-gauge-add': '-3', 'x-histogram-record': '7' } });
		t.is(two.headers['x-counter-value'], '2');
		t.is(two.headers['x-gauge-value'], '7', 'incremented by -3');

		const stats = await box.stats('wasmcustom.meshbox_fixture_');
		t.is(stats.counters.get(counter), 2);
		t.is(stats.gauges.get(gauge), 7);

		// Histogram quantiles appear after Envoy's next stats flush. From Envoy 1.38 bucket interpolation turns 42
		// into 42.5; before, a quantile is the bucket's upper bound, 43 (matrix.ts envoyDifferences).
		// waitFor resolves only with a truthy value (its type still includes undefined).
		const quantiles = (await box.waitFor(async () => {
			const values = (await box.stats(histogram)).histograms.get(histogram);
			return typeof values?.p0 === 'number' && typeof values.p100 === 'number' ? { p0: values.p0, p100: values.p100 } : undefined;
		}, 10_000, 200))!;
		t.true(quantiles.p0 >= 7 && quantiles.p0 < 8, `p0 is the 7 recorded: ${quantiles.p0}`);
		if (hasNewBehaviour('metrics', sdk, box.envoyVersion)) {
			t.true(quantiles.p100 >= 42 && quantiles.p100 < 43, `p100 is the 42 recorded, interpolated (Envoy ${box.envoyVersion}): ${quantiles.p100}`);
		} else {
			t.is(quantiles.p100, 43, `p100 is the upper bound of the bucket of the 42 recorded (Envoy ${box.envoyVersion})`);
		}

		const prometheus = await got(`${box.adminUrl}/stats/prometheus`).text();
		t.regex(prometheus, /^meshbox_fixture_requests\{\} 2$/m, 'Prometheus names have no wasmcustom or envoy_ prefix');
		t.regex(prometheus, /^meshbox_fixture_gauge\{\} 7$/m);
		t.regex(prometheus, /^meshbox_fixture_histogram_count\{\} 2$/m);
	});
}
