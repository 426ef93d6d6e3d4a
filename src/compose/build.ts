/**
 * One run of a plugin's `build:` command for `meshbox up --watch` (./watch.ts).
 *
 * The build runs in its own process group (a new session: `detached`), so that stopping it ends everything it
 * started, not only the command itself: cargo's rustc, a script's `sleep`. Stopping is SIGTERM to the group,
 * then SIGKILL to it after `stopGraceMs`; when meshbox exits at once (a second Ctrl+C) the group gets SIGKILL on
 * the way out. A terminal's Ctrl+C no longer reaches the build (another group), so meshbox must do this itself.
 *
 * Its output is read as it comes and only a bounded part is kept (the first lines, the first error, the last
 * lines): a build may print tens of megabytes, which execa's buffering held whole, as a string, for as long
 * as meshbox ran.
 */
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import { Ring } from '../util/ring.ts';

/**
 * Lines kept of a build's output (what a failed build shows): from the start, from the first error on, and
 * from the end.
 */
export const outputHeadLines = 10;
export const outputErrorLines = 15;
export const outputTailLines = 20;
/** Longer lines are cut (a minified bundle or a progress bar without newlines is one huge line). */
const maxLineChars = 1000;
/** Between SIGTERM and SIGKILL of a stopped build's group. */
const stopGraceMs = 2000;

export type BuildOutcome =
	| { readonly kind: 'built' }
	| { readonly kind: 'failed'; readonly why: string; readonly output: readonly string[] }
	/** Stopped by meshbox (`stop()`, `kill()`): nothing to report. */
	| { readonly kind: 'stopped' };

export type RunningBuild = {
	/** The build command's pid, also its process group's id (undefined: it did not start). */
	readonly pid: number | undefined;
	readonly done: Promise<BuildOutcome>;
	/** Ends the whole group (SIGTERM, then SIGKILL); resolves once the command exited. */
	stop(): Promise<void>;
	/** SIGKILL to the whole group, synchronously: for a process that is exiting. */
	kill(): void;
};

export function startBuild(command: readonly string[], cwd: string): RunningBuild {
	const subprocess = execa(command[0]!, command.slice(1), {
		cwd, reject: false, stdin: 'ignore', all: true,
		// Read as it comes into OutputSummary, not buffered whole.
		buffer: false,
		// Its own process group, which `stop()` ends as a whole; execa's `cleanup` only knows the command itself.
		detached: true, cleanup: false,
	});
	const output = new OutputSummary();
	const decoder = new StringDecoder('utf8');
	subprocess.all?.on('data', (chunk: Buffer | string) => {
		output.push(typeof chunk === 'string' ? chunk : decoder.write(chunk));
	});
	let stopped = false;
	const { pid } = subprocess;
	const signalGroup = (signal: NodeJS.Signals) => {
		if (pid === undefined) {
			return;
		}

		try {
			// A negative pid is the process group (kill(2)); the group outlives its leader while children run.
			process.kill(-pid, signal);
		} catch {
			// ESRCH: the group is gone already.
		}
	};

	const done = subprocess.then((result): BuildOutcome => {
		output.push(decoder.end());
		if (stopped) {
			return { kind: 'stopped' };
		}

		if (!result.failed) {
			return { kind: 'built' };
		}

		const why = result.exitCode !== undefined ? `exit status ${result.exitCode}`
			: result.signal ? `killed by ${result.signal}` : (result.originalMessage ?? 'it did not start');
		return { kind: 'failed', why, output: output.lines() };
	});

	return {
		pid,
		done,
		async stop() {
			stopped = true;
			signalGroup('SIGTERM');
			const timer = setTimeout(() => {
				signalGroup('SIGKILL');
			}, stopGraceMs);
			await done;
			// The command exited; what it started may still run in the group (it ignored SIGTERM, or the command did
			// not wait for it): SIGKILL is a no-op on an empty group.
			clearTimeout(timer);
			signalGroup('SIGKILL');
		},
		kill() {
			stopped = true;
			signalGroup('SIGKILL');
		},
	};
}

/**
 * The first line of a compiler's error: `error[E0425]: …` (rustc), `error: …` (cargo, tinygo), `ERROR TS2304: …`
 * (AssemblyScript), `Error: …` (node), `src/x.ts(3,5): error TS…` (tsc), `./main.go:12:2: undefined: x` (go, gcc:
 * file:line:col). Not a word "error" anywhere: cargo's `Compiling error-chain v0.12.4` is no error.
 */
const errorLine = /^\s*error(?:\[\w+\])?[: ]|\berror TS\d+|^\S+:\d+:\d+: /i;

type NumberedLine = { readonly index: number; readonly text: string };

/**
 * A build's output, bounded: the first `outputHeadLines` lines (what ran), the first error and the
 * `outputErrorLines` after it (what a compiler says first is the cause; what follows is often its
 * consequences), and the last `outputTailLines` (the summary: "could not compile …"), with a line saying how
 * many went between. Blank lines are skipped (they say nothing in a report).
 */
export class OutputSummary {
	private readonly head: NumberedLine[] = [];
	private readonly firstError: NumberedLine[] = [];
	private readonly tail = new Ring<NumberedLine>(outputTailLines);
	private count = 0;
	/** The line being read, cut at maxLineChars, and its whole length. */
	private line = '';
	private lineLength = 0;

	push(text: string): void {
		let start = 0;
		for (;;) {
			const newline = text.indexOf('\n', start);
			const end = newline === -1 ? text.length : newline;
			if (this.line.length < maxLineChars) {
				this.line += text.slice(start, Math.min(end, start + maxLineChars - this.line.length));
			}

			this.lineLength += end - start;
			if (newline === -1) {
				return;
			}

			this.endLine();
			start = newline + 1;
		}
	}

	/** The kept lines in order, with a line for each run of lines left out. */
	lines(): string[] {
		this.endLine();
		const kept = new Map<number, string>();
		for (const { index, text } of [...this.head, ...this.firstError, ...this.tail.toArray()]) {
			kept.set(index, text);
		}

		const result: string[] = [];
		let next = 0;
		for (const index of [...kept.keys()].sort((a, b) => a - b)) {
			if (index > next) {
				result.push(omitted(index - next));
			}

			result.push(kept.get(index)!);
			next = index + 1;
		}

		if (this.count > next) {
			result.push(omitted(this.count - next));
		}

		return result;
	}

	private endLine(): void {
		const text = `${this.line.replace(/\r$/, '')}${this.lineLength > maxLineChars ? ' …' : ''}`;
		this.line = '';
		this.lineLength = 0;
		if (text.trim() === '') {
			return;
		}

		const line = { index: this.count++, text };
		if (this.head.length < outputHeadLines) {
			this.head.push(line);
		} else {
			this.tail.push(line);
		}

		const errorStarted = this.firstError.length > 0;
		if ((errorStarted || errorLine.test(text)) && this.firstError.length < outputErrorLines) {
			this.firstError.push(line);
		}
	}
}

function omitted(count: number): string {
	return `… ${count} more line${count === 1 ? '' : 's'} not shown …`;
}
