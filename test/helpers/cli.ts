/**
 * Running the `meshbox` command line as a user would: a child process, its output read line by line.
 */
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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

	static start(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): RunningCli {
		return new RunningCli(execa('node', [meshboxCli, ...args], { cwd: options.cwd ?? repoRoot, env: options.env, reject: false, buffer: false }));
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

	/**
	 * The terminal is closed: the process gets SIGHUP and its output has nowhere to go any more (here: the
	 * pipes' read ends close, so its writes fail as they would on a hung-up terminal). Resolves with the exit code.
	 */
	async hangUp(): Promise<number | undefined> {
		this.process.stdout?.destroy();
		this.process.stderr?.destroy();
		this.process.kill('SIGHUP');
		const result = await this.process;
		return result.exitCode;
	}
}

/** The local runtime's work dir (`$TMPDIR/meshbox-*`) of the sandbox that process `ownerPid` runs, and its Envoy's pid. */
export async function workDirOf(ownerPid: number): Promise<{ dir: string; envoyPid: number | undefined } | undefined> {
	for (const name of await readdir(os.tmpdir())) {
		if (!name.startsWith('meshbox-')) {
			continue;
		}

		const dir = path.join(os.tmpdir(), name);
		const owner = await readFile(path.join(dir, 'owner.json'), 'utf8').then(text => JSON.parse(text) as { ownerPid?: number; envoyPid?: number }, () => undefined);
		if (owner?.ownerPid === ownerPid) {
			return { dir, envoyPid: owner.envoyPid };
		}
	}

	return undefined;
}
