/**
 * How busy a process is while it should be idle, from /proc (Linux): what tells a warm Envoy that keeps running
 * code between sandboxes. A pin (../../envoy/pins.ts) runs its plugin's root context; a hostile one (a 1 ms tick
 * that http_calls, issue #19) goes on ticking there, for every sandbox after it.
 *
 * Measured as context switches per second, summed over the process's threads (each wake-up of a thread is
 * one): on Envoy 1.40, an idle warm Envoy with the pins of a Rust plugin made 36-42 a second, with the pin of a
 * Go plugin that ticks every 100 ms 50, and with the pin of a 1 ms tick + http_call 1700. CPU time says the same
 * much less clearly (0.5-1% against 2-4% of a core, in 10 ms steps).
 */
import { readdir, readFile } from 'node:fs/promises';

/** The context switches of `pid`'s threads so far; undefined where /proc does not tell (not Linux, gone). */
async function contextSwitches(pid: number): Promise<number | undefined> {
	const tasks = await readdir(`/proc/${pid}/task`).catch(() => undefined);
	if (!tasks) {
		return undefined;
	}

	let sum = 0;
	for (const task of tasks) {
		// A thread that ended meanwhile counts no more.
		const status = await readFile(`/proc/${pid}/task/${task}/status`, 'utf8').catch(() => '');
		for (const match of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) {
			sum += Number(match[1]);
		}
	}

	return sum;
}

/** How often `pid`'s threads woke up over the next `ms`, per second; undefined where that cannot be read. */
export async function wakeUpsPerSecond(pid: number, ms: number): Promise<number | undefined> {
	const before = await contextSwitches(pid);
	const started = Date.now();
	await new Promise(resolve => setTimeout(resolve, ms).unref());
	const after = await contextSwitches(pid);
	return before === undefined || after === undefined ? undefined : ((after - before) * 1000) / Math.max(1, Date.now() - started);
}
