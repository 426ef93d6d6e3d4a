/**
 * The report people look at: one self-contained HTML page drawn from a `MeasureResult` (./result.ts) — what
 * was measured, the figures table (each chain, the plugins beside the baseline with the added cost) and three
 * charts (latency percentile curve, memory over requests, CPU per request). It needs no network: uPlot (a
 * dependency, MIT) is inlined from node_modules, so the file can be mailed, archived by CI or opened offline.
 *
 * Pure apart from reading uPlot's dist once: result → string; writing the file is the caller's.
 * Every string from the result (plugin names are user input) is escaped where it lands: HTML text and
 * attributes by `escapeHtml`, the chart data (a JSON island that the page script reads with JSON.parse, so
 * nothing from the result is ever code) by `jsonForScript`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ChainRun, MeasureResult, MemoryFigures } from './result.ts';

type UplotAssets = { readonly script: string; readonly css: string };

let uplotAssets: UplotAssets | undefined;

/**
 * uPlot's browser build and stylesheet. Resolved from this module's location, which works from src/ (tsx),
 * from dist/ (tsc's output, which the CLI runs too) and from an installed meshbox (uplot is a
 * dependency, so it sits beside it in node_modules). uplot has no "exports" map, so its dist files resolve.
 */
function loadUplot(): UplotAssets {
	if (uplotAssets) {
		return uplotAssets;
	}

	const require = createRequire(import.meta.url);
	let scriptFile: string;
	let cssFile: string;
	try {
		scriptFile = require.resolve('uplot/dist/uPlot.iife.min.js');
		cssFile = require.resolve('uplot/dist/uPlot.min.css');
	} catch (error) {
		throw new Error(`meshbox's dependency uplot (the report's charts) is not installed beside meshbox: ${(error as Error).message}; reinstall meshbox (npm install)`);
	}

	uplotAssets = {
		// An inline script ends at the first `</script`; uPlot 1.6 has none, this keeps it so for any version.
		script: readFileSync(scriptFile, 'utf8').replaceAll(/<\/script/giu, '<\\/script'),
		css: readFileSync(cssFile, 'utf8').replaceAll(/<\/style/giu, '<\\/style'),
	};
	return uplotAssets;
}

/** Text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
	return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll('\'', '&#39;');
}

/**
 * JSON that is safe inside `<script type="application/json">`: no `<` (so no `</script>` or `<!--`), and
 * U+2028/2029 escaped too (harmless in JSON, but kept out of anything a script element holds).
 */
function jsonForScript(value: unknown): string {
	return JSON.stringify(value)
		.replaceAll('<', '\\u003c')
		.replaceAll('>', '\\u003e')
		.replaceAll('&', '\\u0026')
		.replaceAll('\u2028', '\\u2028')
		.replaceAll('\u2029', '\\u2029');
}

// ---- number formats (the figures as measured, to a precision that reads; never rounded to look good)

function isNumber(value: number): boolean {
	return typeof value === 'number' && Number.isFinite(value);
}

/** Milliseconds: 2 decimals below 10 ms (sub-millisecond differences matter there), fewer above. */
export function formatMs(ms: number): string {
	if (!isNumber(ms)) {
		return '—';
	}

	const digits = Math.abs(ms) < 10 ? 2 : (Math.abs(ms) < 100 ? 1 : 0);
	// A no-break space: a number never wraps away from its unit in the table.
	return `${ms.toFixed(digits)}\u00A0ms`;
}

