/**
 * The HTML report of `meshbox measure` (src/measure/report-html.ts), opened in a real browser: Debian's
 * headless Chromium loads the rendered file and dumps the DOM after the page script ran, so the tests see what a
 * user sees — the charts drew (uPlot made a canvas of non-zero size and the page marked the container), the
 * figures table shows the numbers, and plugin names with HTML in them are text, never markup or script.
 *
 * The MeasureResult is a fixture (./measure-result.json, realistic figures of a 2-core run): a test double for
 * the measuring part, which its own tests run against real Envoy. Without Chromium the browser tests are skipped
 * with one line saying how to install it (MESHBOX_STRICT=1, as in CI, makes that a failure).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import { renderMeasureReport } from '../../src/measure/report-html.ts';
import type { MeasureResult } from '../../src/measure/result.ts';
import { decideRequirement, isExecutable, type SystemRequirement } from '../helpers/requirements.ts';
import { requirementTest } from '../helpers/skip.ts';

/** Debian's chromium; MESHBOX_CHROMIUM_BIN names another (or a missing one, to see the skip). */
const chromiumBinary = process.env.MESHBOX_CHROMIUM_BIN ?? '/usr/bin/chromium';

const chromiumRequirement: SystemRequirement = {
	what: `Debian's chromium (${chromiumBinary})`,
	neededBy: 'the HTML measure report tests (headless Chromium draws the charts)',
	install: 'sudo apt-get install -y chromium (or set MESHBOX_CHROMIUM_BIN to a Chromium binary)',
	present: isExecutable(chromiumBinary),
};

const browserTest = requirementTest(decideRequirement(chromiumRequirement));

const fixture = JSON.parse(readFileSync(new URL('measure-result.json', import.meta.url), 'utf8')) as MeasureResult;

/**
 * Renders `result`, writes it to a temp file and returns the DOM headless Chromium has after loading it (the
 * page script runs before the load event, so its markers are in the dump). The profile and the file live in a
 * temp dir removed afterwards.
 */
async function domInChromium(result: MeasureResult): Promise<string> {
	if (!chromiumRequirement.present) {
		// Reached under MESHBOX_STRICT=1 only (otherwise skipped): say what to do, not a spawn error.
		throw new Error(`${chromiumRequirement.what} is missing: ${chromiumRequirement.neededBy} need it; install it with: ${chromiumRequirement.install}`);
	}

	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-report-'));
	try {
		const file = path.join(dir, 'measure-report.html');
		await writeFile(file, renderMeasureReport(result));
		const { stdout } = await execa(chromiumBinary, [
			'--headless', '--disable-gpu', '--no-sandbox', '--no-first-run', '--no-default-browser-check', '--disable-extensions',
			`--user-data-dir=${path.join(dir, 'profile')}`,
			'--window-size=1200,900',
			'--dump-dom', pathToFileURL(file).href,
		], { timeout: 90_000 });
		return stdout;
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}

type DrawnChart = { readonly name: string; readonly drawn: string | undefined; readonly canvases: ReadonlyArray<{ readonly width: number; readonly height: number }> };

/** Each chart container (`data-chart`) in the dumped DOM: its data-drawn marker and the canvases inside it. */
function chartsIn(dom: string): DrawnChart[] {
	const starts = [...dom.matchAll(/<div\b[^>]*\bdata-chart="([^"]+)"[^>]*>/gu)];
	return starts.map((start, index) => {
		const tag = start[0];
		const end = starts[index + 1]?.index ?? dom.length;
		const inside = dom.slice(start.index, end);
		const canvases = [...inside.matchAll(/<canvas\b[^>]*\bwidth="(\d+)"[^>]*\bheight="(\d+)"/gu)]
			.map(match => ({ width: Number(match[1]), height: Number(match[2]) }));
		return { name: start[1] ?? '', drawn: /\bdata-drawn="([^"]*)"/u.exec(tag)?.[1], canvases };
	});
}

/** The text of the figures table's cell `figure` in the row of chain `chain` (entities decoded as a user reads them). */
function cell(dom: string, chain: string, figure: string): string | undefined {
	const row = new RegExp(`<tr data-chain="${chain}">(.*?)</tr>`, 'su').exec(dom)?.[1];
	const text = row ? new RegExp(`<td data-figure="${figure}"[^>]*>(.*?)</td>`, 'su').exec(row)?.[1] : undefined;
	return text?.replaceAll('&nbsp;', ' ').replaceAll('\u00A0', ' ').replaceAll('&amp;', '&');
}

function ms(value: number): string {
	return `${value.toFixed(2)} ms`;
}

let dom = '';

browserTest.before(async () => {
	dom = await domInChromium(fixture);
});

browserTest('every chart drew in headless Chromium: data-drawn="true" and a canvas of non-zero size', t => {
	const charts = chartsIn(dom);
	// Latency, memory per chain, memory over the live updates, CPU.
	t.deepEqual(charts.map(chart => chart.name), ['latency', ...fixture.chains.map((_chain, index) => `memory-${index}`), 'updates', 'cpu']);
	for (const chart of charts) {
		t.is(chart.drawn, 'true', `chart ${chart.name} did not draw`);
		t.true(chart.canvases.length > 0 && chart.canvases.every(canvas => canvas.width > 0 && canvas.height > 0), `chart ${chart.name}: ${JSON.stringify(chart.canvases)}`);
	}
});

