/**
 * The C runtime the images' programs need (glibc, libgcc_s, libstdc++), for the daemon's architecture, from
 * Debian's archive: the suite's `Release` lists the SHA-256 of `main/binary-<arch>/Packages.gz`, which lists the
 * SHA-256 of each .deb; both are checked. A .deb is an `ar` archive (deb(5)); its `data.tar.*` is extracted with
 * the platform's tar, and only the shared libraries (and the dynamic loader's links) are kept.
 *
 * Debian 12 (bookworm): glibc 2.36, new enough for Envoy's manylinux_2_31 wheels and Node's glibc 2.28 builds,
 * and its libraries still live in /lib/<triplet> with /lib64/ld-linux-x86-64.so.2 a link in libc6 itself (the
 * paths the binaries ask for), so no merged-/usr links are needed. The Release file is taken over HTTPS and not
 * checked against Debian's OpenPGP signature (no gpg is assumed on the host).
 *
 * MESHBOX_DEBIAN_MIRROR chooses another mirror (default https://deb.debian.org/debian).
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { MeshboxError } from '../../errors.ts';
import { type LinuxArch } from './linux-arch.ts';
import { cachedEntry, listTree, pruneTree, untar, type CacheEntry, type CachedFile } from './verified-cache.ts';

const gunzipAsync = promisify(gunzip);

export const debianRelease = { suite: 'bookworm', glibc: [2, 36] } as const;

/** The packages every image gets (Envoy needs only libc6; Node also libstdc++6 and libgcc-s1). */
export const runtimePackages = ['libc6', 'libgcc-s1', 'libstdc++6'] as const;
export type RuntimePackage = typeof runtimePackages[number];

const downloadTimeoutMs = 300_000;

export function debianMirror(env: NodeJS.ProcessEnv = process.env): string {
	return (env.MESHBOX_DEBIAN_MIRROR || 'https://deb.debian.org/debian').replace(/\/+$/, '');
}

/**
 * The shared libraries of `runtimePackages` for `arch`, from the verified cache or Debian. In the cache each
 * package's files are under `<package>/`; `librariesOf` picks those of some packages at their image paths.
 */
export async function debianLibraries(arch: LinuxArch, progress: (line: string) => void): Promise<CacheEntry> {
	const mirror = debianMirror();
	// Not keyed by mirror: every mirror serves the same verified files, and a cached build needs none.
	return cachedEntry(arch, `debian-${debianRelease.suite}`, progress, async work => {
		progress(`meshbox: downloading ${runtimePackages.join(', ')} for linux/${arch} from Debian ${debianRelease.suite} (${mirror})`);
		const index = await packagesIndex(mirror, arch);
		const origins: string[] = [];
		for (const name of runtimePackages) {
			const stanza = index.get(name);
			if (!stanza) {
				throw new MeshboxError('DOCKER_IMAGE_UNAVAILABLE', `Debian ${debianRelease.suite} lists no ${name} for ${arch} at ${mirror}`, 'set MESHBOX_DEBIAN_MIRROR to a full Debian mirror');
			}

			const deb = await download(`${mirror}/${stanza.filename}`, stanza.sha256, `${name} ${stanza.version}`);
			await extractDeb(deb, path.join(work, name), work, `${name}_${stanza.version}_${arch}.deb`);
			origins.push(`${name} ${stanza.version} (sha256 ${stanza.sha256})`);
		}

		const files = await listTree(work, relative => isSharedLibrary(relative.slice(relative.indexOf('/') + 1)));
		await pruneTree(work, files);
		return { origin: `Debian ${debianRelease.suite} linux/${arch}: ${origins.join(', ')}`, files };
	});
}

/** The files of `packages` in `entry`, with their paths in the image. */
export function librariesOf(entry: CacheEntry, packages: readonly RuntimePackage[]): Array<{ file: CachedFile; imagePath: string }> {
	return entry.files
		.filter(file => packages.some(name => file.path.startsWith(`${name}/`)))
		.map(file => ({ file, imagePath: `/${file.path.slice(file.path.indexOf('/') + 1)}` }));
}

/**
 * What an image keeps of a package: shared objects and the loader under lib/, lib64/ and usr/lib/, not the
 * gconv charset modules (iconv; neither Envoy nor Node loads them), auditing helpers, docs or debugger scripts.
 */
export function isSharedLibrary(relative: string): boolean {
	return /^(lib|lib64|usr\/lib)\/(.+\/)?[^/]+\.so(\.\d+)*$/.test(relative) && !/\/(gconv|audit)\//.test(relative);
}

type Stanza = { readonly version: string; readonly filename: string; readonly sha256: string };

const indexes = new Map<string, Promise<Map<string, Stanza>>>();

/** `Packages` of the suite's main component for `arch`, checked against `Release`, as package → stanza. */
async function packagesIndex(mirror: string, arch: LinuxArch): Promise<Map<string, Stanza>> {
	const key = `${mirror} ${arch}`;
	let pending = indexes.get(key);
	if (!pending) {
		pending = readPackagesIndex(mirror, arch);
		indexes.set(key, pending);
		pending.catch(() => indexes.delete(key));
	}

	return pending;
}

