/**
 * `meshbox junit [--out FILE]`: `ava --tap` on stdin, passed through to stdout as it comes, and written as
 * JUnit XML to FILE (default junit.xml) at the end (../junit.ts). The exit status is the tests': 1 when one
 * failed or none ran (the command before the pipe failed before testing, e.g. the plugin's build), so that a
 * pipe `npm test -- --tap | meshbox junit` fails the CI step even in a shell without pipefail.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Command } from '../command.ts';
import { junitXml, TapToJunit } from '../junit.ts';
import { usageError } from '../usage.ts';

const junitOptions = {
	out: { type: 'string', short: 'o' },
	help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const usage = 'ava --tap | meshbox junit [--out FILE]';

export const junitCommand: Command = {
	name: 'junit',
	summary: 'turn `ava --tap` on stdin into a JUnit XML file (test classes, times, failure reports), passing the TAP through',
	usage: [usage, '', '  -o, --out FILE      where to write the JUnit XML (default: junit.xml)'].join('\n'),
	async run({ argv, out, err }) {
		let values;
		try {
			({ values } = parseArgs({ args: [...argv], options: junitOptions, allowPositionals: false, strict: true }));
		} catch (error) {
			throw usageError(error, junitOptions, usage);
		}

		if (values.help) {
			out(this.usage);
			return 0;
		}

		const file = values.out ?? 'junit.xml';
		const converter = new TapToJunit();
		for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
			out(line);
			converter.push(line);
		}

		const cases = converter.finish();
		await writeFile(file, junitXml(cases));
		const failed = cases.filter(entry => entry.status === 'failed').length;
		err(`meshbox junit: ${cases.length} test${cases.length === 1 ? '' : 's'}, ${failed} failed: ${path.resolve(file)}`);
		if (cases.length === 0) {
			err('meshbox junit: no test results on stdin (did the test command fail before testing? its output is above)');
			return 1;
		}

		return failed > 0 ? 1 : 0;
	},
};
