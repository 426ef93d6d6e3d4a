/**
 * Shared bits of the conformance tests: sandboxes from the public `sandboxFor` (always stopped, and a failed
 * test leaves its debug report, as a plugin author's test does), not too many at once, and log helpers.
 */
import type { ExecutionContext } from 'ava';
import { sandboxFor as sandboxForTest, type AppTargets, type ClusterTargets, type PluginLogFilter, type Sandbox, type SandboxOptions, type SandboxWith } from 'meshbox';

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

/**
 * meshbox's public sandboxFor() (stopped at the test's end, its debug report written first when the test failed),
 * holding one of the file's sandbox slots until the sandbox has stopped. The Envoy version is the process's
 * (MESHBOX_ENVOY_VERSION, set per run by scripts/conformance.ts), as startSandbox() resolves it.
 */
export async function sandboxFor<C extends ClusterTargets = Record<never, never>, A extends AppTargets = Record<never, never>>(
	t: ExecutionContext,
	options: Omit<SandboxOptions, 'clusters' | 'apps'> & { clusters?: C; apps?: A },
): Promise<SandboxWith<C, A>> {
	await acquireSlot();
	// Registered before sandboxFor's own teardown (report, then stop): ava runs teardowns last-registered first
	// (since ava 4), so the slot is free only once the sandbox has stopped; also when the start failed.
	t.teardown(releaseSlot);
	return sandboxForTest(t, options);
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
