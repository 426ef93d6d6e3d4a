/**
 * One call tells a story on every runtime the process selected (scenarioRuntimes(): local, plus docker when a
 * daemon answers or CI demands it), each test with its own sandbox that stops, and reports on failure, by itself:
 *
 *   import test from 'ava';
 *   import { stories } from 'meshbox';
 *
 *   const story = await stories(test);      // before declaring anything: ava wants tests declared synchronously
 *   story('the plugin answers', async (t, { sandbox }) => {
 *     const box = await sandbox({ plugins: [{ name: 'auth', wasm: 'auth.wasm' }] });
 *     t.is((await box.request('/')).status, 200);
 *   });
 *
 * Built on forEachRuntime() (src/scenario/runtimes.ts), so whatever that tells a story across (runtimes, and
 * Envoy versions where selected) a story covers too, with the same test titles.
 */
import { forEachRuntime, scenarioRuntimes, type RuntimeScenario } from './runtimes.ts';
import { sandboxFor, type AppTargets, type ClusterTargets, type SandboxWith } from './sandbox-for.ts';
import type { SandboxOptions } from './sandbox.ts';
import type { ScenarioTest } from './test-context.ts';
import { nodeTestContext, type NodeTestContext } from './node-test.ts';
import { vitestContext, type VitestTestContext } from './vitest.ts';
import { MeshboxError } from '../errors.ts';

export type StoryContext = RuntimeScenario & {
	/** sandboxFor() on this story's runtime: stopped at the test's end, reported when the test failed. */
	sandbox<C extends ClusterTargets = Record<never, never>, A extends AppTargets = Record<never, never>>(options?: Omit<SandboxOptions, 'clusters' | 'apps' | 'runtime'> & { clusters?: C; apps?: A }): Promise<SandboxWith<C, A>>;
};

/** `T`: the runner's test context (ava's `t`, node:test's), as `stories` inferred it from the runner's `test`. */
export type StoryImplementation<T = ScenarioTest> = (t: T, story: StoryContext) => void | Promise<void>;

/**
 * ava's `test`, `test.serial`, `test.only`…: anything that declares a test from a title and an implementation
 * taking the runner's context `T`. Its types name no runner: the second signature pairs with the runner's
 * second overload (ava's macro form), as TypeScript infers from overloads last to last, so that `T` is
 * inferred from the first (ava's `ExecutionContext`; node:test's `test(options, fn)` gives its `TestContext`);
 * a function with one signature gets `T` explicitly (`stories<MyContext>(declare)`).
 */
export type TestDeclaration<T = ScenarioTest> = {
	(title: string, implementation: (t: T) => void | Promise<void>): void;
	(macro: never, ...rest: never[]): void;
};

export type Story<T = ScenarioTest> = ((title: string, implementation: StoryImplementation<T>) => void) & {
	/** The runtimes each story is told on. */
	readonly runtimes: readonly RuntimeScenario['runtime'][];
};

/** Decides the runtimes (await it at the top of the file), then returns `story(title, implementation)`, which declares one `declare` test per runtime. */
export async function stories<T>(declare: TestDeclaration<T>): Promise<Story<T>> {
	const runtimes = await scenarioRuntimes();
	const story = (title: string, implementation: StoryImplementation<T>): void => {
		forEachRuntime(runtimes, scenario => {
			declare(scenario.title(title), async t => implementation(t, {
				...scenario,
				sandbox: async options => sandboxFor(scenarioTestOf(t), options, scenario.startSandbox),
			}));
		});
	};

	return Object.assign(story, { runtimes });
}

/**
 * The runner's context as sandboxFor() wants it: ava's as it is (it has `teardown`, as jestStories()' has),
 * node:test's through nodeTestContext() (it has `after` and `diagnostic`), vitest's through vitestContext()
 * (it has `task` and `onTestFinished`).
 */
function scenarioTestOf(t: unknown): ScenarioTest {
	const members = (t ?? {}) as Partial<Record<'teardown' | 'after' | 'diagnostic' | 'task' | 'onTestFinished', unknown>>;
	if (typeof members.teardown === 'function') {
		return t as ScenarioTest;
	}

	if (typeof members.after === 'function' && typeof members.diagnostic === 'function') {
		return nodeTestContext(t as NodeTestContext);
	}

	if (typeof members.onTestFinished === 'function' && typeof members.task === 'object' && members.task !== null) {
		return vitestContext(t as VitestTestContext);
	}

	throw new MeshboxError('USAGE', 'stories(): the test function passed to stories() gives its tests a context with neither teardown() (ava), after() and diagnostic() (node:test) nor task and onTestFinished() (vitest)',
		'pass ava\'s, node:test\'s or vitest\'s test (stories(test)); for jest, use jestStories(test); for another runner, use sandboxFor() with a context that has title, passed, log and teardown');
}
