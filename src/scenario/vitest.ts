/**
 * vitest's test context as meshbox's scenario helpers want it (./test-context.ts): sandboxFor() and the
 * assertions then work in a vitest suite as with ava's `t`:
 *
 *   import { test } from 'vitest';
 *   import { assertShortCircuit, sandboxFor, vitestContext } from 'meshbox';
 *
 *   test('the plugin answers', async ctx => {
 *     const t = vitestContext(ctx);
 *     const box = await sandboxFor(t, { plugins: [{ name: 'auth', wasm: 'auth.wasm' }] });
 *     await assertShortCircuit(t, await box.request('/'), box);
 *   });
 *
 * The sandbox stops in an `onTestFinished` hook of the test: vitest runs those after the test's afterEach
 * hooks, with the test's outcome (`task.result.state`) already set (@vitest/runner's runTest, vitest 4), so
 * a failed test's report is written there and its path printed to the test's output.
 * Typed structurally (the members used), so that meshbox's types need no vitest.
 */
import { thrownAssertions, type ScenarioAssertions, type ScenarioTest } from './test-context.ts';

/** The members of vitest's TestContext used here (checked on vitest 4.1; `fullTestName` is new in vitest 4). */
export type VitestTestContext = {
	readonly task: {
		readonly name: string;
		/** ` > `-joined titles of the test's suites and the test (vitest ≥ 4). */
		readonly fullTestName?: string;
		readonly result?: { readonly state: string };
	};
	onTestFinished(fn: () => void | Promise<void>, timeout?: number): void;
};

/**
 * How long a teardown (the failure report, the sandbox's stop) may take: vitest's hook timeout (10 s by
 * default) is meant for a test's own hooks, and a report reads Envoy's admin and logs.
 */
const teardownTimeoutMs = 120_000;

export function vitestContext(ctx: VitestTestContext): ScenarioTest & ScenarioAssertions {
	return {
		get title() {
			return ctx.task.fullTestName ?? ctx.task.name;
		},
		get passed() {
			return ctx.task.result?.state === 'pass';
		},
		log: (...values) => {
			// vitest has no per-test log; its reporters print a test's console output under the test's name.
			console.log(values.map(value => (typeof value === 'string' ? value : String(value))).join(' '));
		},
		teardown: fn => {
			ctx.onTestFinished(async () => {
				await fn();
			}, teardownTimeoutMs);
		},
		...thrownAssertions,
	};
}
