/**
 * A consumer project of the packed package for a test runner meshbox does not depend on (vitest, jest): the
 * runner comes from the npm registry into the project's own node_modules, never into meshbox's. npm's cache
 * for these installs lives under meshbox's cache directory (MESHBOX_CACHE_DIR in CI), one per runner and
 * versions, so a second run installs offline from it; without that cache and without the registry, the
 * tests are skipped with one line naming the cause (MESHBOX_STRICT=1: they run, and fail).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { cacheDir } from '../../src/util/cache-dir.ts';
import { repoRoot } from '../helpers/paths.ts';
import type { RequirementDecision } from '../helpers/requirements.ts';

export type ConsumerSpec = {
	/** The runner, for names and messages: "vitest". */
	readonly runner: string;
	/** Exact versions: the runner and what it needs (the key of the npm cache). */
	readonly devDependencies: Readonly<Record<string, string>>;
	/** More package.json fields (jest's config). */
	readonly packageFields?: Readonly<Record<string, unknown>>;
	/** The project's files, by path relative to it. */
	readonly files: Readonly<Record<string, string>>;
};

/** The TypeScript and @types/node meshbox itself is checked with: the consumers type-check with the same. */
export async function checkerVersions(): Promise<Record<string, string>> {
	const versionOf = async (name: string) => (JSON.parse(await readFile(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
	return { typescript: await versionOf('typescript'), '@types/node': await versionOf('@types/node') };
}

/** npm's cache for `spec`'s installs, and the file saying one install from it completed. */
function npmCache(spec: ConsumerSpec, checkers: Record<string, string>): { dir: string; complete: string } {
	const versions = Object.entries({ ...spec.devDependencies, ...checkers }).sort(([a], [b]) => a.localeCompare(b))
		.map(([name, version]) => `${name.replace(/^@/, '').replace('/', '+')}@${version}`).join('_');
	const dir = path.join(cacheDir(), 'consumers', spec.runner, versions);
	return { dir, complete: path.join(dir, 'installed') };
}

/**
 * Whether the consumer tests of `spec` can install: yes when a previous run filled the cache or the registry
 * answers `npm ping`; else the skip, with npm's reason.
 */
export async function consumerDecision(spec: ConsumerSpec, env: NodeJS.ProcessEnv = process.env): Promise<RequirementDecision> {
	if (env.MESHBOX_STRICT === '1' || existsSync(npmCache(spec, await checkerVersions()).complete)) {
		return { run: true };
	}

	const ping = await execa('npm', ['ping', '--fetch-timeout=15000', '--fetch-retries=0'], { reject: false, all: true, timeout: 60_000 });
	if (ping.exitCode === 0) {
		return { run: true };
	}

	const cause = (ping.all ?? '').split('\n').find(line => /\b(?:E[A-Z]{4,}|ERR!)/.test(line))?.replace(/^npm (?:error|ERR!)\s*/, '').trim() || 'npm ping failed';
	const reason = `the npm registry is unreachable (${cause}) and ${spec.runner} is not in meshbox's cache yet`;
	return { run: false, reason, line: `meshbox tests: skipping the ${spec.runner} consumer project: ${reason} (MESHBOX_STRICT=1 makes that a failure)` };
}

/**
 * Writes the project into `dir/project` with meshbox from `tarball`, the runner and the type checkers, and
 * installs it: offline from meshbox's cache when a previous install filled it, else from the registry.
 */
export async function installConsumer(dir: string, tarball: string, spec: ConsumerSpec): Promise<string> {
	const project = path.join(dir, 'project');
	const checkers = await checkerVersions();
	await mkdir(project, { recursive: true });
	await writeFile(path.join(project, 'package.json'), JSON.stringify({
		name: `${spec.runner}-consumer`,
		private: true,
		type: 'module',
		...spec.packageFields,
		devDependencies: { meshbox: `file:${tarball}`, ...spec.devDependencies, ...checkers },
	}, undefined, 2));
	for (const [file, text] of Object.entries(spec.files)) {
		await mkdir(path.dirname(path.join(project, file)), { recursive: true });
		await writeFile(path.join(project, file), text);
	}

	const cache = npmCache(spec, checkers);
	// Bounded retries: with npm's defaults (2 retries, up to 60 s apart, per package) an unreachable registry
	// keeps an install waiting for many minutes before it says so.
	const install = async (mode: '--offline' | '--prefer-offline') => execa('npm', ['install', '--no-audit', '--no-fund', mode, '--cache', path.join(cache.dir, 'npm'), '--fetch-retries=1', '--fetch-retry-maxtimeout=10000', '--fetch-timeout=60000'], { cwd: project, reject: false, all: true });
	// A package meshbox added since the cache was filled is not in it: then the registry fills it in.
	const offline = existsSync(cache.complete) ? await install('--offline') : undefined;
	if (offline?.exitCode !== 0) {
		const online = await install('--prefer-offline');
		if (online.exitCode !== 0) {
			throw new Error(`npm install of the ${spec.runner} consumer project failed:\n${online.all}`);
		}

		await writeFile(cache.complete, `${new Date().toISOString()}\n`);
	}

	return project;
}

/**
 * The docs' example for `runner` (docs/scenario-api.md, "Test runners: ava, node:test, vitest, jest", the ```ts block whose
 * first line is `// <runner>`): the consumer project type-checks it, so the docs show code that compiles.
 */
export async function readmeExample(runner: string): Promise<string> {
	const readme = await readFile(path.join(repoRoot, 'docs', 'scenario-api.md'), 'utf8');
	const start = readme.indexOf('\n## Test runners: ava, node:test, vitest, jest\n');
	const section = start === -1 ? '' : readme.slice(start + 1).split(/\n##+ /)[0] ?? '';
	const block = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map(match => match[1] ?? '').find(text => text.startsWith(`// ${runner}\n`));
	if (!block) {
		throw new Error(`docs/scenario-api.md: the section "Test runners: ava, node:test, vitest, jest" has no \`\`\`ts block starting with "// ${runner}"`);
	}

	return block;
}
