/**
 * A counting semaphore across the processes of one machine: at most `count` holders at once, each slot a
 * lock directory (./lock.ts) holding its owner's pid, so a holder that dies without releasing (SIGKILL, a
 * crash) frees its slot for the next taker.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { tryLock } from './lock.ts';

export type SlotRequest = {
	/** The directory holding the slots (`slot-0` … `slot-<count-1>`); created when missing. */
	readonly dir: string;
	readonly count: number;
	/** Called once, when every slot is taken and this request starts to wait, with the pids holding them. */
	readonly onWait?: (holders: readonly number[]) => void;
	/** How often a waiting request looks again (default 100 ms, with jitter so waiters do not move in lockstep). */
	readonly pollMs?: number;
};

export type Slot = {
	/** Milliseconds spent waiting in line (0 when a slot was free at once). */
	readonly waitedMs: number;
	/** Frees the slot; safe to call twice. */
	release(): Promise<void>;
};

export async function takeSlot({ dir, count, onWait, pollMs = 100 }: SlotRequest): Promise<Slot> {
	await mkdir(dir, { recursive: true });
	const started = Date.now();
	let announced = false;
	for (;;) {
		const holders: number[] = [];
		// Start at a random slot: otherwise every taker races for slot-0 first.
		const offset = Math.floor(Math.random() * count);
		for (let index = 0; index < count; index++) {
			const attempt = await tryLock(path.join(dir, `slot-${(offset + index) % count}`));
			if (attempt.release) {
				return { waitedMs: Date.now() - started, release: attempt.release };
			}

			holders.push(attempt.owner);
		}

		if (!announced) {
			onWait?.(holders);
			announced = true;
		}

		await new Promise(resolve => setTimeout(resolve, pollMs * (0.5 + Math.random())));
	}
}
