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
import type { ExecutionContext } from 'ava';
import { forEachRuntime, scenarioRuntimes, type RuntimeScenario } from './runtimes.ts';
import { sandboxFor, type AppTargets, type ClusterTargets, type SandboxWith } from './sandbox-for.ts';
import type { SandboxOptions } from './sandbox.ts';

export type StoryContext = RuntimeScenario & {
	/** sandboxFor() on this story's runtime: stopped at the test's end, reported when the test failed. */
	sandbox<C extends ClusterTargets = Record<never, never>, A extends AppTargets = Record<never, never>>(options?: Omit<SandboxOptions, 'clusters' | 'apps' | 'runtime'> & { clusters?: C; apps?: A }): Promise<SandboxWith<C, A>>;
};

export type StoryImplementation = (t: ExecutionContext<unknown>, story: StoryContext) => void | Promise<void>;

/** ava's `test`, `test.serial`, `test.only`…: anything that declares a test from a title and an implementation. */
export type TestDeclaration = (title: string, implementation: (t: ExecutionContext<unknown>) => void | Promise<void>) => void;

export type Story = ((title: string, implementation: StoryImplementation) => void) & {
	/** The runtimes each story is told on. */
	readonly runtimes: readonly RuntimeScenario['runtime'][];
};

/** Decides the runtimes (await it at the top of the file), then returns `story(title, implementation)`, which declares one `declare` test per runtime. */
export async function stories(declare: TestDeclaration): Promise<Story> {
	const runtimes = await scenarioRuntimes();
	const story = (title: string, implementation: StoryImplementation): void => {
		forEachRuntime(runtimes, scenario => {
			declare(scenario.title(title), async t => implementation(t, {
				...scenario,
				sandbox: async options => sandboxFor(t, options, scenario.startSandbox),
			}));
		});
	};

	return Object.assign(story, { runtimes });
}
