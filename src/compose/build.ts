/**
 * One run of a plugin's `build:` command for `meshbox up --watch` (./watch.ts).
 *
 * The build runs in its own process group (a new session: `detached`), so that stopping it ends everything it
 * started, not only the command itself: cargo's rustc, a script's `sleep`. Stopping is SIGTERM to the group,
 * then SIGKILL to it after `stopGraceMs`; when meshbox exits at once (a second Ctrl+C) the group gets SIGKILL on
 * the way out. A terminal's Ctrl+C no longer reaches the build (another group), so meshbox must do this itself.
 *
 * Its output is read as it comes and only a bounded part is kept (the first and the last lines): a build may
 * print tens of megabytes, which execa's buffering held whole, as a string, for as long as meshbox ran.
 */
import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import { Ring } from '../util/ring.ts';

/** Lines kept from the start and from the end of a build's output (what a failed build shows). */
export const outputHeadLines = 10;
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
 * A build's output, bounded: the first `outputHeadLines` lines, the last `outputTailLines`, and how many lines
 * went between. Blank lines are skipped (they say nothing in a report).
 */
export class OutputSummary {
	private readonly head: string[] = [];
	private readonly tail = new Ring<string>(outputTailLines);
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

	/** The kept lines, with a line saying how many were left out between head and tail. */
	lines(): string[] {
		this.endLine();
		const omitted = this.tail.total - this.tail.size;
		return [...this.head, ...(omitted > 0 ? [`… ${omitted} more line${omitted === 1 ? '' : 's'} not shown …`] : []), ...this.tail.toArray()];
	}

	private endLine(): void {
		const line = `${this.line.replace(/\r$/, '')}${this.lineLength > maxLineChars ? ' …' : ''}`;
		this.line = '';
		this.lineLength = 0;
		if (line.trim() === '') {
			return;
		}

		if (this.head.length < outputHeadLines) {
			this.head.push(line);
		} else {
			this.tail.push(line);
		}
	}
}