function formatNumber(value: number, digits: number): string {
	return isNumber(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '—';
}

function signed(text: string, value: number): string {
	return value > 0 ? `+${text}` : (value < 0 ? `−${text.replace(/^-/u, '')}` : text);
}

function formatBytes(bytes: number): string {
	if (!isNumber(bytes)) {
		return '—';
	}

	return `${formatNumber(bytes / (1024 * 1024), 1)} MiB`;
}

/**
 * `12.3 ± 4.1 B/req`: the slope and its 95% uncertainty, as the result gives them, both in the unit the larger
 * of the two reads in (a few bytes per request; KiB or MiB per live update).
 */
export function formatGrowth(memory: MemoryFigures, per = 'req'): string {
	const largest = Math.max(Math.abs(memory.growthBytesPerRequest), Math.abs(memory.growthUncertaintyBytesPerRequest));
	const [unit, divisor] = largest >= 10 * 1024 * 1024 ? ['MiB', 1024 * 1024] : (largest >= 10 * 1024 ? ['KiB', 1024] : ['B', 1]);
	return `${formatNumber(memory.growthBytesPerRequest / divisor, 1)} ± ${formatNumber(memory.growthUncertaintyBytesPerRequest / divisor, 1)} ${unit}/${per}`;
}

function percentChange(value: number, baseline: number): string {
	if (!isNumber(value) || !isNumber(baseline) || baseline === 0) {
		return '';
	}

	const change = ((value - baseline) / baseline) * 100;
	return ` (${signed(`${formatNumber(Math.abs(change), 0)}%`, change)})`;
}

// ---- the page's parts

function pluginsOf(result: MeasureResult): readonly string[] {
	return result.chains.find(chain => chain.name === 'plugins')?.plugins
		?? result.chains.find(chain => chain.plugins.length > 0)?.plugins
		?? [];
}

/** A chain's label in legends: its name, and its plugins in chain order. */
function chainLabel(chain: ChainRun): string {
	return chain.plugins.length > 0 ? `${chain.name} (${chain.plugins.join(' → ')})` : chain.name;
}

function header(result: MeasureResult): string {
	const plugins = pluginsOf(result);
	const [load1, load5, load15] = result.machine.loadAverage;
	// A load above the cores means the run shared the CPU with other work: its figures are noisier.
	const busy = load1 > result.machine.cores
		? ' <strong class="warn">The machine was busier than its cores: figures are noisier than on an idle machine.</strong>'
		: '';
	const rows: Array<[string, string]> = [
		['Plugins', plugins.length > 0 ? plugins.map(name => `<code>${escapeHtml(name)}</code>`).join(' → ') : '(none)'],
		['Envoy', escapeHtml(result.envoyVersion)],
		['Runtime', escapeHtml(result.runtime)],
		['Envoy worker threads', escapeHtml(String(result.envoyWorkers))],
		['Concurrency', `${escapeHtml(String(result.concurrency))} connections`],
		['Load generator', escapeHtml(result.loadGenerator)],
		['Machine', `${escapeHtml(String(result.machine.cores))} cores, load average ${[load1, load5, load15].map(value => formatNumber(value, 2)).join(' / ')} (1, 5, 15 min)${busy}`],
		['meshbox', escapeHtml(result.meshboxVersion)],
	];
	return `<dl class="what" id="what-was-measured">${rows.map(([term, value]) => `<dt>${term}</dt><dd>${value}</dd>`).join('')}</dl>`;
}

type Cell = { readonly figure: string; readonly text: string; readonly className?: string };

function chainCells(chain: ChainRun): Cell[] {
	return [
		{ figure: 'requests', text: formatNumber(chain.requests, 0) },
		{ figure: 'errors', text: formatNumber(chain.errors, 0), className: chain.errors > 0 ? 'bad' : undefined },
		{ figure: 'p50', text: formatMs(chain.latency.p50Ms) },
		{ figure: 'p90', text: formatMs(chain.latency.p90Ms) },
		{ figure: 'p99', text: formatMs(chain.latency.p99Ms) },
		{ figure: 'max', text: formatMs(chain.latency.maxMs) },
		{ figure: 'throughput', text: `${formatNumber(chain.throughput.requestsPerSecond, 0)} req/s` },
		{ figure: 'cpu', text: `${formatNumber(chain.cpu.usPerRequest, 1)} µs` },
		{ figure: 'memory-growth', text: formatGrowth(chain.memory) },
		{ figure: 'leak', text: chain.memory.leakSuspected ? 'suspected' : 'no', className: chain.memory.leakSuspected ? 'bad' : undefined },
	];
}

/** The plugins' chain against the baseline, from the result's own comparison figures. */
function addedCells(result: MeasureResult): Cell[] {
	const { latency, throughput, cpu } = result;
	const baseline = result.chains[0];
	const memoryDifference = baseline ? result.memory.growthBytesPerRequest - baseline.memory.growthBytesPerRequest : Number.NaN;
	// The two slopes come from separate runs, so their uncertainties add in quadrature.
	const memoryUncertainty = baseline ? Math.hypot(result.memory.growthUncertaintyBytesPerRequest, baseline.memory.growthUncertaintyBytesPerRequest) : Number.NaN;
	return [
		{ figure: 'requests', text: '' },
		{ figure: 'errors', text: '' },
		{ figure: 'p50', text: signed(formatMs(latency.addedP50Ms), latency.addedP50Ms) },
		{ figure: 'p90', text: signed(formatMs(latency.addedP90Ms), latency.addedP90Ms) },
		{ figure: 'p99', text: signed(formatMs(latency.addedP99Ms), latency.addedP99Ms) },
		{ figure: 'max', text: '' },
		{ figure: 'throughput', text: `${signed(`${formatNumber(Math.abs(throughput.requestsPerSecond - throughput.baselineRequestsPerSecond), 0)} req/s`, throughput.requestsPerSecond - throughput.baselineRequestsPerSecond)}${percentChange(throughput.requestsPerSecond, throughput.baselineRequestsPerSecond)}` },
		{ figure: 'cpu', text: `${signed(`${formatNumber(Math.abs(cpu.addedUsPerRequest), 1)} µs`, cpu.addedUsPerRequest)}${percentChange(cpu.usPerRequest, cpu.baselineUsPerRequest)}` },
		{ figure: 'memory-growth', text: isNumber(memoryDifference) ? `${signed(formatNumber(Math.abs(memoryDifference), 1), memoryDifference)} ± ${formatNumber(memoryUncertainty, 1)} B/req` : '' },
		{ figure: 'leak', text: result.memory.leakSuspected ? 'suspected' : 'no', className: result.memory.leakSuspected ? 'bad' : undefined },
	];
}

function row(kind: string, label: string, plugins: readonly string[], cells: readonly Cell[]): string {
	const tds = cells.map(cell => `<td data-figure="${cell.figure}"${cell.className ? ` class="${cell.className}"` : ''}>${escapeHtml(cell.text)}</td>`).join('');
	const chain = plugins.length > 0 ? `<br><span class="chain">${plugins.map(name => escapeHtml(name)).join(' → ')}</span>` : '';
	return `<tr data-chain="${escapeHtml(kind)}"><th scope="row">${escapeHtml(label)}${chain}</th>${tds}</tr>`;
}

function figuresTable(result: MeasureResult): string {
	const head = ['chain', 'requests', 'errors', 'p50', 'p90', 'p99', 'max', 'throughput', 'CPU / request', 'memory growth (±\u00A095%)', 'leak']
		.map(title => `<th scope="col">${title}</th>`).join('');
	const rows = result.chains.map(chain => row(chain.name, chain.name, chain.plugins, chainCells(chain)));
	if (result.chains.length > 1) {
		rows.push(row('added', 'added by the plugins', [], addedCells(result)));
	}

	const updates = result.updates
		? `<p id="updates-figures">Live updates: ${escapeHtml(String(result.updates.count))} swaps of the same module; Envoy's memory grew ${escapeHtml(formatGrowth(result.updates.memory, 'update'))}, ${escapeHtml(formatBytes(result.updates.memory.rssStartBytes))} → ${escapeHtml(formatBytes(result.updates.memory.rssEndBytes))}; leak ${result.updates.memory.leakSuspected ? '<strong class="bad">suspected</strong>' : 'not suspected'}.</p>`
		: '';
	return `<div class="table"><table id="figures"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></div>${updates}`;
}

const howToRead = `<section id="how-to-read"><h2>How to read this</h2>
<p>Every figure was measured twice on the same machine and the same Envoy: once through the sandbox without your
plugins (the <em>baseline</em>) and once with them; the row <em>added by the plugins</em> is the difference, which is
what your plugins cost. Latency is the client's (request sent → last byte received). The percentile curve shows how
slow the slowest requests were: read across at 99% for "1 request in 100 took at least this long"; the x axis is
logarithmic so the tail (99%, 99.9%, max) gets room. A curve that rises only at the far right means rare stalls
(garbage collection, a slow upstream), one that sits higher everywhere means a steady per-request cost.
Memory is Envoy's resident memory while the load ran, after a warm-up; the dashed line is the least-squares fit
through the samples, whose slope is the growth in bytes per request. A growth within its ± range of zero is noise;
<em>leak suspected</em> means it is clearly above noise, so run longer (more requests) to confirm it.
CPU is Envoy's own CPU time (user + system) divided by the requests. Figures from a busy machine (load average
above its cores) are noisier: measure again on an idle one before comparing small differences.</p></section>`;

// ---- the charts' data (a JSON island) and the script that draws it

type MemorySeries = { readonly label: string; readonly samples: ReadonlyArray<readonly [number, number]>; readonly slope: number; readonly per: string };

type ChartData = {
	readonly latency: ReadonlyArray<{ readonly label: string; readonly curve: ReadonlyArray<readonly [number, number]> }>;
	readonly memory: readonly MemorySeries[];
	readonly updates: MemorySeries | undefined;
	readonly cpu: ReadonlyArray<{ readonly label: string; readonly usPerRequest: number }>;
};

function chartData(result: MeasureResult): ChartData {
	return {
		latency: result.chains.map(chain => ({ label: chainLabel(chain), curve: chain.latency.curve })),
		memory: result.chains.map(chain => ({ label: chainLabel(chain), samples: chain.memory.samples, slope: chain.memory.growthBytesPerRequest, per: 'request' })),
		updates: result.updates ? { label: 'live updates', samples: result.updates.memory.samples, slope: result.updates.memory.growthBytesPerRequest, per: 'update' } : undefined,
		cpu: result.chains.map(chain => ({ label: chainLabel(chain), usPerRequest: chain.cpu.usPerRequest })),
	};
}

/**
 * The page script (plain ES5-ish browser JavaScript, no interpolation: everything it draws comes from the JSON
 * island). Each chart sets data-drawn="true" on its container once uPlot drew into a canvas of non-zero size,
 * so a test (or a user wondering about an empty box) can tell; a chart that throws says why in the container.
 */
const pageScript = String.raw`(function () {
	'use strict';
	var data = JSON.parse(document.getElementById('meshbox-data').textContent);
	var colors = ['#6b7280', '#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed'];
	function color(i) { return colors[i % colors.length]; }
	function fixed(v, d, unit) { return v == null || !isFinite(v) ? '—' : v.toFixed(d) + (unit ? ' ' + unit : ''); }
	// Bytes in the unit that reads (the growth per update is KiB or MiB, per request a few bytes).
	function bytes(v) {
		if (v == null || !isFinite(v)) { return '—'; }
		var a = Math.abs(v);
		return a >= 10 * 1024 * 1024 ? (v / 1048576).toFixed(1) + ' MiB' : a >= 10 * 1024 ? (v / 1024).toFixed(1) + ' KiB' : v.toFixed(1) + ' B';
	}

	function chart(id, build) {
		var el = document.getElementById(id);
		if (!el) { return; }
		try {
			var spec = build();
			var opts = spec.opts;
			opts.width = Math.max(360, Math.min(el.clientWidth || 900, 1100));
			opts.height = 300;
			opts.hooks = { draw: [function (u) {
				var canvas = el.querySelector('canvas');
				if (canvas && canvas.width > 0 && canvas.height > 0) { el.setAttribute('data-drawn', 'true'); }
			}] };
			new uPlot(opts, spec.data, el);
		} catch (error) {
			el.setAttribute('data-drawn', 'false');
			el.textContent = 'This chart could not be drawn: ' + error;
		}
	}

	// uPlot wants one shared x array; each series has null where it has no point.
	function join(tables) {
		var xs = [];
		var seen = {};
		tables.forEach(function (t) { t.forEach(function (p) { if (!seen[p[0]]) { seen[p[0]] = true; xs.push(p[0]); } }); });
		xs.sort(function (a, b) { return a - b; });
		var index = {};
		xs.forEach(function (x, i) { index[x] = i; });
		var columns = tables.map(function (t) {
			var ys = xs.map(function () { return null; });
			t.forEach(function (p) { ys[index[p[0]]] = p[1]; });
			return ys;
		});
		return [xs].concat(columns);
	}

	// Latency: x is the percentile on the customary "tail" scale, 1 / (1 - p): 50% → 2, 90% → 10, 99% → 100,
	// 99.9% → 1000, logarithmic; the 100th percentile (max) has no finite place, so it sits one decade after
	// the last finite point, labelled "max".
	chart('chart-latency', function () {
		var finite = 1;
		data.latency.forEach(function (c) { c.curve.forEach(function (p) { if (p[0] < 100) { finite = Math.max(finite, 100 / (100 - p[0])); } }); });
		var maxAt = Math.pow(10, Math.floor(Math.log10(finite) + 1e-9) + 1);
		function position(p) { return p >= 100 ? maxAt : 100 / (100 - p); }
		function percentile(x) {
			if (x >= maxAt) { return 'max'; }
			var p = 100 - 100 / x;
			return String(Math.round(p * 1000) / 1000) + '%';
		}
		var ticks = [1, 2];
		for (var t = 10; t < maxAt; t *= 10) { ticks.push(t); }
		ticks.push(maxAt);
		var series = [{ label: 'percentile', value: function (u, x) { return x == null ? '—' : percentile(x); } }];
		data.latency.forEach(function (c, i) {
			series.push({ label: c.label, stroke: color(i), width: 2, spanGaps: true, points: { show: false },
				value: function (u, v) { return fixed(v, 2, 'ms'); } });
		});
		return {
			opts: {
				title: 'Latency by percentile (client side)',
				scales: { x: { time: false, distr: 3, log: 10, range: [1, maxAt] }, y: { range: function (u, min, max) { return [0, max * 1.08]; } } },
				axes: [
					{ label: 'percentile (log scale: the tail gets room)', splits: function () { return ticks; }, filter: function (u, splits) { return splits; }, values: function (u, xs) { return xs.map(percentile); } },
					{ label: 'latency (ms)', size: 60 },
				],
				series: series,
			},
			data: join(data.latency.map(function (c) { return c.curve.map(function (p) { return [position(p[0]), p[1]]; }); })),
		};
	});

	// Memory: one chart per chain (each on its own scale, so a slope of a few bytes per request is visible and
	// the noise around it too): the samples as points and the least-squares line, dashed, in MiB.
	function memoryChart(id, title, xLabel, m, colorIndex) {
		chart(id, function () {
			var mib = 1024 * 1024;
			var n = m.samples.length;
			var mx = 0, my = 0;
			m.samples.forEach(function (p) { mx += p[0] / n; my += p[1] / n; });
			// The least-squares line has the result's slope and passes through the samples' mean.
			var fit = n < 2 ? [] : [m.samples[0], m.samples[n - 1]].map(function (p) { return [p[0], my + m.slope * (p[0] - mx)]; });
			var c = color(colorIndex);
			return {
				opts: {
					title: title,
					scales: { x: { time: false } },
					axes: [{ label: xLabel }, { label: 'Envoy memory (MiB)', size: 64, values: function (u, vs) { return vs.map(function (v) { return v.toFixed(2); }); } }],
					series: [
						{ label: xLabel, value: function (u, x) { return x == null ? '—' : x.toLocaleString('en-US'); } },
						{ label: 'samples', stroke: c, fill: c, paths: function () { return null; }, points: { show: true, space: 0, size: 6, fill: c },
							value: function (u, v) { return fixed(v, 2, 'MiB'); } },
						{ label: 'fit: ' + bytes(m.slope) + ' per ' + m.per, stroke: '#111827', width: 1.5, dash: [6, 4], spanGaps: true, points: { show: false },
							value: function (u, v) { return fixed(v, 2, 'MiB'); } },
					],
				},
				data: join([m.samples.map(function (p) { return [p[0], p[1] / mib]; }), fit.map(function (p) { return [p[0], p[1] / mib]; })]),
			};
		});
	}
	data.memory.forEach(function (m, i) {
		memoryChart('chart-memory-' + i, 'Envoy memory over requests: ' + m.label, 'requests (after the warm-up)', m, i);
	});
	if (data.updates) {
		memoryChart('chart-updates', 'Envoy memory over live updates of the module', 'updates (live swaps)', data.updates, 2);
	}

	// CPU: one bar per chain, in the chain's colour (one series each, null at the other chains' places).
	chart('chart-cpu', function () {
		var n = data.cpu.length;
		var xs = data.cpu.map(function (c, i) { return i; });
		var series = [{ label: 'chain', value: function (u, x) { return x == null || !data.cpu[x] ? '—' : data.cpu[x].label; } }];
		var columns = [xs];
		data.cpu.forEach(function (c, i) {
			series.push({ label: c.label + ': ' + fixed(c.usPerRequest, 1, 'µs'), stroke: color(i), fill: color(i) + 'b0', paths: uPlot.paths.bars({ size: [0.5, 140] }), points: { show: false },
				value: function (u, v) { return fixed(v, 1, 'µs'); } });
			columns.push(xs.map(function (x) { return x === i ? c.usPerRequest : null; }));
		});
		return {
			opts: {
				title: 'Envoy CPU per request',
				scales: { x: { time: false, range: [-0.5, n - 0.5] }, y: { range: function (u, min, max) { return [0, max * 1.15]; } } },
				axes: [
					{ label: 'chain', splits: function () { return xs; }, filter: function (u, splits) { return splits; }, values: function (u, vs) { return vs.map(function (v) { return data.cpu[v] ? data.cpu[v].label : ''; }); } },
					{ label: 'µs of CPU per request', size: 64 },
				],
				series: series,
			},
			data: columns,
		};
	});
})();`;

const pageCss = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; margin: 24px auto; max-width: 1140px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 12px; } h2 { font-size: 17px; margin: 28px 0 8px; }
dl.what { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 16px; }
dl.what dt { color: #4b5563; } dl.what dd { margin: 0; }
code { font: 13px ui-monospace, monospace; background: #f3f4f6; padding: 1px 4px; border-radius: 3px; word-break: break-all; }
div.table { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13.5px; width: 100%; }
th, td { padding: 5px 6px; border-bottom: 1px solid #e5e7eb; text-align: right; white-space: nowrap; }
th[scope=row], thead th:first-child { text-align: left; }
th[scope=row] { white-space: normal; min-width: 9em; }
thead th, tr[data-chain=added] td { white-space: normal; vertical-align: bottom; }
th .chain { font: 12px ui-monospace, monospace; color: #4b5563; font-weight: normal; overflow-wrap: anywhere; }
tr[data-chain=added] { font-weight: 600; background: #eff6ff; }
.bad { color: #b91c1c; font-weight: 600; } .warn { color: #b45309; font-weight: 600; }
.chart { margin: 8px 0 20px; min-height: 40px; }
.chart[data-drawn=false] { color: #b91c1c; }
`;

function chartBox(id: string): string {
	return `<div class="chart" id="${id}" data-chart="${id.replace(/^chart-/u, '')}"></div>`;
}

/** The HTML report of a measurement: one self-contained page (uPlot inlined, no network). */
export function renderMeasureReport(result: MeasureResult): string {
	const uplot = loadUplot();
	const plugins = pluginsOf(result);
	const title = `meshbox measure: ${plugins.length > 0 ? plugins.join(' → ') : 'baseline'} on Envoy ${result.envoyVersion}`;
	const charts = [
		'<h2>Latency</h2>', chartBox('chart-latency'),
		'<h2>Memory</h2>', ...result.chains.map((_chain, index) => chartBox(`chart-memory-${index}`)),
		...(result.updates ? [chartBox('chart-updates')] : []),
		'<h2>CPU</h2>', chartBox('chart-cpu'),
	];
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${uplot.css}</style>
<style>${pageCss}</style>
</head>
<body>
<h1>What your plugins cost</h1>
${header(result)}
<h2>Figures</h2>
${figuresTable(result)}
${charts.join('\n')}
${howToRead}
<script type="application/json" id="meshbox-data">${jsonForScript(chartData(result))}</script>
<script>${uplot.script}</script>
<script>${pageScript}</script>
</body>
</html>
`;
}
