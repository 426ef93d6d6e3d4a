/**
 * meshbox's scenario helpers in a jest suite. jest gives a test no context object, and a test cannot add a
 * hook of its own (jest-circus refuses hooks inside a test), so the test's implementation is wrapped:
 * `jestTest(fn)` runs `fn` with a context (./test-context.ts), then the context's teardowns (the sandbox's
 * report when `fn` threw, its stop), then rethrows what `fn` threw:
 *
 *   import { test } from '@jest/globals';
 *   import { assertShortCircuit, jestTest, sandboxFor } from 'meshbox';
 *
 *   test('the plugin answers', jestTest(async t => {
 *     const box = await sandboxFor(t, { plugins: [{ name: 'auth', wasm: 'auth.wasm' }] });
 *     await assertShortCircuit(t, await box.request('/'), box);
 *   }));
 *
 * The outcome is whether `fn` threw: a failure jest finds only after the test function (`expect.assertions(n)`
 * unmet) writes no report. The title is jest's `expect.getState().currentTestName` (jest's global `expect`).
 * Typed structurally, so that meshbox's types need no jest.
 */
import { MeshboxError } from '../errors.ts';
import { stories, type Story } from './story.ts';
import { thrownAssertions, type ScenarioAssertions, type ScenarioTest } from './test-context.ts';

/** What a jest test's implementation gets from jestTest(): sandboxFor()'s test and the assertions' `t`. */
export type JestScenarioTest = ScenarioTest & ScenarioAssertions;

/** jest's `test` / `it` (or `test.concurrent`…), as jestStories() uses it: a title and a promise-returning function. */
export type JestTestDeclaration = (title: string, implementation: () => Promise<void>) => void;

type JestExpect = { getState(): { readonly currentTestName?: string } };

/** Wraps a test implementation that takes a meshbox context into one jest runs (it takes no `done` argument). */
export function jestTest(implementation: (t: JestScenarioTest) => void | Promise<void>): () => Promise<void> {
	return async () => {
		const teardowns: Array<() => Promise<void> | void> = [];
		let passed = false;
		const context: JestScenarioTest = {
			title: currentTestName(),
			get passed() {
				return passed;
			},
			log: (...values) => {
				// jest prints a test file's console output with the line that wrote it.
				console.log(values.map(value => (typeof value === 'string' ? value : String(value))).join(' '));
			},
			teardown: fn => {
				teardowns.push(fn);
			},
			...thrownAssertions,
		};
		let failure: { readonly error: unknown } | undefined;
		try {
			await implementation(context);
			passed = true;
		} catch (error) {
			failure = { error };
		}

		const teardownErrors = await runTeardowns(teardowns);
		if (failure) {
			throw failure.error;
		}

		if (teardownErrors.length > 0) {
			throw teardownErrors.length === 1 ? teardownErrors[0] : new AggregateError(teardownErrors, 'meshbox: teardowns failed');
		}
	};
}

/**
 * stories() for jest: `const story = await jestStories(test)`, then `story(title, async (t, { sandbox }) => …)`
 * declares one jest test per selected runtime, `t` being jestTest()'s context.
 */
export async function jestStories(declare: JestTestDeclaration): Promise<Story<JestScenarioTest>> {
	return stories<JestScenarioTest>((title, implementation) => {
		declare(title, jestTest(implementation));
	});
}

/** Last registered first, as ava and node:test run a test's teardowns; each runs even if an earlier one threw. */
async function runTeardowns(teardowns: ReadonlyArray<() => Promise<void> | void>): Promise<unknown[]> {
	const errors: unknown[] = [];
	for (const teardown of [...teardowns].reverse()) {
		try {
			await teardown();
		} catch (error) {
			errors.push(error);
		}
	}

	return errors;
}

function currentTestName(): string {
	const jestExpect = (globalThis as { expect?: Partial<JestExpect> }).expect;
	const name = typeof jestExpect?.getState === 'function' ? jestExpect.getState().currentTestName : undefined;
	if (!name) {
		throw new MeshboxError('USAGE', 'jestTest(): no current jest test (jest\'s global `expect` has no currentTestName)',
			'call the function jestTest() returns as a jest test\'s implementation (test(title, jestTest(async t => …))), with jest\'s injectGlobals left on');
	}

	return name;
}
