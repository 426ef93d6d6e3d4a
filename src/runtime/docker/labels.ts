/**
 * Labels on every container and network meshbox creates: which sandbox (session) it belongs to and which
 * process owns it, so that leftovers of an owner that died (SIGKILL, a crashed test worker) can be found and
 * removed by the next start, and `meshbox down` can find all of them.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { isAlive } from '../../util/lock.ts';
import { procStatFields } from '../../util/proc-stat.ts';

export const labelKeys = {
	/** Present on everything meshbox creates; the value is the session id. */
	session: 'dev.meshbox.session',
	ownerPid: 'dev.meshbox.owner-pid',
	/** The owner's start time (Linux clock ticks since boot), so a reused pid is not mistaken for the owner. */
	ownerStart: 'dev.meshbox.owner-start',
	ownerHost: 'dev.meshbox.owner-host',
	/** `envoy` or `upstream`. */
	role: 'dev.meshbox.role',
	/** On a mesh's network (./mesh.ts): the mesh's id (`MeshPlacement.id`); the session is the network's own. */
	mesh: 'dev.meshbox.mesh',
} as const;

export type SandboxLabels = Readonly<Record<string, string>>;

export function newSessionId(): string {
	return randomBytes(6).toString('hex');
}

export function sandboxLabels(sessionId: string): SandboxLabels {
	return {
		[labelKeys.session]: sessionId,
		[labelKeys.ownerPid]: String(process.pid),
		[labelKeys.ownerStart]: processStart(process.pid) ?? '',
		[labelKeys.ownerHost]: os.hostname(),
	};
}

/** Whether the process that labelled something is gone. Owners on other hosts are never considered gone. */
export function ownerIsGone(labels: Readonly<Record<string, string | undefined>>): boolean {
	if (labels[labelKeys.ownerHost] !== os.hostname()) {
		return false;
	}

	const pid = Number(labels[labelKeys.ownerPid]);
	if (!Number.isInteger(pid) || pid <= 0) {
		return true;
	}

	if (!isAlive(pid)) {
		return true;
	}

	const recorded = labels[labelKeys.ownerStart];
	const current = processStart(pid);
	return Boolean(recorded && current && recorded !== current);
}

/** Field 22 of /proc/<pid>/stat; undefined where there is no /proc. */
function processStart(pid: number): string | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return procStatFields(stat)[19];
	} catch {
		return undefined;
	}
}
