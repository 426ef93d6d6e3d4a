/**
 * ava's `test` for the tests that need a Docker daemon (kept apart from ./docker-helpers.ts, which child
 * processes import: ava refuses to be imported outside its CLI).
 */
import anyTest, { type TestFn } from 'ava';
import { dockerAnswers } from '../../src/runtime/docker/daemon.ts';

/**
 * ava's `test` when a Docker daemon answers or MESHBOX_STRICT=1 (then a missing daemon fails the tests with
 * DOCKER_UNAVAILABLE); otherwise a `test` that registers each test as skipped and its hooks not at all, so
 * `npm test` on a machine without Docker says what it skipped instead of failing.
 */
export async function dockerTest(): Promise<TestFn> {
	if (process.env.MESHBOX_STRICT === '1' || await dockerAnswers()) {
		return anyTest;
	}

	const skip = (title: string) => {
		anyTest.skip(`${title} (skipped: no Docker daemon answers; MESHBOX_STRICT=1 makes that a failure)`, t => {
			t.pass();
		});
	};

	const hook = Object.assign(() => undefined, { always: () => undefined, skip: () => undefined });
	const modifiers = { before: hook, after: hook, beforeEach: hook, afterEach: hook, skip, only: skip, failing: skip, todo: skip };
	// Only what these tests use is provided; the cast keeps the tests typed against ava's real API.
	return Object.assign(skip, modifiers, { serial: Object.assign((title: string) => skip(title), modifiers) }) as unknown as TestFn;
}
