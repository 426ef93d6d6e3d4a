/**
 * ava's TAP (`ava --tap`) as a JUnit XML file, for CI systems that show test results from JUnit files (the
 * workflow `meshbox init` writes uploads it). Read line by line as it streams (./commands/junit.ts).
 *
 * What ava's TAP says (its reporter, ava/lib/reporters/tap.js, through supertap): `ok N - file › title`,
 * `not ok N - …` followed by a YAML block (`  ---` … `  ...`: name, message, values, at), `# SKIP` / `# TODO`
 * directives, and a test's `t.log()` lines as `#   …` comments after its line. Each test becomes a `testcase`
 * whose classname is its file (`file › ` prefix; ava leaves it out when one file ran) and whose time is the
 * time since the previous result: TAP has no durations, and ava prints a result when its test ends. A failed
 * scenario's debug report (`meshbox: the sandbox's debug report … is in DIR`, logged by sandboxFor/stories)
 * becomes a `meshbox.report` property and a `[[ATTACHMENT|DIR]]` line, which Jenkins and GitLab link.
 */

export type JunitCase = {
	readonly classname: string;
	readonly name: string;
	readonly status: 'passed' | 'failed' | 'skipped' | 'todo';
	readonly seconds: number;
	readonly failure?: { readonly message: string; readonly details: string };
	readonly logs: readonly string[];
	readonly report?: string;
};

type Pending = { classname: string; name: string; status: JunitCase['status']; seconds: number; yaml: string[]; logs: string[]; inYaml: boolean };

const resultLine = /^(ok|not ok) \d+ - (.*?)(?:\s+# (SKIP|TODO)\b.*)?$/;
const reportLine = /debug report .* is in (\S+)$/;

export class TapToJunit {
	readonly cases: JunitCase[] = [];
	private pending: Pending | undefined;
	private last: number;

	constructor(private readonly now: () => number = () => performance.now()) {
		this.last = now();
	}

	push(line: string): void {
		const result = resultLine.exec(line);
		if (result) {
			this.flush();
			const [, ok, title = '', directive] = result;
			const separator = title.indexOf(' › ');
			const at = this.now();
			this.pending = {
				classname: separator > 0 ? title.slice(0, separator) : 'tests',
				name: separator > 0 ? title.slice(separator + ' › '.length) : title,
				status: directive === 'SKIP' ? 'skipped' : directive === 'TODO' ? 'todo' : ok === 'ok' ? 'passed' : 'failed',
				seconds: (at - this.last) / 1000,
				yaml: [],
				logs: [],
				inYaml: false,
			};
			this.last = at;
			return;
		}

		const pending = this.pending;
		if (!pending) {
			return;
		}

		if (pending.inYaml) {
			if (line.trim() === '...') {
				pending.inYaml = false;
			} else {
				pending.yaml.push(line.replace(/^ {4}/, ''));
			}
		} else if (line.trim() === '---') {
			pending.inYaml = true;
		} else if (line.startsWith('#   ')) {
			pending.logs.push(line.slice(4));
		} else if (line.startsWith('#') || /^1\.\.\d+/.test(line)) {
			this.flush();
		}
	}

	/** The cases read so far, the last one included. */
	finish(): JunitCase[] {
		this.flush();
		return this.cases;
	}

	private flush(): void {
		const pending = this.pending;
		if (!pending) {
			return;
		}

		this.pending = undefined;
		const report = pending.logs.map(log => reportLine.exec(log)?.[1]).find(found => found !== undefined);
		const message = pending.yaml.find(line => line.startsWith('message:'))?.slice('message:'.length).trim().replace(/^['"]|['"]$/g, '');
		this.cases.push({
			classname: pending.classname,
			name: pending.name,
			status: pending.status,
			seconds: pending.seconds,
			logs: pending.logs,
			...(report === undefined ? {} : { report }),
			...(pending.status === 'failed' ? { failure: { message: message ?? 'failed', details: pending.yaml.join('\n') } } : {}),
		});
	}
}

/** The JUnit XML document (one testsuite per classname, as JUnit's own files have one per class). */
export function junitXml(cases: readonly JunitCase[]): string {
	const suites = new Map<string, JunitCase[]>();
	for (const entry of cases) {
		suites.set(entry.classname, [...suites.get(entry.classname) ?? [], entry]);
	}

	const count = (list: readonly JunitCase[], status: JunitCase['status']) => list.filter(entry => entry.status === status).length;
	const time = (list: readonly JunitCase[]) => list.reduce((sum, entry) => sum + entry.seconds, 0).toFixed(3);
	const lines = ['<?xml version="1.0" encoding="UTF-8"?>',
		`<testsuites name="meshbox" tests="${cases.length}" failures="${count(cases, 'failed')}" skipped="${count(cases, 'skipped') + count(cases, 'todo')}" time="${time(cases)}">`];
	for (const [name, list] of suites) {
		lines.push(`  <testsuite name="${xml(name)}" tests="${list.length}" failures="${count(list, 'failed')}" skipped="${count(list, 'skipped') + count(list, 'todo')}" time="${time(list)}">`);
		for (const entry of list) {
			lines.push(`    <testcase classname="${xml(entry.classname)}" name="${xml(entry.name)}" time="${entry.seconds.toFixed(3)}">`);
			if (entry.report !== undefined) {
				lines.push('      <properties>', `        <property name="meshbox.report" value="${xml(entry.report)}"/>`, '      </properties>');
			}

			if (entry.failure) {
				lines.push(`      <failure message="${xml(entry.failure.message)}">${xml(entry.failure.details)}</failure>`);
			} else if (entry.status === 'skipped' || entry.status === 'todo') {
				lines.push(`      <skipped message="${entry.status}"/>`);
			}

			const out = [...entry.logs, ...(entry.report === undefined ? [] : [`[[ATTACHMENT|${entry.report}]]`])];
			if (out.length > 0) {
				lines.push(`      <system-out>${xml(out.join('\n'))}</system-out>`);
			}

			lines.push('    </testcase>');
		}

		lines.push('  </testsuite>');
	}

	lines.push('</testsuites>', '');
	return lines.join('\n');
}

/** Text for an XML attribute or element: escaped, without the control characters XML 1.0 cannot hold. */
function xml(text: string): string {
	return text
		// eslint-disable-next-line no-control-regex
		.replaceAll(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '')
		.replaceAll('&', '&amp;')
		.replaceAll('<', '&lt;')
		.replaceAll('>', '&gt;')
		.replaceAll('"', '&quot;');
}
