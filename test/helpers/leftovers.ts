/**
 * What a sandbox may leave behind on this machine, so tests can assert "nothing": Envoy processes started
 * by this test process, and meshbox work directories owned by it.
 */
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** Pids of running `envoy` processes whose parent is this process. */
export async function childEnvoys(): Promise<number[]> {
	const pids: number[] = [];
	for (const name of await readdir('/proc')) {
		if (!/^\d+$/.test(name)) {
			continue;
		}

		const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
		// Format: pid (comm) state ppid ...; comm may contain spaces, so split after the last ')'.
		const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
		const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		if (comm === 'envoy' && state !== 'Z' && Number(ppid) === process.pid) {
			pids.push(Number(name));
		}
	}

	return pids;
}

/** meshbox work directories in the temp dir whose owner is this process. */
export async function ownWorkDirs(): Promise<string[]> {
	const dirs: string[] = [];
	for (const name of await readdir(os.tmpdir())) {
		if (!name.startsWith('meshbox-')) {
			continue;
		}

		const owner = await readFile(path.join(os.tmpdir(), name, 'owner.json'), 'utf8').catch(() => undefined);
		if (owner && (JSON.parse(owner) as { ownerPid?: number }).ownerPid === process.pid) {
			dirs.push(name);
		}
	}

	return dirs;
}

/** Whether a process runs (a zombie, dead but not yet reaped by its parent, does not count). */
export async function isRunning(pid: number): Promise<boolean> {
	const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
	return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}
