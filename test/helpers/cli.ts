/**
 * Running the `meshbox` command line as a user would: a child process, its output read line by line.
 */
import readline from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { meshboxCli, repoRoot } from './paths.ts';

export type CliResult = { exitCode: number | undefined; stdout: string; stderr: string };

/** Runs a command to completion. */
export async function runCli(args: readonly string[], options: { cwd?: string } = {}): Promise<CliResult> {
	const result = await execa('node', [meshboxCli, ...args], { cwd: options.cwd ?? repoRoot, reject: false, timeout: 90_000 });
	return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

/** A long-running `meshbox up`: wait for a stdout line, stop it with a signal. */
export class RunningCli {
	readonly lines: string[] = [];
	private readonly waiters = new Set<() => void>();

	private constructor(readonly process: ResultPromise) {
		for (const stream of [process.stdout, process.stderr]) {
			if (stream) {
				readline.createInterface({ input: stream }).on('line', line => {
					this.lines.push(line);
					for (const wake of this.waiters) {
						wake();
					}
				});
			}
		}
	}

	static start(args: readonly string[]): RunningCli {
		return new RunningCli(execa('node', [meshboxCli, ...args], { cwd: repoRoot, reject: false, buffer: false }));
	}

	/** The first output line matching `pattern`; rejects when the process exits or after `timeoutMs`. */
	async waitForLine(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
		const started = Date.now();
		for (;;) {
			for (const line of this.lines) {
				const match = pattern.exec(line);
				if (match) {
					return match;
				}
			}

			if (this.process.exitCode !== null || Date.now() - started > timeoutMs) {
				throw new Error(`no line matched ${pattern}; output so far:\n${this.lines.join('\n')}`);
			}

			await new Promise<void>(resolve => {
				const wake = () => {
					this.waiters.delete(wake);
					resolve();
				};

				this.waiters.add(wake);
				setTimeout(wake, 200);
			});
		}
	}

	async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | undefined> {
		this.process.kill(signal);
		const result = await this.process;
		return result.exitCode;
	}
}
