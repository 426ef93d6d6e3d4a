/**
 * Envoy as a child process of this one, on node:child_process alone: what the local runtime and warm Envoys
 * used execa for (execa's import costs `meshbox up` ~20 ms even bundled, and they used a small part of it).
 *
 * - stdin is /dev/null; stdout and stderr are pipes the caller reads (Envoy logs to stderr).
 * - `exited` resolves (never rejects) once the process is gone: its exit code, or the signal that ended it, or
 *   the spawn error (e.g. ENOENT) with neither.
 * - `kill('SIGTERM')` lets Envoy drain, and sends SIGKILL if it is still there after `forceKillAfterMs`.
 * - When this process exits, every child still running gets SIGTERM (as execa's `cleanup: true` did through
 *   signal-exit): on a normal exit, `process.exit()`, and on SIGINT / SIGTERM / SIGHUP that nobody else handles
 *   (Node's default for those is to die without running 'exit' listeners, so the signal is caught, the children
 *   are signalled, and the signal is raised again so this process still ends by it). A child still there
 *   `exitGraceMs` later gets SIGKILL (issue #19: an Envoy whose worker a plugin holds in a loop never finishes
 *   its SIGTERM shut-down, and outlived its owner at 90% CPU); 'exit' listeners cannot wait asynchronously, so
 *   this waits synchronously, and only while a child is still there. A SIGKILL of this process leaves the child
 *   behind: the reaper (./reaper.ts) removes it at the next start.
 * - `keepProcessAlive(false)` unrefs the child and its pipes, so an idle child does not keep this process alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { procStatFields } from '../../util/proc-stat.ts';

export type ProcessExit = {
	readonly exitCode: number | undefined;
	readonly signal: NodeJS.Signals | undefined;
	/** Why it could not be started (spawn failure); the exit code and signal are then undefined. */
	readonly error?: Error;
};

export type EnvoyProcessOptions = {
	readonly cwd?: string;
	readonly env?: NodeJS.ProcessEnv;
	/** After `kill('SIGTERM')`, SIGKILL when the process is still running this much later. Default 5000. */
	readonly forceKillAfterMs?: number;
};

/** At this process's exit: how long a child has to end on SIGTERM before it gets SIGKILL. */
const exitGraceMs = 1000;
/** ... and how long a SIGKILLed child has to be gone (the kernel ends it at once; this only bounds the wait). */
const killWaitMs = 1000;

/** The signals whose default action would end this process without 'exit' listeners running. */
const fatalSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

/** Children to signal when this process exits. */
const running = new Set<EnvoyProcess>();
/** What runs after the children were stopped, when a fatal signal ends this process (see `onFatalSignal`). */
const signalCleanups = new Set<() => void>();

/**
 * `cleanup` runs (synchronously) when a fatal signal ends this process, after its Envoys were stopped: the
 * signal is raised again, and 'exit' listeners, which would otherwise do it, do not run then.
 */
export function onSignalExit(cleanup: () => void): void {
	signalCleanups.add(cleanup);
}

export class EnvoyProcess {
	readonly pid: number | undefined;
	readonly stdout: Readable;
	readonly stderr: Readable;
	/** Resolves once the process exited (or could not start). */
	readonly exited: Promise<ProcessExit>;
	private exit: ProcessExit | undefined;
	private forceKill: NodeJS.Timeout | undefined;
	private readonly settleExit: (exit: ProcessExit) => void;

	private constructor(private readonly child: ChildProcess, private readonly forceKillAfterMs: number) {
		this.pid = child.pid;
		this.stdout = child.stdout!;
		this.stderr = child.stderr!;
		let settle!: (exit: ProcessExit) => void;
		this.exited = new Promise<ProcessExit>(resolve => {
			settle = (exit: ProcessExit) => {
				if (this.exit) {
					return;
				}

				this.exit = exit;
				clearTimeout(this.forceKill);
				untrack(this);
				resolve(exit);
			};

			// 'exit', not 'close': the process is gone even if nobody drained its pipes (then 'close' never comes).
			child.once('exit', (code, signal) => {
				settle({ exitCode: code ?? undefined, signal: signal ?? undefined });
			});
			// A spawn failure emits 'error' (and no 'exit'); a failed kill() later emits it too, and is ignored here.
			child.once('error', error => {
				if (child.pid === undefined) {
					settle({ exitCode: undefined, signal: undefined, error });
				}
			});
		});
		this.settleExit = settle;
	}

