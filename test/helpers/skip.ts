/**
 * ava's `test` for tests that need something of the machine (./requirements.ts): the real one when it is
 * there (or MESHBOX_STRICT=1), else one that registers every test as skipped, with the reason in its title,
 * and runs no hooks, so a hook that would start the missing service never runs.
 */
import anyTest, { type TestFn } from 'ava';
import type { RequirementDecision } from './requirements.ts';

export function requirementTest(decision: RequirementDecision): TestFn {
	if (decision.run) {
		return anyTest;
	}

	process.stderr.write(`${decision.line}\n`);
	return skippingTest(decision.reason);
}

/** A `test` whose tests are all skipped (`title (skipped: reason)`) and whose hooks are never registered. */
export function skippingTest(reason: string): TestFn {
	const skip = (title: string) => {
		anyTest.skip(`${title} (skipped: ${reason})`, t => {
			t.pass();
		});
	};

	const hook = Object.assign(() => undefined, { always: () => undefined, skip: () => undefined });
	const modifiers = { before: hook, after: hook, beforeEach: hook, afterEach: hook, skip, only: skip, failing: skip, todo: skip };
	// Only what meshbox's tests use is provided; the cast keeps the tests typed against ava's real API.
	return Object.assign(skip, modifiers, { serial: Object.assign((title: string) => skip(title), modifiers) }) as unknown as TestFn;
}
