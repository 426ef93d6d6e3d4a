/**
 * oci:// modules through the registry HTTP API v2 (got), following istio-agent's image fetcher
 * (pkg/wasm/imagefetcher.go) and go-containerregistry's defaults it relies on:
 * - localhost / 127.0.0.1 / WASM_INSECURE_REGISTRIES registries are spoken to over plain HTTP; others over
 *   HTTPS, retried once over HTTP when the server answers HTTPS with HTTP ("server gave HTTP response").
 * - Auth: anonymous, or the pull secret's docker config entry for the registry (Basic, or a Bearer token from
 *   the realm a 401 names).
 * - An image index picks linux/amd64 (go-containerregistry's default platform).
 * - The manifest digest is the checksum `sha256` is compared with (not the .wasm's hash).
 * - Accepted variants, in this order: Docker image (last layer
 *   application/vnd.docker.image.rootfs.diff.tar.gzip with a plugin.wasm), "compat" OCI image (last layer
 *   application/vnd.oci.image.layer.v1.tar+gzip with a plugin.wasm), "oci" Wasm artifact (exactly 2 layers,
 *   one application/vnd.module.wasm.content.layer.v1+wasm holding the raw module).
 */
import { createHash } from 'node:crypto';
import got, { RequestError, type Headers } from 'got';
import { extractPluginWasm } from './unbox.ts';

export const mediaTypes = {
	dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
	dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
	ociManifest: 'application/vnd.oci.image.manifest.v1+json',
	ociIndex: 'application/vnd.oci.image.index.v1+json',
	dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
	ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
	wasmLayer: 'application/vnd.module.wasm.content.layer.v1+wasm',
	wasmConfig: 'application/vnd.module.wasm.config.v1+json',
} as const;

export type ImageReference = {
	readonly registry: string;
	readonly repository: string;
	/** Tag or `sha256:<hex>`. */
	readonly reference: string;
	readonly isDigest: boolean;
};

/** `oci://host[:port]/repo[:tag|@sha256:hex]` (go-containerregistry name.ParseReference, default tag latest). */
export function parseImageReference(url: string): ImageReference {
	const bare = url.replace(/^oci:\/\//, '');
	const slash = bare.indexOf('/');
	let registry = slash > 0 ? bare.slice(0, slash) : 'index.docker.io';
	let rest = slash > 0 ? bare.slice(slash + 1) : bare;
	if (slash > 0 && !/[.:]/.test(registry) && registry !== 'localhost') {
		// No dot, no port, not localhost: the first segment is a Docker Hub namespace.
		rest = bare;
		registry = 'index.docker.io';
	}

	if (registry === 'docker.io') {
		registry = 'index.docker.io';
	}

	const at = rest.indexOf('@');
	if (at >= 0) {
		return { registry, repository: rest.slice(0, at), reference: rest.slice(at + 1), isDigest: true };
	}

	const colon = rest.lastIndexOf(':');
	const repository = colon > rest.lastIndexOf('/') && colon >= 0 ? rest.slice(0, colon) : rest;
	const tag = colon > rest.lastIndexOf('/') && colon >= 0 ? rest.slice(colon + 1) : 'latest';
	const fullRepository = registry === 'index.docker.io' && !repository.includes('/') ? `library/${repository}` : repository;
	if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(fullRepository)) {
		throw new Error(`could not parse url in image reference: repository can only contain the characters \`abcdefghijklmnopqrstuvwxyz0123456789_-./\`: ${repository}`);
	}

	return { registry, repository: fullRepository, reference: tag, isDigest: false };
}

/** The cache's module name: the URL without tag or digest (pkg/wasm/cache.go). */
export function ociModuleName(url: string): string {
	const ref = parseImageReference(url);
	return `oci://${ref.registry}/${ref.repository}`;
}

export type Credentials = { readonly username: string; readonly password: string } | undefined;

