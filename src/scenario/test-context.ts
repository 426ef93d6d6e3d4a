/**
 * What meshbox's scenario helpers need of a test, whatever runs it (issue #24: any test runner). ava's
 * `ExecutionContext` has these members as they are; other runners get a thin adapter (./node-test.ts for
 * node:test, ./vitest.ts, ./jest.ts). The public types name these, not a runner's, so a project without ava
 * type-checks.
 */
import assert from 'node:assert/strict';

/** sandboxFor()'s needs: the test's title (the report's directory), its outcome, its log, its teardown. */
export type ScenarioTest = {
	readonly title: string;
	/** Whether the test passed; read at teardown, when the outcome is known. */
	readonly passed: boolean;
	/** A line in the test's output (ava: `t.log`; node:test: a diagnostic). */
	log(...values: unknown[]): void;
	/** Runs after the test, whether it passed or not. */
	teardown(fn: () => Promise<void> | void): void;
};

/** The assertions' needs (assertShortCircuit, assertReachedUpstream, assertLogged): report a pass, a failure, an equality. */
export type ScenarioAssertions = {
	is(actual: unknown, expected: unknown, message?: string): unknown;
	pass(message?: string): unknown;
	fail(message?: string): unknown;
};

/**
 * The assertions for runners whose tests fail by a thrown error (node:test, vitest, jest): node:assert's, with
 * ava's semantics (t.is compares with Object.is, as assert.strictEqual does).
 */
export const thrownAssertions: ScenarioAssertions = {
	is: (actual, expected, message) => {
		assert.strictEqual(actual, expected, message);
	},
	pass: () => undefined,
	fail: message => assert.fail(message),
};
