/**
 * Which runtimes a scenario file runs on: every scenario must pass on each of them.
 *
 *   for (const runtime of await scenarioRuntimes()) {
 *     test(`[${runtime}] the plugin answers`, async t => {
 *       const box = await startSandbox({ runtime, plugins: [...] });
 *       ...
 *     });
 *   }
 *
 * `local` always; `docker` when a Docker daemon answers. With MESHBOX_STRICT=1 (CI), `docker` is always
 * included, so a missing daemon fails those tests with meshbox's DOCKER_UNAVAILABLE error instead of
 * silently skipping them. MESHBOX_RUNTIMES=local,docker (comma-separated) picks the runtimes explicitly.
 *
 * MESHBOX_ENVOY_VERSIONS=1.36,1.38,1.40 runs every story once per Envoy version as well (titles
 * `[local envoy 1.36] …`); unset, stories run the default Envoy and titles stay `[local] …`.
 */
import { MeshboxError } from '../errors.ts';
import { runtimeNames, type RuntimeName } from '../runtime/types.ts';
import { startSandbox, type Sandbox, type SandboxOptions } from './sandbox.ts';

let detected: Promise<RuntimeName[]> | undefined;

/** The runtimes for this process's scenarios (decided once per process). */
export async function scenarioRuntimes(): Promise<RuntimeName[]> {
	detected ??= detectRuntimes(process.env);
	return detected;
}

/** The decision itself, from `env` (MESHBOX_RUNTIMES, MESHBOX_STRICT) and whether Docker answers. */
export async function detectRuntimes(env: NodeJS.ProcessEnv): Promise<RuntimeName[]> {
	const explicit = env.MESHBOX_RUNTIMES?.trim();
	if (explicit) {
		const names = explicit.split(',').map(name => name.trim()).filter(Boolean);
		const unknown = names.filter(name => !(runtimeNames as readonly string[]).includes(name));
		if (unknown.length > 0) {
			throw new MeshboxError('USAGE', `MESHBOX_RUNTIMES names unknown runtime(s): ${unknown.join(', ')}`, `use some of: ${runtimeNames.join(', ')}`);
		}

		return [...new Set(names)] as RuntimeName[];
	}

	if (env.MESHBOX_STRICT === '1') {
		return ['local', 'docker'];
	}

	// Loaded only here: probing Docker needs testcontainers, which the local runtime never loads.
	const { dockerAnswers } = await import('../runtime/docker/daemon.ts');
	if (await dockerAnswers()) {
		return ['local', 'docker'];
	}

	process.stderr.write('meshbox: no Docker daemon answers, so scenarios run on the local runtime only; to get one: sudo apt-get install -y docker.io'
		+ ' and start dockerd (meshbox\'s scripts/ci-docker.sh does both) (MESHBOX_STRICT=1 makes that a failure)\n');
	return ['local'];
}

/**
 * The Envoy versions each story runs on (MESHBOX_ENVOY_VERSIONS, comma-separated: `1.38` = newest 1.38.x, or
 * `1.38.3`); `[undefined]`, one run on the default Envoy, when it is unset.
 */
export function scenarioEnvoyVersions(env: NodeJS.ProcessEnv = process.env): Array<string | undefined> {
	const listed = (env.MESHBOX_ENVOY_VERSIONS ?? '').split(',').map(version => version.trim()).filter(Boolean);
	const invalid = listed.filter(version => !/^v?\d+\.\d+(\.\d+)?$/.test(version));
	if (invalid.length > 0) {
		throw new MeshboxError('USAGE', `MESHBOX_ENVOY_VERSIONS: ${invalid.map(version => JSON.stringify(version)).join(', ')} ${invalid.length === 1 ? 'is not an Envoy version' : 'are not Envoy versions'}`,
			'e.g. MESHBOX_ENVOY_VERSIONS=1.36,1.38,1.40 (`meshbox envoy --list` shows the available ones)');
	}

	return listed.length > 0 ? [...new Set(listed)] : [undefined];
}

export type RuntimeScenario = {
	readonly runtime: RuntimeName;
	/** The Envoy version this run asks for (from MESHBOX_ENVOY_VERSIONS); undefined: the default Envoy. */
	readonly envoyVersion: string | undefined;
	/** `[docker] title`: ava titles must differ between runtimes. */
	readonly title: (text: string) => string;
	/** startSandbox() on this runtime. */
	readonly startSandbox: (options?: SandboxOptions) => Promise<Sandbox>;
};

/**
 * Defines a scenario file's tests once per runtime, so every story is told on every runtime without
 * repeating it. ava wants every test and hook declared synchronously, so await the runtimes first, before
 * declaring anything:
 *
 *   const runtimes = await scenarioRuntimes();
 *   forEachRuntime(runtimes, ({ title, startSandbox }) => {
 *     test(title('the plugin answers'), async t => { const box = await startSandbox({ plugins }); … });
 *   });
 *
 * Each runtime is crossed with the Envoy versions (`envoyVersions`, default scenarioEnvoyVersions(): the
 * MESHBOX_ENVOY_VERSIONS matrix), and the version is in the title. The matrix's version wins over a spec's
 * `envoy.version`, so a story pinned to one version still runs on each.
 */
export function forEachRuntime(runtimes: readonly RuntimeName[], define: (scenario: RuntimeScenario) => void,
	envoyVersions: ReadonlyArray<string | undefined> = scenarioEnvoyVersions()): void {
	for (const runtime of runtimes) {
		for (const envoyVersion of envoyVersions) {
			const label = envoyVersion === undefined ? runtime : `${runtime} envoy ${envoyVersion}`;
			define({
				runtime,
				envoyVersion,
				title: text => `[${label}] ${text}`,
				startSandbox: async (options = {}) => startSandbox({ ...options, runtime, ...(envoyVersion === undefined ? {} : { envoyVersion }) }),
			});
		}
	}
}

/** forEachRuntime() on explicit Envoy versions, e.g. a story that compares two releases: `forEachEnvoyVersion(runtimes, ['1.36', '1.40'], …)`. */
export function forEachEnvoyVersion(runtimes: readonly RuntimeName[], envoyVersions: readonly string[], define: (scenario: RuntimeScenario) => void): void {
	forEachRuntime(runtimes, define, envoyVersions);
}