/** The docker config entry for `registry` (docker/cli configfile GetAuthConfig, via wasmKeyChain in imagefetcher.go). */
export function credentialsFor(dockerConfigJson: Uint8Array | undefined, registry: string): Credentials {
	if (!dockerConfigJson) {
		return undefined;
	}

	const config = JSON.parse(Buffer.from(dockerConfigJson).toString('utf8')) as { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
	const auths = config.auths ?? {};
	const key = registry === 'index.docker.io' ? 'https://index.docker.io/v1/' : registry;
	const entry = auths[key] ?? auths[`https://${key}`] ?? auths[`http://${key}`];
	if (!entry) {
		return undefined;
	}

	if (entry.auth) {
		const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
		const colon = decoded.indexOf(':');
		return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
	}

	return entry.username ? { username: entry.username, password: entry.password ?? '' } : undefined;
}

export type OciFetchOptions = {
	readonly timeoutMs: number;
	readonly insecureRegistries: readonly string[];
	readonly pullSecret: Uint8Array | undefined;
	/** Progress lines in istio-agent's words. */
	readonly log: (line: string) => void;
};

export type PreparedImage = {
	/** Manifest digest, hex without `sha256:`. */
	readonly digest: string;
	/** Downloads and extracts the module (only called when the cache does not have `digest`). */
	readonly fetchBinary: () => Promise<Uint8Array>;
};

type Descriptor = { mediaType?: string; digest: string; size?: number; platform?: { os?: string; architecture?: string } };
type Manifest = { mediaType?: string; layers?: Descriptor[]; manifests?: Descriptor[] };

export async function prepareImage(url: string, options: OciFetchOptions): Promise<PreparedImage> {
	const ref = parseImageReference(url);
	options.log(`fetching image ${ref.repository} from registry ${ref.registry} with tag ${ref.reference}`);
	const client = new RegistryClient(ref, options);
	let manifestResponse: { body: Buffer; contentType: string };
	try {
		manifestResponse = await client.get(`/v2/${ref.repository}/manifests/${ref.reference}`, manifestAccept);
		let manifest = JSON.parse(manifestResponse.body.toString('utf8')) as Manifest;
		const type = manifest.mediaType ?? manifestResponse.contentType;
		if (type === mediaTypes.ociIndex || type === mediaTypes.dockerList || manifest.manifests) {
			const chosen = (manifest.manifests ?? []).find(entry => entry.platform?.os === 'linux' && entry.platform.architecture === 'amd64')
				?? manifest.manifests?.[0];
			if (!chosen) {
				throw new Error('the image index lists no manifests');
			}

			manifestResponse = await client.get(`/v2/${ref.repository}/manifests/${chosen.digest}`, manifestAccept);
			manifest = JSON.parse(manifestResponse.body.toString('utf8')) as Manifest;
		}
	} catch (error) {
		throw new Error(`could not fetch Wasm OCI image: could not fetch manifest: ${(error as Error).message}`);
	}

	const digest = createHash('sha256').update(manifestResponse.body).digest('hex');
	const manifest = JSON.parse(manifestResponse.body.toString('utf8')) as Manifest;
	const mediaType = manifest.mediaType ?? manifestResponse.contentType;
	const fetchBinary = async () => {
		try {
			return await extractModule(manifest, mediaType, client, ref);
		} catch (error) {
			throw new Error(`could not fetch Wasm binary: ${(error as Error).message}`);
		}
	};

	return { digest, fetchBinary };
}

const manifestAccept = [mediaTypes.dockerManifest, mediaTypes.ociManifest, mediaTypes.ociIndex, mediaTypes.dockerList].join(', ');

async function extractModule(manifest: Manifest, mediaType: string, client: RegistryClient, ref: ImageReference): Promise<Uint8Array> {
	const layers = manifest.layers ?? [];
	const blob = async (layer: Descriptor) => (await client.get(`/v2/${ref.repository}/blobs/${layer.digest}`, '*/*')).body;
	if (mediaType === mediaTypes.dockerManifest) {
		// Docker images: no fallback to the other variants (imagefetcher.go).
		const last = layers.at(-1);
		if (!last) {
			throw new Error('could not extract Wasm file from the image as Docker container number of layers must be greater than zero');
		}

		if (last.mediaType !== mediaTypes.dockerLayer) {
			throw new Error(`could not extract Wasm file from the image as Docker container invalid media type ${last.mediaType} (expect ${mediaTypes.dockerLayer})`);
		}

		try {
			return extractPluginWasm(await blob(last));
		} catch (error) {
			throw new Error(`could not extract Wasm file from the image as Docker container could not extract wasm binary: ${(error as Error).message}`);
		}
	}

	let compatError: string;
	const last = layers.at(-1);
	if (!last) {
		compatError = 'number of layers must be greater than zero';
	} else if (last.mediaType === mediaTypes.ociLayer) {
		try {
			return extractPluginWasm(await blob(last));
		} catch (error) {
			compatError = `could not extract wasm binary: ${(error as Error).message}`;
		}
	} else {
		compatError = `invalid media type ${last.mediaType} (expect ${mediaTypes.ociLayer})`;
	}

	let ociError: string;
	if (layers.length === 2) {
		const wasmLayer = layers.find(layer => layer.mediaType === mediaTypes.wasmLayer);
		if (wasmLayer) {
			return blob(wasmLayer);
		}

		ociError = `could not find the layer of type ${mediaTypes.wasmLayer}`;
	} else {
		ociError = `number of layers must be 2 but got ${layers.length}`;
	}

	throw new Error(`the given image is in invalid format as an OCI image: could not parse as compat variant: ${compatError}; could not parse as oci variant: ${ociError}`);
}

/** Registry HTTP API v2 with the token dance, on plain HTTP where go-containerregistry would use it. */
class RegistryClient {
	private scheme: 'https' | 'http';
	private authorization: string | undefined;

	constructor(private readonly ref: ImageReference, private readonly options: OciFetchOptions) {
		const host = ref.registry.replace(/:\d+$/, '');
		const insecure = options.insecureRegistries.includes('*') || options.insecureRegistries.includes(ref.registry) || options.insecureRegistries.includes(host);
		const local = host === 'localhost' || host === '127.0.0.1' || host === '[::1]' || host.endsWith('.localhost');
		this.scheme = insecure || local ? 'http' : 'https';
	}

	private readonly credentials = (): Credentials => credentialsFor(this.options.pullSecret, this.ref.registry);

	async get(path: string, accept: string): Promise<{ body: Buffer; contentType: string }> {
		for (let attempt = 0; attempt < 3; attempt++) {
			let response;
			try {
				response = await got(`${this.scheme}://${this.ref.registry}${path}`, {
					headers: { accept, ...(this.authorization ? { authorization: this.authorization } : {}) },
					responseType: 'buffer',
					throwHttpErrors: false,
					retry: { limit: 0 },
					timeout: { request: this.options.timeoutMs },
					followRedirect: true,
				});
			} catch (error) {
				if (this.scheme === 'https' && error instanceof RequestError && /EPROTO|WRONG_VERSION_NUMBER|packet length too long/i.test(`${error.code ?? ''} ${error.message}`)) {
					// go-containerregistry: "server gave HTTP response to HTTPS client" → imagefetcher.go retries insecure.
					this.options.log(`fetching image with plain text from oci://${this.ref.registry}/${this.ref.repository}:${this.ref.reference}`);
					this.scheme = 'http';
					continue;
				}

				throw error;
			}

			if (response.statusCode === 401 && !this.authorization) {
				this.authorization = await this.authorize(response.headers);
				if (this.authorization) {
					continue;
				}
			}

			if (response.statusCode !== 200) {
				throw new Error(`GET ${this.scheme}://${this.ref.registry}${path}: unexpected status code ${response.statusCode} ${response.statusMessage ?? ''}: ${response.body.toString('utf8').slice(0, 300).trim()}`);
			}

			return { body: response.body, contentType: String(response.headers['content-type'] ?? '').split(';')[0] ?? '' };
		}

		throw new Error(`GET ${this.ref.registry}${path}: authentication failed`);
	}

	private async authorize(headers: Headers): Promise<string | undefined> {
		const challenge = String(headers['www-authenticate'] ?? '');
		const credentials = this.credentials();
		if (/^basic/i.test(challenge)) {
			return credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;
		}

		if (/^bearer/i.test(challenge)) {
			const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map(match => [match[1], match[2]]));
			if (!params.realm) {
				return undefined;
			}

			const tokenUrl = new URL(params.realm);
			if (params.service) {
				tokenUrl.searchParams.set('service', params.service);
			}

			tokenUrl.searchParams.set('scope', params.scope ?? `repository:${this.ref.repository}:pull`);
			const response = await got(tokenUrl, {
				headers: credentials ? { authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` } : {},
				responseType: 'json',
				timeout: { request: this.options.timeoutMs },
				retry: { limit: 0 },
			});
			const body = response.body as { token?: string; access_token?: string };
			const token = body.token ?? body.access_token;
			return token ? `Bearer ${token}` : undefined;
		}

		return undefined;
	}
}
