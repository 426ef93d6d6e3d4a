/**
 * Admission for Envoy starts on this machine. Starting Envoy is mostly compiling the plugins (a few-MB Go
 * plugin costs about 2 s of CPU), so many sandboxes starting at once (ava runs test files in parallel
 * processes and a file's tests concurrently) share the cores, each start takes as long as all of them
 * together, and every one of them misses its ready timeout. So at most N starts run at once across the
 * processes of this machine (N = available CPUs, or MESHBOX_START_SLOTS); the others wait in line, and that
 * wait does not count against the ready timeout, which only starts once Envoy is spawned.
 *
 * Both runtimes take a slot right before they spawn Envoy (process or container) and release it once Envoy
 * is ready or has failed.
 */
import os from 'node:os';
import path from 'node:path';
import { MeshboxError } from '../errors.ts';
import { takeSlot, type Slot } from '../util/slots.ts';

const startSlotsVariable = 'MESHBOX_START_SLOTS';

/** How many Envoy starts may run at once: MESHBOX_START_SLOTS, else the CPUs this process may use. */
export function startSlotCount(env: NodeJS.ProcessEnv = process.env): number {
	const raw = env[startSlotsVariable]?.trim();
	if (!raw) {
		return Math.max(1, os.availableParallelism());
	}

	if (!/^\d+$/.test(raw) || Number(raw) < 1) {
		throw new MeshboxError('USAGE', `${startSlotsVariable}=${raw} is not a positive whole number`,
			`set ${startSlotsVariable} to how many Envoy starts may run at once on this machine (default: the number of CPUs, ${os.availableParallelism()}), or unset it`);
	}

	return Number(raw);
}

/**
 * Per user (a directory in /tmp made by one user is not writable by others), shared by every meshbox process
 * of that user whatever its cache dir, since the cores are shared. Not `meshbox-*`: that prefix is the
 * local runtime's work dirs.
 */
export function startSlotsDir(): string {
	return path.join(os.tmpdir(), `meshbox.start-slots-${process.getuid?.() ?? os.userInfo().username}`);
}

/** Waits for a start slot, saying so on `progress` when it has to wait. `slots`: another set (tests). */
export async function admitEnvoyStart(progress: (line: string) => void, slots: { dir?: string; count?: number } = {}): Promise<Slot> {
	const count = slots.count ?? startSlotCount();
	let waited = false;
	const slot = await takeSlot({
		dir: slots.dir ?? startSlotsDir(),
		count,
		onWait: holders => {
			waited = true;
			const pids = [...new Set(holders.filter(Boolean))];
			progress(`meshbox: waiting in line to start Envoy: ${count} start(s) run at once on this machine (${startSlotsVariable}; default: the CPU count) and all are busy`
				+ `${pids.length > 0 ? ` (meshbox pid ${pids.join(', ')})` : ''}; the wait does not count against the ready timeout`);
		},
	});
	if (waited) {
		progress(`meshbox: starting Envoy after ${(slot.waitedMs / 1000).toFixed(1)} s in line`);
	}

	return slot;
}
