/**
 * Leftovers of a local sandbox whose owner died without cleaning up (SIGKILL, a crashed test worker):
 * each sandbox works in `<tmp>/meshbox-*` with an `owner.json` naming its owner and its Envoy. At the next
 * start, an Envoy whose owner is gone is killed and its directory removed.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAlive } from '../../util/lock.ts';
import { workDirName, workDirPrefix, type Owner } from './work-dir.ts';
import { procStatFields } from '../../util/proc-stat.ts';

/** How old a work dir without an owner.json must be before it counts as left behind. */
const ownerlessGraceMs = 60_000;

/** Removes the work dirs (and kills the Envoys) of dead owners. Returns how many were reaped. */
export async function reapOrphans(tmp: string = os.tmpdir()): Promise<number> {
	const names = await readdir(tmp).catch(() => [] as string[]);
	let reaped = 0;
	for (const name of names.filter(entry => entry.startsWith(workDirPrefix))) {
		const dir = path.join(tmp, name);
		const owner = await readOwner(dir);
		if (!owner) {
			// A work dir gets its owner.json as it is made (./work-dir.ts): one without it that old is what a
			// process killed in between left.
			if (workDirName.test(name) && (await ageMs(dir)) > ownerlessGraceMs) {
				await rm(dir, { recursive: true, force: true }).catch(() => undefined);
				reaped++;
			}

			continue;
		}

		if (isAlive(owner.ownerPid)) {
			continue;
		}

		if (owner.envoyPid && isAlive(owner.envoyPid) && (await commandLineMentions(owner.envoyPid, dir))) {
			try {
				process.kill(owner.envoyPid, 'SIGKILL');
			} catch {
				// Gone in the meantime.
			}

			// Its ports are free only once it has exited: the start that reaps it may ask for the same ones next.
			await exitOf(owner.envoyPid);
		}

		await rm(dir, { recursive: true, force: true }).catch(() => undefined);
		reaped++;
	}

	return reaped;
}

/** How long a killed Envoy may take to exit (SIGKILL cannot be caught; a loaded machine may take a while). */
const exitWaitMs = 5000;

/**
 * Resolves once `pid` has exited: gone, or a zombie with no thread left (its files, sockets included, are closed
 * once its last thread exits; the leader shows `Z` as soon as it has, while Envoy's other threads may still hold
 * them; an orphan's new parent may be slow to collect it, or never, in a container whose init does not). At most
 * exitWaitMs.
 */
async function exitOf(pid: number): Promise<void> {
	const deadline = Date.now() + exitWaitMs;
	while (Date.now() < deadline) {
		const threads = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
		const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
		if (stat === undefined || (threads.length <= 1 && procStatFields(stat)[0] === 'Z')) {
			return;
		}

		await new Promise(resolve => setTimeout(resolve, 5));
	}
}

async function ageMs(dir: string): Promise<number> {
	return Date.now() - ((await stat(dir).catch(() => undefined))?.mtimeMs ?? Date.now());
}

async function readOwner(dir: string): Promise<Owner | undefined> {
	try {
		const owner = JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')) as Partial<Owner>;
		return typeof owner.ownerPid === 'number' ? { ownerPid: owner.ownerPid, envoyPid: owner.envoyPid } : undefined;
	} catch {
		return undefined;
	}
}

/** Guards against pid reuse: only an Envoy started with this work dir's bootstrap is ours to kill. */
async function commandLineMentions(pid: number, dir: string): Promise<boolean> {
	const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
	return commandLine.includes(dir);
}