	/** Starts `file` with `args`. Never throws for a missing binary: `exited` then carries the error. */
	static spawn(file: string, args: readonly string[], options: EnvoyProcessOptions = {}): EnvoyProcess {
		const child = spawn(file, args, {
			cwd: options.cwd,
			env: options.env,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		const envoy = new EnvoyProcess(child, options.forceKillAfterMs ?? 5000);
		if (child.pid !== undefined) {
			track(envoy);
		}

		return envoy;
	}

	/**
	 * An Envoy spawned elsewhere (`meshbox up`'s head start, ./head-start.ts), with stdout and stderr piped, as an
	 * EnvoyProcess: one that exited already has its exit at once.
	 */
	static adopt(child: ChildProcess, options: Pick<EnvoyProcessOptions, 'forceKillAfterMs'> = {}): EnvoyProcess {
		const envoy = new EnvoyProcess(child, options.forceKillAfterMs ?? 5000);
		if (child.exitCode !== null || child.signalCode !== null) {
			envoy.settleExit({ exitCode: child.exitCode ?? undefined, signal: child.signalCode ?? undefined });
		} else if (child.pid === undefined) {
			// Not started; its 'error' may have been emitted already.
			envoy.settleExit({ exitCode: undefined, signal: undefined, error: new Error(`${child.spawnfile} could not be started`) });
		} else {
			track(envoy);
		}

		return envoy;
	}

	/** Whether the process is still there (started and not exited). */
	get isRunning(): boolean {
		return this.pid !== undefined && this.exit === undefined;
	}

	/**
	 * Sends `signal` (default SIGTERM). After SIGTERM, SIGKILL follows when the process is still running
	 * `forceKillAfterMs` later. False when there was nothing to signal.
	 */
	kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
		if (!this.isRunning) {
			return false;
		}

		const sent = this.child.kill(signal);
		if (sent && signal === 'SIGTERM' && !this.forceKill) {
			this.forceKill = setTimeout(() => {
				if (this.isRunning) {
					this.child.kill('SIGKILL');
				}
			}, this.forceKillAfterMs);
			// The timer alone must not keep this process alive (the child does, while it runs and is ref'd).
			this.forceKill.unref();
		}

		return sent;
	}

	/** SIGTERM (then SIGKILL after the delay), and the exit. */
	async stop(): Promise<ProcessExit> {
		this.kill('SIGTERM');
		return this.exited;
	}

	/**
	 * SIGTERM, and SIGKILL when the process is still running `graceMs` later (an Envoy a plugin holds in a loop
	 * never finishes shutting down); resolves once it is gone.
	 */
	async terminate(graceMs: number): Promise<ProcessExit> {
		if (this.isRunning) {
			this.child.kill('SIGTERM');
			const timer = setTimeout(() => {
				if (this.isRunning) {
					this.child.kill('SIGKILL');
				}
			}, graceMs);
			void this.exited.then(() => clearTimeout(timer));
		}

		return this.exited;
	}

	/**
	 * Whether the process is known to be gone, looked at now and synchronously (for 'exit' listeners): exited, or
	 * dead and not yet reaped (a zombie holds no resources and runs nothing).
	 */
	isGoneNow(): boolean {
		return !this.isRunning || this.pid === undefined || processGone(this.pid);
	}

	/**
	 * Whether the child and its pipes keep this process alive (they do by default). The pipes are sockets,
	 * though typed as Readable; the exit cleanup above still stops an unref'd child when this process ends.
	 */
	keepProcessAlive(on: boolean): void {
		for (const handle of [this.child, this.child.stdout, this.child.stderr] as Array<{ ref?(): void; unref?(): void } | null>) {
			if (on) {
				handle?.ref?.();
			} else {
				handle?.unref?.();
			}
		}
	}

	/** For the exit cleanup: a signal without the SIGKILL timer (this process is ending). */
	signalOnExit(signal: NodeJS.Signals = 'SIGTERM'): void {
		if (this.isRunning) {
			this.child.kill(signal);
		}
	}
}

/**
 * Whether process `pid` is gone or a zombie, from /proc (Linux); elsewhere, whether it can be signalled at all
 * (a zombie then counts as running: it gets a SIGKILL it does not need).
 */
function processGone(pid: number): boolean {
	let stat: string;
	try {
		stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT' && process.platform === 'linux') {
			return true;
		}

		try {
			process.kill(pid, 0);
			return false;
		} catch {
			return true;
		}
	}

	const state = procStatFields(stat)[0];
	return state === 'Z' || state === 'X';
}

/** Waits (synchronously) until every one of `children` is gone, or `ms` passed; returns those still there. */
function waitGoneSync(children: readonly EnvoyProcess[], ms: number): EnvoyProcess[] {
	const sleeper = new Int32Array(new SharedArrayBuffer(4));
	const deadline = Date.now() + ms;
	let left = children.filter(child => !child.isGoneNow());
	while (left.length > 0 && Date.now() < deadline) {
		Atomics.wait(sleeper, 0, 0, 5);
		left = left.filter(child => !child.isGoneNow());
	}

	return left;
}

/**
 * Ends every child of this process now, synchronously (for 'exit' listeners and fatal signals): SIGTERM, SIGKILL
 * for those still there after `exitGraceMs`, and returns once they are gone (or `killWaitMs` later). Idempotent.
 */
export function stopAllNow(): void {
	const children = [...running];
	for (const child of children) {
		child.signalOnExit('SIGTERM');
	}

	const stubborn = waitGoneSync(children, exitGraceMs);
	for (const child of stubborn) {
		child.signalOnExit('SIGKILL');
	}

	waitGoneSync(stubborn, killWaitMs);
}

function track(child: EnvoyProcess): void {
	if (running.size === 0) {
		process.on('exit', killAllOnExit);
		for (const signal of fatalSignals) {
			process.on(signal, onFatalSignal);
		}
	}

	running.add(child);
}

function untrack(child: EnvoyProcess): void {
	if (!running.delete(child) || running.size > 0) {
		return;
	}

	process.off('exit', killAllOnExit);
	for (const signal of fatalSignals) {
		process.off(signal, onFatalSignal);
	}
}

function killAllOnExit(): void {
	stopAllNow();
}

/**
 * A signal that would have ended this process. Another listener (e.g. `meshbox up`'s clean stop) means the
 * program handles it and decides when to exit ('exit' then signals the children); alone, this does what Node
 * would have done, after signalling the children.
 */
function onFatalSignal(signal: NodeJS.Signals): void {
	if (process.listenerCount(signal) > 1) {
		return;
	}

	killAllOnExit();
	// 'exit' listeners do not run when the signal is raised again: what they would have removed goes now.
	for (const cleanup of signalCleanups) {
		cleanup();
	}

	process.off('exit', killAllOnExit);
	for (const fatal of fatalSignals) {
		process.off(fatal, onFatalSignal);
	}

	process.kill(process.pid, signal);
}
