/**
 * Waiting for a starting Envoy, the same on every runtime: poll admin `/ready` until it says LIVE; if Envoy
 * exits first, or the time is up, throw the explanation the runtime builds from Envoy's log.
 */
import type { EnvoyAdmin } from '../envoy-admin/admin.ts';
import { explainStartupFailure } from '../envoy-binary/startup-failure.ts';
import type { LogBuffer } from './log-buffer.ts';

export type ExitInfo = { exitCode: number | undefined; signal: string | undefined };

export type ReadyWait = {
	/** The admin client, once its address is known (a runtime may learn it only after Envoy started). */
	admin: () => Promise<EnvoyAdmin | undefined>;
	exited: Promise<ExitInfo>;
	timeoutMs: number;
	/** Envoy's log so far: what a failure is explained from. */
	logs: LogBuffer;
	/** Look again at once when this settles (Envoy answered the first xDS push: ready is near). */
	recheckOn?: Promise<unknown>;
};

export async function waitUntilReady({ admin, exited, timeoutMs, logs, recheckOn }: ReadyWait): Promise<EnvoyAdmin> {
	const explain = (exit: ExitInfo | undefined, timedOutAfterMs?: number) => explainStartupFailure({
		entries: logs.entries,
		pluginEntries: logs.pluginEntries,
		tail: logs.tail(30),
		exitCode: exit?.exitCode,
		timedOutAfterMs,
	});
	let exit: ExitInfo | undefined;
	void exited.then(info => {
		exit = info;
	});
	let answered = false;
	let wake: (() => void) | undefined;
	const onAnswer = () => {
		answered = true;
		wake?.();
	};

	void recheckOn?.then(onAnswer, onAnswer);
	const started = Date.now();
	for (;;) {
		if (exit) {
			throw explain(exit);
		}

		if (Date.now() - started > timeoutMs) {
			throw explain(undefined, timeoutMs);
		}

		const client = await admin();
		if (client && (await client.isReady())) {
			return client;
		}

		// An exit is noticed at once; otherwise poll every 10 ms: /ready costs Envoy microseconds, and a coarser
		// poll adds half its period to every start on average (helper G, #9: measured with `npm run bench`).
		// Once Envoy answered the first push its listener is all but ready: that wakes the poll, and it goes on
		// every ms.
		await Promise.race([exited, new Promise<void>(resolve => {
			wake = resolve;
			setTimeout(resolve, answered ? 1 : 10);
		})]);
	}
}