browserTest('the figures table shows each chain\'s numbers and what the plugins add', t => {
	const [baseline, plugins] = fixture.chains;
	if (!baseline || !plugins) {
		t.fail('the fixture has a baseline and a plugins chain');
		return;
	}

	for (const chain of [baseline, plugins]) {
		t.is(cell(dom, chain.name, 'p50'), ms(chain.latency.p50Ms), chain.name);
		t.is(cell(dom, chain.name, 'p90'), ms(chain.latency.p90Ms), chain.name);
		t.is(cell(dom, chain.name, 'p99'), ms(chain.latency.p99Ms), chain.name);
		t.is(cell(dom, chain.name, 'max'), ms(chain.latency.maxMs), chain.name);
		t.is(cell(dom, chain.name, 'cpu'), `${chain.cpu.usPerRequest.toFixed(1)} µs`, chain.name);
		t.is(cell(dom, chain.name, 'memory-growth'), `${chain.memory.growthBytesPerRequest.toFixed(1)} ± ${chain.memory.growthUncertaintyBytesPerRequest.toFixed(1)} B/req`, chain.name);
		t.is(cell(dom, chain.name, 'leak'), chain.memory.leakSuspected ? 'suspected' : 'no', chain.name);
	}

	// Throughput reads with thousands separators: 6124.7 → 6,125 req/s.
	t.is(cell(dom, 'baseline', 'throughput'), '6,125 req/s');
	t.is(cell(dom, 'plugins', 'throughput'), '4,981 req/s');
	// The plugins beside the baseline: the result's own added figures, signed.
	t.is(cell(dom, 'added', 'p50'), `+${ms(fixture.latency.addedP50Ms)}`);
	t.is(cell(dom, 'added', 'p99'), `+${ms(fixture.latency.addedP99Ms)}`);
	t.is(cell(dom, 'added', 'cpu'), '+53.5 µs (+45%)');
	t.is(cell(dom, 'added', 'throughput'), '−1,144 req/s (−19%)');
	// Memory: the slopes' difference, their uncertainties in quadrature: 2.6 − 0.4 ± √(1.9² + 1.3²).
	t.is(cell(dom, 'added', 'memory-growth'), '+2.2 ± 2.3 B/req');
	// What was measured, in the header.
	t.regex(dom, /Envoy worker threads<\/dt><dd>2<\/dd>/u);
	t.regex(dom, /2 cores, load average 1\.42 \/ 1\.18 \/ 0\.97/u);
	t.regex(dom, /id="updates-figures">Live updates: 20 swaps/u);
});

/** Names that would run script or add elements if the report pasted them into the page as HTML. */
const hostileNames = [
	'</script><script>document.documentElement.setAttribute(\'data-injected\', \'script\')</script>',
	'<img src=x onerror="document.documentElement.setAttribute(\'data-injected\', \'img\')">',
	'"><b id="injected-bold">bold</b>',
];

function withHostileNames(result: MeasureResult): MeasureResult {
	return {
		...result,
		envoyVersion: `${result.envoyVersion}<i id="injected-italic">`,
		loadGenerator: '<script>document.documentElement.setAttribute(\'data-injected\', \'generator\')</script>',
		chains: result.chains.map(chain => (chain.plugins.length > 0 ? { ...chain, plugins: [...chain.plugins, ...hostileNames] } : chain)),
	};
}

browserTest('plugin names with HTML in them are shown as text, never run as script or parsed as markup', async t => {
	const hostileDom = await domInChromium(withHostileNames(fixture));
	// Nothing ran: the page would have set data-injected on <html>.
	t.notRegex(hostileDom, /data-injected=/u);
	// No element came from a name: no <img>, <b> or <i> tag, no tag with their ids (as text they may appear).
	t.notRegex(hostileDom, /<(?:img|b|i)\b/u);
	t.notRegex(hostileDom, /<[^>]*\bid="injected-/u);
	// The names are there, as text (Chromium serializes text with < and > escaped).
	t.true(hostileDom.includes('&lt;/script&gt;&lt;script&gt;document.documentElement.setAttribute(\'data-injected\', \'script\')&lt;/script&gt;'));
	t.true(hostileDom.includes('&lt;img src=x onerror="document.documentElement.setAttribute(\'data-injected\', \'img\')"&gt;'));
	// And the page still works: the names reach the charts' legends through the JSON island, which they did not break.
	const charts = chartsIn(hostileDom);
	t.true(charts.length > 0 && charts.every(chart => chart.drawn === 'true'), JSON.stringify(charts.map(chart => [chart.name, chart.drawn])));
});

test('the report is self-contained: uPlot inlined, no script or stylesheet fetched, the same scripts whatever the names', t => {
	const html = renderMeasureReport(fixture);
	const hostile = renderMeasureReport(withHostileNames(fixture));
	t.notRegex(html, /<script\b[^>]*\bsrc=|<link\b/iu);
	// uPlot's browser build defines the global the page script draws with.
	t.regex(html, /<script>[^<]*var uPlot\s*=\s*function/u, 'uPlot is inlined');
	// The JSON island, uPlot and the page script: hostile names add no <script> and end none early.
	t.is(hostile.match(/<script\b/giu)?.length, 3);
	t.is(hostile.match(/<\/script>/giu)?.length, 3);
	t.is(html.match(/<script\b/giu)?.length, 3);
});
