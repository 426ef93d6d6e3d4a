/**
 * `npm run conformance [-- --envoy-versions 1.36,1.38,1.40] [--out FILE]`: runs the conformance tests
 * (test/conformance) on real Envoy and prints the feature × SDK matrix: pass, FAIL, SKIPPED, or "SDK lacks
 * it" with the reason. With `--envoy-versions` the tests run once per Envoy version (each installed through
 * meshbox's provisioning first) and the matrix has a column group per version, plus a column naming every
 * cell whose result differs between versions. Exits non-zero when any cell fails, has a skipped or todo
 * test, or has neither a test nor a documented gap. `--out FILE` also writes the matrix as Markdown.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { provisionEnvoy } from '../src/envoy-binary/provision.ts';
import { behaviourOn, cellTitlePattern, features, gapReason, partialGaps, sdkLabels, sdks, type Feature, type Sdk } from './conformance-matrix.ts';

type CellResult = { passed: number; failed: number; skipped: number };
type Cell = { kind: 'pass' | 'fail' | 'skipped' | 'lacks' | 'missing'; text: string };
/** One run of the tests: on the default Envoy (`requested` undefined) or on one version. */
type Run = { requested: string | undefined; version: string; results: Map<string, CellResult>; exitCode: number | undefined; stderr: string };

const { values } = parseArgs({ options: { out: { type: 'string' }, 'envoy-versions': { type: 'string' } } });
const requestedVersions = values['envoy-versions'] === undefined
	? [undefined]
	: [...new Set(values['envoy-versions'].split(',').map(version => version.trim()).filter(Boolean))];

const runs: Run[] = [];
for (const requested of requestedVersions) {
	// Installed (once, under the cache lock) before the tests, so the first test is not charged with it.
	const envoy = await provisionEnvoy({ ...(requested === undefined ? {} : { version: requested, versionOrigin: '--envoy-versions' }), onProgress: line => process.stderr.write(`${line}\n`) });
	process.stderr.write(`conformance: running test/conformance on real Envoy ${envoy.version}…\n`);
	const started = Date.now();
	const run = await execa('npx', ['ava', '--tap', 'test/conformance/'], {
		reject: false,
		all: false,
		// Exact, so every test file of this run gets the same Envoy as the column says.
		env: requested === undefined ? {} : { MESHBOX_ENVOY_VERSION: envoy.version },
	});
	process.stderr.write(`conformance: Envoy ${envoy.version}: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
	runs.push({ requested, version: envoy.version, results: parseTap(run.stdout), exitCode: run.exitCode, stderr: run.stderr });
}

function parseTap(stdout: string): Map<string, CellResult> {
	const results = new Map<string, CellResult>();
	for (const line of stdout.split('\n')) {
		// `ok 1 - title # SKIP` (test.skip) and `not ok 2 - title # TODO` (test.todo) are not passes.
		const status = /^(ok|not ok) \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/.exec(line);
		const title = status?.[2] ? cellTitlePattern.exec(status[2]) : undefined;
		if (!status || !title?.groups) {
			continue;
		}

		const key = `${title.groups.sdk}/${title.groups.feature}`;
		const result = results.get(key) ?? { passed: 0, failed: 0, skipped: 0 };
		if (status[3]) {
			result.skipped++;
		} else if (status[1] === 'ok') {
			result.passed++;
		} else {
			result.failed++;
		}

		results.set(key, result);
	}

	return results;
}

function cellFor(run: Run, sdk: Sdk, feature: Feature): Cell {
	const result = run.results.get(`${sdk}/${feature}`);
	const gap = gapReason(sdk, feature);
	if (result) {
		const total = result.passed + result.failed + result.skipped;
		if (result.failed > 0) {
			return { kind: 'fail', text: `FAIL (${result.failed} of ${total})` };
		}

		// A feature whose behaviour differs between Envoy releases says which one this Envoy has (its tests assert it).
		const behaviour = behaviourOn(feature, sdk, run.version);
		return result.skipped > 0
			? { kind: 'skipped', text: `SKIPPED (${result.skipped} of ${total})` }
			: { kind: 'pass', text: `pass (${result.passed})${partialGaps[sdk]?.[feature] ? `; lacks ${partialGaps[sdk]?.[feature]}` : ''}${behaviour && runs.length > 1 ? `; ${behaviour}` : ''}` };
	}

	return gap ? { kind: 'lacks', text: `SDK lacks it: ${gap}` } : { kind: 'missing', text: 'NOT TESTED' };
}

/**
 * The cells of a row whose result is not the same on every version, e.g. `Go: FAIL (1 of 2) on 1.36.4; pass (2)
 * on 1.38.3, 1.40.0`. Empty with one run. A difference is a result, never hidden behind a pass elsewhere.
 */
function differences(feature: Feature): string {
	if (runs.length < 2) {
		return '';
	}

	// SDKs whose cells differ the same way are named together.
	const bySdks = new Map<string, string[]>();
	for (const sdk of sdks) {
		const byText = new Map<string, string[]>();
		for (const run of runs) {
			const text = cellFor(run, sdk, feature).text;
			byText.set(text, [...(byText.get(text) ?? []), run.version]);
		}

		if (byText.size > 1) {
			const difference = [...byText].map(([text, versions]) => `${text} on ${versions.join(', ')}`).join('; ');
			bySdks.set(difference, [...(bySdks.get(difference) ?? []), sdkLabels[sdk]]);
		}
	}

	return bySdks.size > 0 ? [...bySdks].map(([difference, labels]) => `${labels.join(', ')}: ${difference}`).join(' / ') : 'same on all';
}

const multi = runs.length > 1;
const rows = (Object.keys(features) as Feature[]).map(feature => ({
	feature,
	cells: runs.flatMap(run => sdks.map(sdk => cellFor(run, sdk, feature))),
	differs: differences(feature),
}));
const header = ['feature', ...runs.flatMap(run => sdks.map(sdk => (multi ? `${sdkLabels[sdk]} @ Envoy ${run.version}` : sdkLabels[sdk]))), ...(multi ? ['differs between versions'] : [])];
const markdown = [
	`| ${header.join(' | ')} |`,
	`|${header.map(() => '---').join('|')}|`,
	...rows.map(row => `| ${row.feature}: ${features[row.feature]} | ${row.cells.map(cell => cell.text).join(' | ')}${multi ? ` | ${row.differs}` : ''} |`),
].join('\n');

process.stdout.write(`${markdown}\n`);
if (values.out) {
	await writeFile(values.out, `${markdown}\n`);
	process.stderr.write(`conformance: matrix written to ${values.out}\n`);
}

const bad = rows.flatMap(row => row.cells).filter(cell => cell.kind === 'fail' || cell.kind === 'skipped' || cell.kind === 'missing').length;
const failedRuns = runs.filter(run => run.exitCode !== 0);
if (bad > 0 || failedRuns.length > 0) {
	process.stderr.write(`conformance: ${bad} cell(s) failed, skipped or untested\n`);
	for (const run of failedRuns) {
		process.stderr.write(`conformance: on Envoy ${run.version}, ava exited ${run.exitCode ?? '?'}\n${run.stderr.split('\n').slice(-20).join('\n')}\n`);
	}

	process.exitCode = 1;
}
