/**
 * Warm ≡ fresh, measured by the suite itself (issue #19): CI (.ci/run) runs the scenario and conformance tests
 * on warm Envoys (the default, inside `npm test`) and again with MESHBOX_FRESH=1 (a dedicated Envoy per
 * sandbox), both with `ava --tap`, and this compares the two runs test by test:
 *
 *   node --import tsx scripts/compare-tap.ts --warm ava.tap --fresh ava-fresh.tap \
 *     [--only '^(scenarios|test › conformance) › '] [--except '\[docker']
 *
 * A test is named by its TAP title (ava prefixes the file: `scenarios › live-updates › [local] …`). A
 * difference is a test whose outcome (pass, FAIL, SKIP, TODO) differs between the runs, or that only one run
 * has. `--only`: which tests of the warm run the fresh run repeats (the warm run is the whole suite); every
 * test of the fresh run counts, so a crash there (ava titles it by the error) is a difference too. `--except`:
 * tests neither run is compared on (the docker runtime has no warm Envoys; the fresh pass leaves it out).
 * Prints each difference by name; exits 1 on any difference, 2 when there is nothing to compare.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export type TapOutcome = 'pass' | 'FAIL' | 'SKIP' | 'TODO';

export type TapDifference = {
	readonly title: string;
	/** undefined: the run does not have the test. */
	readonly warm: TapOutcome | undefined;
	readonly fresh: TapOutcome | undefined;
};

export type TapComparison = {
	/** Tests both runs have (in scope). */
	readonly compared: number;
	readonly differences: readonly TapDifference[];
};

/** Each test line of a TAP text (`ok 3 - title`, `not ok 4 - title`, `… # SKIP`, `… # TODO`), by title. */
export function parseTap(text: string): Map<string, TapOutcome> {
	const outcomes = new Map<string, TapOutcome>();
	for (const line of text.split(/\r?\n/)) {
		const test = /^(ok|not ok) \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/.exec(line);
		if (!test) {
			continue;
		}

		const title = test[2]!;
		const outcome: TapOutcome = test[3] === 'SKIP' || test[3] === 'TODO' ? test[3] : test[1] === 'ok' ? 'pass' : 'FAIL';
		// A title twice in one run (ava forbids it within a file; a crash line may repeat): the worse outcome holds.
		const before = outcomes.get(title);
		outcomes.set(title, before === 'FAIL' ? before : outcome);
	}

	return outcomes;
}

/**
 * Compares the runs. `only`: the warm run's tests the fresh run repeats; `except`: tests left out of both.
 * Differences come in the warm run's order, then tests only the fresh run has.
 */
export function compareTap(warmText: string, freshText: string, { only, except }: { only?: RegExp; except?: RegExp } = {}): TapComparison {
	const excluded = (title: string) => except?.test(title) ?? false;
	const warm = [...parseTap(warmText)].filter(([title]) => !excluded(title) && (only?.test(title) ?? true));
	const fresh = new Map([...parseTap(freshText)].filter(([title]) => !excluded(title)));
	const warmTitles = new Set(warm.map(([title]) => title));
	const differences: TapDifference[] = [];
	let compared = 0;
	for (const [title, outcome] of warm) {
		const other = fresh.get(title);
		if (other !== undefined) {
			compared++;
		}

		if (other !== outcome) {
			differences.push({ title, warm: outcome, fresh: other });
		}
	}

	for (const [title, outcome] of fresh) {
		if (!warmTitles.has(title)) {
			differences.push({ title, warm: undefined, fresh: outcome });
		}
	}

	return { compared, differences };
}

/** One line per difference: `title: warm pass, fresh FAIL` or `title: only in the fresh run (FAIL)`. */
export function describeDifference({ title, warm, fresh }: TapDifference): string {
	if (warm === undefined) {
		return `${title}: only in the fresh run (${fresh})`;
	}

	if (fresh === undefined) {
		return `${title}: only in the warm run (${warm})`;
	}

	return `${title}: warm ${warm}, fresh ${fresh}`;
}

async function main(): Promise<number> {
	const { values } = parseArgs({ options: { warm: { type: 'string' }, fresh: { type: 'string' }, only: { type: 'string' }, except: { type: 'string' } } });
	if (!values.warm || !values.fresh) {
		process.stderr.write('usage: compare-tap.ts --warm WARM.tap --fresh FRESH.tap [--only REGEX] [--except REGEX]\n');
		return 2;
	}

	const [warmText, freshText] = await Promise.all([readFile(values.warm, 'utf8'), readFile(values.fresh, 'utf8')]);
	const { compared, differences } = compareTap(warmText, freshText, {
		only: values.only === undefined ? undefined : new RegExp(values.only),
		except: values.except === undefined ? undefined : new RegExp(values.except),
	});
	if (compared === 0) {
		// Nothing in common: a run that crashed before its first test, or a scope that matches nothing.
		process.stderr.write(`warm ≡ fresh: no test in both ${values.warm} and ${values.fresh} to compare\n`);
		for (const difference of differences.slice(0, 20)) {
			process.stderr.write(`  ${describeDifference(difference)}\n`);
		}

		return 2;
	}

	if (differences.length > 0) {
		process.stderr.write(`warm ≡ fresh: ${differences.length} difference(s) among ${compared} tests compared:\n`);
		for (const difference of differences) {
			process.stderr.write(`  ${describeDifference(difference)}\n`);
		}

		return 1;
	}

	process.stdout.write(`warm ≡ fresh: ${compared} tests compared, same outcome in both runs\n`);
	return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
	process.exitCode = await main();
}
