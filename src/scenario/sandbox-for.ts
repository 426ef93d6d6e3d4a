/**
 * `sandboxFor(t, options)`: a sandbox that belongs to one test (ava's `t`, or any runner's through an adapter:
 * ./test-context.ts, ./node-test.ts). It is stopped when the test ends, and when
 * the test failed its debug report (src/scenario/report.ts) is written first, to a directory named in the
 * test's log, so a failure in CI leaves the sandbox's bootstrap, config dump, stats and logs behind.
 */
import path from 'node:path';
import type { AppSpec } from '../config/routing.ts';
import type { MockService } from './mock-service.ts';
import { removeReportDir, reportDirFor, writeSandboxReport } from './report.ts';
import { startSandbox, type Sandbox, type SandboxOptions } from './sandbox.ts';
import type { ScenarioTest } from './test-context.ts';

/** The spec's clusters: a mock service or a `host:port`, by cluster name. */
export type ClusterTargets = Record<string, MockService | string>;

/** Cluster names whose target is a mock service: those have recordings in `box.mocks`. */
export type MockNames<C> = { [K in keyof C]: C[K] extends MockService ? K : never }[keyof C] & string;

/** The spec's named apps (`apps:`), by name. */
export type AppTargets = Record<string, AppSpec>;

/**
 * A sandbox whose `mocks` are typed by the spec's cluster names and `apps` by its app names: `box.mocks.authz`
 * and `box.apps.canary` need no `!`, `box.mocks.typo` does not compile.
 */
export type SandboxWith<C, A = Record<never, never>> = Sandbox<MockNames<C>, keyof A & string>;

export type SandboxStarter = (options?: SandboxOptions) => Promise<Sandbox>;

/**
 * Starts a sandbox for test `t` (with `start`, default startSandbox: the runtime from `options.runtime` or
 * MESHBOX_RUNTIME) and stops it at the test's teardown. If the test failed, the teardown first writes the
 * sandbox's report to `reportDirFor(t.title)` and logs that path with the failure; a passing test removes an
 * older report of the same title, so only failures leave reports.
 */
export async function sandboxFor<C extends ClusterTargets = Record<never, never>, A extends AppTargets = Record<never, never>>(
	t: ScenarioTest,
	options: Omit<SandboxOptions, 'clusters' | 'apps'> & { clusters?: C; apps?: A } = {},
	start: SandboxStarter = startSandbox,
): Promise<SandboxWith<C, A>> {
	const box = await start(options);
	t.teardown(async () => {
		try {
			await reportIfFailed(t, box);
		} finally {
			await box.stop();
		}
	});
	return box as SandboxWith<C, A>;
}

/** At a test's end: a failed test's report (its path goes to the test's log), or no report for a passed one. */
async function reportIfFailed(t: Pick<ScenarioTest, 'title' | 'passed' | 'log'>, box: Sandbox): Promise<string | undefined> {
	const dir = reportDirFor(t.title);
	if (t.passed) {
		await removeReportDir(dir);
		return undefined;
	}

	try {
		await writeSandboxReport(box, dir);
		t.log(`meshbox: the sandbox's debug report (bootstrap, /config_dump, /stats, plugin and Envoy logs) is in ${shown(dir)}`);
		return dir;
	} catch (error) {
		t.log(`meshbox: could not write the sandbox's debug report to ${dir}: ${(error as Error).message}`);
		return undefined;
	}
}

/** `dir` relative to the working directory when it is inside it (as CI artifact paths are written), else absolute. */
function shown(dir: string): string {
	const relative = path.relative(process.cwd(), dir);
	return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : dir;
}
