/**
 * `npm run conformance [-- --out FILE]`: runs the conformance tests (test/conformance) on real Envoy and
 * prints the feature × SDK matrix: pass, FAIL, SKIPPED, or "SDK lacks it" with the reason. Exits non-zero when
 * any cell fails, has a skipped or todo test, or has neither a test nor a documented gap. `--out FILE` also writes the matrix as Markdown.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { cellTitlePattern, features, gapReason, partialGaps, sdkLabels, sdks, type Feature, type Sdk } from '../test/conformance/matrix.ts';

type CellResult = { passed: number; failed: number; skipped: number };
type Cell = { kind: 'pass' | 'fail' | 'skipped' | 'lacks' | 'missing'; text: string };

const { values } = parseArgs({ options: { out: { type: 'string' } } });

process.stderr.write('conformance: running test/conformance on real Envoy…\n');
const run = await execa('npx', ['ava', '--tap', 'test/conformance/'], { reject: false, all: false });
const results = new Map<string, CellResult>();
for (const line of run.stdout.split('\n')) {
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

function cellFor(sdk: Sdk, feature: Feature): Cell {
	const result = results.get(`${sdk}/${feature}`);
	const gap = gapReason(sdk, feature);
	if (result) {
		const total = result.passed + result.failed + result.skipped;
		if (result.failed > 0) {
			return { kind: 'fail', text: `FAIL (${result.failed} of ${total})` };
		}

		return result.skipped > 0
			? { kind: 'skipped', text: `SKIPPED (${result.skipped} of ${total})` }
			: { kind: 'pass', text: `pass (${result.passed})${partialGaps[sdk]?.[feature] ? `; lacks ${partialGaps[sdk]?.[feature]}` : ''}` };
	}

	return gap ? { kind: 'lacks', text: `SDK lacks it: ${gap}` } : { kind: 'missing', text: 'NOT TESTED' };
}

const rows = (Object.keys(features) as Feature[]).map(feature => ({ feature, cells: sdks.map(sdk => cellFor(sdk, feature)) }));
const header = ['feature', ...sdks.map(sdk => sdkLabels[sdk])];
const markdown = [
	`| ${header.join(' | ')} |`,
	`|${header.map(() => '---').join('|')}|`,
	...rows.map(row => `| ${row.feature}: ${features[row.feature]} | ${row.cells.map(cell => cell.text).join(' | ')} |`),
].join('\n');

process.stdout.write(`${markdown}\n`);
if (values.out) {
	await writeFile(values.out, `${markdown}\n`);
	process.stderr.write(`conformance: matrix written to ${values.out}\n`);
}

const bad = rows.flatMap(row => row.cells).filter(cell => cell.kind === 'fail' || cell.kind === 'skipped' || cell.kind === 'missing').length;
if (bad > 0 || run.exitCode !== 0) {
	process.stderr.write(`conformance: ${bad} cell(s) failed, skipped or untested; ava exited ${run.exitCode ?? '?'}\n${run.exitCode === 0 ? '' : run.stderr.split('\n').slice(-20).join('\n')}\n`);
	process.exitCode = 1;
}