async function readPackagesIndex(mirror: string, arch: LinuxArch): Promise<Map<string, Stanza>> {
	const base = `${mirror}/dists/${debianRelease.suite}`;
	const release = (await fetchBytes(`${base}/Release`, 'Debian\'s Release file')).toString('utf8');
	const wanted = `main/binary-${arch}/Packages.gz`;
	// The SHA256 field: lines ` <hex> <size> <path>` under `SHA256:` (Debian's repository format).
	const section = /^SHA256:\n((?:[ \t].*\n?)*)/m.exec(release)?.[1] ?? '';
	const listed = section.split('\n').map(line => line.trim().split(/\s+/)).find(fields => fields[2] === wanted);
	if (!listed) {
		throw new MeshboxError('DOCKER_IMAGE_UNAVAILABLE', `${base}/Release lists no SHA-256 for ${wanted}`, 'set MESHBOX_DEBIAN_MIRROR to a full Debian mirror');
	}

	const compressed = await download(`${base}/${wanted}`, listed[0]!, `the ${arch} package index`);
	const text = (await gunzipAsync(compressed)).toString('utf8');
	const stanzas = new Map<string, Stanza>();
	for (const block of text.split(/\n\n+/)) {
		const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(block)?.[1]?.trim();
		const name = field('Package');
		const filename = field('Filename');
		const sha256 = field('SHA256');
		const version = field('Version');
		if (name && filename && sha256 && version && !stanzas.has(name) && (runtimePackages as readonly string[]).includes(name)) {
			stanzas.set(name, { version, filename, sha256 });
		}
	}

	return stanzas;
}

/** The body of `url`, which must have the SHA-256 `sha256`. */
async function download(url: string, sha256: string, what: string): Promise<Buffer> {
	const body = await fetchBytes(url, what);
	const actual = createHash('sha256').update(body).digest('hex');
	if (actual !== sha256) {
		throw new MeshboxError('DOCKER_FAILED', `${what} from ${url} does not match the SHA-256 Debian's index lists (got ${actual}, want ${sha256})`,
			'try again (a broken download or proxy); if it persists, the mirror is inconsistent: set MESHBOX_DEBIAN_MIRROR to another');
	}

	return body;
}

async function fetchBytes(url: string, what: string): Promise<Buffer> {
	let response: Response;
	try {
		response = await fetch(url, { signal: AbortSignal.timeout(downloadTimeoutMs) });
	} catch (error) {
		const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
		throw new MeshboxError('DOCKER_IMAGE_UNAVAILABLE', `cannot download ${what} (${url}): ${cause}`, 'check the network (proxy settings), or set MESHBOX_DEBIAN_MIRROR to a reachable Debian mirror');
	}

	if (!response.ok) {
		throw new MeshboxError('DOCKER_IMAGE_UNAVAILABLE', `cannot download ${what} (${url}): HTTP ${response.status}`, 'set MESHBOX_DEBIAN_MIRROR to a reachable, full Debian mirror');
	}

	return Buffer.from(await response.arrayBuffer());
}

/** Extracts the `data.tar.*` member of the .deb `deb` into `dir`, through a file in `work`. */
async function extractDeb(deb: Buffer, dir: string, work: string, name: string): Promise<void> {
	const data = arMembers(deb, name).find(member => /^data\.tar(\.\w+)?$/.test(member.name));
	if (!data) {
		throw new MeshboxError('DOCKER_FAILED', `${name} has no data.tar member`, 'set MESHBOX_DEBIAN_MIRROR to another Debian mirror');
	}

	const archive = path.join(work, `${name}.${data.name}`);
	await writeFile(archive, data.content);
	await mkdir(dir, { recursive: true });
	try {
		await untar(archive, dir);
	} finally {
		await rm(archive, { force: true });
	}
}

type ArMember = { readonly name: string; readonly content: Buffer };

/** The members of a common-format `ar` archive: `!<arch>\n`, then 60-byte headers, each member padded to 2 bytes. */
function arMembers(archive: Buffer, name: string): ArMember[] {
	if (archive.toString('latin1', 0, 8) !== '!<arch>\n') {
		throw new MeshboxError('DOCKER_FAILED', `${name} is not a Debian package (no ar header)`, 'set MESHBOX_DEBIAN_MIRROR to another Debian mirror');
	}

	const members: ArMember[] = [];
	let offset = 8;
	while (offset + 60 <= archive.length) {
		const memberName = archive.toString('latin1', offset, offset + 16).trim().replace(/\/$/, '');
		const size = Number(archive.toString('latin1', offset + 48, offset + 58).trim());
		if (!Number.isInteger(size) || archive.toString('latin1', offset + 58, offset + 60) !== '`\n') {
			throw new MeshboxError('DOCKER_FAILED', `${name} is damaged (a bad ar member header)`, 'try again');
		}

		members.push({ name: memberName, content: archive.subarray(offset + 60, offset + 60 + size) });
		offset += 60 + size + (size % 2);
	}

	return members;
}
