/**
 * Shared bits of the conformance tests: sandboxes that are always stopped (and not too many at once), and
 * log helpers.
 */
import type { ExecutionContext } from 'ava';
import { startSandbox, type PluginLogFilter, type Sandbox, type SandboxOptions } from '../../src/index.ts';

/**
 * Envoys one test file runs at the same time. A file's tests run concurrently (and ava runs two files at
 * once); each Go VM costs seconds of CPU to compile and ~100 MiB, so more would only queue on 2 cores.
 */
const maxSandboxesPerFile = 3;
let running = 0;
const waiting: Array<() => void> = [];

async function acquireSlot(): Promise<void> {
	if (running < maxSandboxesPerFile) {
		running++;
		return;
	}

	// release() hands its slot over directly, so `running` stays as it is.
	await new Promise<void>(resolve => waiting.push(resolve));
}

function releaseSlot(): void {
	const next = waiting.shift();
	if (next) {
		next();
	} else {
		running--;
	}
}

/** Runs `action` (e.g. a start expected to fail) while holding one of the file's sandbox slots. */
export async function withSandboxSlot<T>(action: () => Promise<T>): Promise<T> {
	await acquireSlot();
	try {
		return await action();
	} finally {
		releaseSlot();
	}
}

/** Starts a sandbox for one test and stops it when the test ends (pass or fail). */
export async function sandboxFor(t: ExecutionContext, options: SandboxOptions): Promise<Sandbox> {
	await acquireSlot();
	let box: Sandbox;
	try {
		box = await startSandbox(options);
	} catch (error) {
		releaseSlot();
		throw error;
	}

	t.teardown(async () => {
		try {
			await box.stop();
		} finally {
			releaseSlot();
		}
	});
	return box;
}

/**
 * Plugin log messages written while `action` ran (entries are read after it resolves), e.g. the logs of one
 * request: `const [response, logged] = await loggedDuring(box, () => box.request('/'))`.
 */
export async function loggedDuring<T>(box: Sandbox, action: () => Promise<T>, filter: PluginLogFilter = {}): Promise<[T, string[]]> {
	const before = (await box.logs()).length;
	const result = await action();
	const after = await box.logs();
	const matching = new Set(await box.logs(filter));
	return [result, after.slice(before).filter(entry => matching.has(entry)).map(entry => entry.message)];
}
