/**
 * node:test's test context as meshbox's scenario helpers want it (./test-context.ts): sandboxFor() and the
 * assertions then work in a `node --test` suite as with ava's `t`:
 *
 *   import { test } from 'node:test';
 *   import { assertShortCircuit, nodeTestContext, sandboxFor } from 'meshbox';
 *
 *   test('the plugin answers', async t => {
 *     const box = await sandboxFor(nodeTestContext(t), { plugins: [{ name: 'auth', wasm: 'auth.wasm' }] });
 *     await assertShortCircuit(nodeTestContext(t), await box.request('/'), box);
 *   });
 *
 * A failed test's debug report is named in a diagnostic (`# meshbox: the sandbox's debug report … is in …`).
 * Typed structurally (the members used), so that meshbox's types need no particular @types/node version.
 */
import { thrownAssertions, type ScenarioAssertions, type ScenarioTest } from './test-context.ts';

/** The members of node:test's TestContext used here (Node ≥ 20.12 has `passed`). */
export type NodeTestContext = {
	readonly name: string;
	/** ` > `-joined titles of the test and its parents (Node ≥ 20.16); the name alone before. */
	readonly fullName?: string;
	readonly passed?: boolean;
	diagnostic(message: string): void;
	after(fn: () => unknown): void;
};

export function nodeTestContext(t: NodeTestContext): ScenarioTest & ScenarioAssertions {
	return {
		get title() {
			return t.fullName ?? t.name;
		},
		get passed() {
			// Without `passed` (Node before 20.12) the outcome is unknown: a report is written, as for a failure.
			return t.passed ?? false;
		},
		log: (...values) => {
			t.diagnostic(values.map(value => (typeof value === 'string' ? value : String(value))).join(' '));
		},
		teardown: fn => {
			t.after(fn);
		},
		...thrownAssertions,
	};
}
