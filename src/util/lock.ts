/**
 * Cross-process helpers: a lock directory for work several meshbox processes may start at once (ava runs
 * test files in parallel processes), and a liveness check for the owners recorded in locks and labels.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MeshboxError } from '../errors.ts';

/** A lock directory holding the owner's pid; a lock whose owner died is taken over. */
export async function acquireLock(lockDir: string, purpose: string, progress: (line: string) => void): Promise<() => Promise<void>> {
	const started = Date.now();
	let announced = false;
	for (;;) {
		const taken = await tryLock(lockDir);
		if (taken.release) {
			return taken.release;
		}

		if (!announced) {
			progress(`meshbox: waiting for another meshbox process (pid ${taken.owner || '?'}) that is ${purpose}`);
			announced = true;
		}

		if (Date.now() - started > 15 * 60_000) {
			throw new MeshboxError('LOCK_TIMEOUT', `gave up waiting for the lock ${lockDir} (another meshbox process is ${purpose})`, `if no meshbox is running, remove ${lockDir}`);
		}

		await new Promise(resolve => setTimeout(resolve, 300));
	}
}

/** A lock directory without a pid file for this long lost its owner between mkdir and writing the pid. */
const ownerlessStaleMs = 30_000;

/** A lock taken (`release` removes it; safe to call twice), or the pid of the live owner holding it (0: not known yet). */
export type LockAttempt = { release: () => Promise<void>; owner?: undefined } | { release?: undefined; owner: number };

/**
 * One attempt at the lock directory `lockDir`, without waiting: mkdir is atomic, so exactly one process gets
 * it. A lock whose owner died (SIGKILL, a crash) is removed and tried again.
 */
export async function tryLock(lockDir: string): Promise<LockAttempt> {
	for (;;) {
		try {
			await mkdir(lockDir);
			await writeFile(path.join(lockDir, 'pid'), String(process.pid));
			// Once only: by a second call the directory may be someone else's lock.
			let released: Promise<void> | undefined;
			const release = async () => {
				released ??= rm(lockDir, { recursive: true, force: true });
				return released;
			};

			return { release };
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}
		}

		// Empty while the owner is between mkdir and writeFile (then it is alive), or if it died right there.
		const owner = Number(await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => ''));
		const ownerless = !owner && Date.now() - ((await stat(lockDir).catch(() => undefined))?.mtimeMs ?? Date.now()) > ownerlessStaleMs;
		if ((owner && !isAlive(owner)) || ownerless) {
			// Rename first so that two waiters cannot both remove the stale lock and both proceed.
			const stale = `${lockDir}.stale-${process.pid}`;
			await rename(lockDir, stale).then(async () => rm(stale, { recursive: true, force: true }), () => undefined);
			continue;
		}

		return { owner };
	}
}

/** Whether a process with this pid exists (ours or another user's). */
export function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}
