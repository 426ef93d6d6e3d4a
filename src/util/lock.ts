/**
 * Cross-process helpers: a lock directory for work several meshbox processes may start at once (ava runs
 * test files in parallel processes), and a liveness check for the owners recorded in locks and labels.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MeshboxError } from '../errors.ts';

/** A lock directory holding the owner's pid; a lock whose owner died is taken over. */
export async function acquireLock(lockDir: string, purpose: string, progress: (line: string) => void): Promise<() => Promise<void>> {
	const started = Date.now();
	let announced = false;
	for (;;) {
		try {
			await mkdir(lockDir);
			await writeFile(path.join(lockDir, 'pid'), String(process.pid));
			return async () => rm(lockDir, { recursive: true, force: true });
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}
		}

		const owner = Number(await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => ''));
		if (owner && !isAlive(owner)) {
			// Rename first so that two waiters cannot both remove the stale lock and both proceed.
			const stale = `${lockDir}.stale-${process.pid}`;
			await rename(lockDir, stale).then(async () => rm(stale, { recursive: true, force: true }), () => undefined);
			continue;
		}

		if (!announced) {
			progress(`meshbox: waiting for another meshbox process (pid ${owner || '?'}) that is ${purpose}`);
			announced = true;
		}

		if (Date.now() - started > 15 * 60_000) {
			throw new MeshboxError('LOCK_TIMEOUT', `gave up waiting for the lock ${lockDir} (another meshbox process is ${purpose})`, `if no meshbox is running, remove ${lockDir}`);
		}

		await new Promise(resolve => setTimeout(resolve, 300));
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
