/**
 * oci:// modules through the registry HTTP API v2 (got), following istio-agent's image fetcher
 * (pkg/wasm/imagefetcher.go) and go-containerregistry's defaults it relies on (v0.20.x, pkg/name/registry.go,
 * pkg/v1/remote/transport/ping.go, pkg/v1/remote/index.go):
 * - istio-agent pulls `host + path` of the URL: credentials in its userinfo are not used (pull secrets are).
 * - HTTPS first, for every registry. WASM_INSECURE_REGISTRIES only turns certificate checks off
 *   (InsecureSkipVerify); the scheme stays HTTPS. Plain HTTP is used when HTTPS fails and either the registry
 *   is one go-containerregistry speaks HTTP to anyway (localhost, 127.0.0.1, ::1, *.localhost, RFC 1918
 *   addresses: its ping tries https, then http), or the server answered HTTPS with HTTP ("server gave HTTP
 *   response to HTTPS client"), which makes imagefetcher.go retry with name.Insecure.
 * - Auth: anonymous, or the pull secret's docker config entry for the registry (Basic, or a Bearer token from
 *   the realm a 401 names). From 1.27.8 / 1.28.5 / 1.29.1 / 1.30.0 (`registryRealmCheck`) every 401 is refused
 *   whose WWW-Authenticate names a realm that is not an http(s) URL to a public host, Basic realms included
 *   (imagefetcher.go ssrfProtectionTransport, validateRealmURL).
 * - An image index resolves to its linux/amd64 entry (go-containerregistry's default platform; an entry without
 *   a platform counts as linux/amd64); without one the fetch fails: "no child with platform linux/amd64 in index".
 * - The manifest digest is the checksum `sha256` is compared with (not the .wasm's hash); blobs and manifests
 *   fetched by digest are checked against it, as go-containerregistry does.
 * - Accepted variants, in this order: Docker image (last layer
 *   application/vnd.docker.image.rootfs.diff.tar.gzip with a plugin.wasm), "compat" OCI image (last layer
 *   application/vnd.oci.image.layer.v1.tar+gzip with a plugin.wasm), "oci" Wasm artifact (exactly 2 layers,
 *   one application/vnd.module.wasm.content.layer.v1+wasm holding the raw module).
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import got, { RequestError, type Headers } from 'got';
import { parseGoUrl } from '../go-url.ts';
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

/** `[oci://]host[:port]/repo[:tag|@sha256:hex]` (go-containerregistry name.ParseReference, default tag latest). */
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
function credentialsFor(dockerConfigJson: Uint8Array | undefined, registry: string): Credentials {
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

/** `name.Reference.String()`: how go-containerregistry names the image in its errors. */
function referenceText(ref: ImageReference): string {
	return `${ref.registry}/${ref.repository}${ref.isDigest ? '@' : ':'}${ref.reference}`;
}

/**
 * Registries go-containerregistry speaks plain HTTP to as well (name.Registry.Scheme() is "http": localhost:*,
 * *.localhost, 127.0.0.1, ::1, RFC 1918 addresses); its ping tries HTTPS first, then HTTP.
 */
function triesPlainHttp(registry: string): boolean {
	if (registry.startsWith('localhost:') || /\.localhost(?::\d{1,5})?$/.test(registry) || /^127\.0\.0\.1(?::\d{1,5})?$/.test(registry)
		|| /^(?:::1|\[::1\](?::\d{1,5})?)$/.test(registry)) {
		return true;
	}

	const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?::\d+)?$/.exec(registry)?.slice(1).map(Number);
	if (!octets || octets.some(octet => octet > 255)) {
		return false;
	}

	const [a, b] = octets as [number, number];
	return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

export type OciFetchOptions = {
	readonly timeoutMs: number;
	/** The registry is in WASM_INSECURE_REGISTRIES (or it is `*`): TLS certificates are not verified. */
	readonly insecure: boolean;
	readonly pullSecret: Uint8Array | undefined;
	/** Refuse a 401 whose WWW-Authenticate realm is unsafe (VersionTraits.registryRealmCheck). */
	readonly registryRealmCheck: boolean;
	/** Progress lines in istio-agent's words. */
	readonly log: (line: string) => void;
};

/** Where layer blobs come from: a content-addressed store that verifies what it serves, or the registry. */
export type BlobStore = {
	/**
	 * The blob with `digest` (`sha256:<hex>`): from the store when it holds it (verified), else from `download`
	 * (then kept). `cached` says which.
	 */
	readonly read: (digest: string, download: () => Promise<Buffer>) => Promise<{ readonly bytes: Buffer; readonly cached: boolean }>;
};

export type PreparedImage = {
	/** Manifest digest, hex without `sha256:`. */
	readonly digest: string;
	/** Extracts the module, its layer read through `blobs`; `cached` when no layer had to be downloaded. */
	readonly fetchBinary: (blobs: BlobStore) => Promise<{ readonly bytes: Uint8Array; readonly cached: boolean }>;
};

type Descriptor = { mediaType?: string; digest: string; size?: number; platform?: { os?: string; architecture?: string } };
type Manifest = { mediaType?: string; layers?: Descriptor[]; manifests?: Descriptor[] };

/** `reference` is what istio-agent hands go-containerregistry: the URL's host + path (no scheme, no userinfo). */
export async function prepareImage(reference: string, options: OciFetchOptions): Promise<PreparedImage> {
	const ref = parseImageReference(reference);
	options.log(`fetching image ${ref.repository} from registry ${ref.registry} with tag ${ref.reference}`);
	const client = new RegistryClient(ref, options);
	let manifestResponse: { body: Buffer; contentType: string };
	try {
		manifestResponse = await client.get(`/v2/${ref.repository}/manifests/${ref.reference}`, manifestAccept);
		if (ref.isDigest) {
			verifyManifestDigest(manifestResponse.body, ref.reference, ref);
		}
	} catch (error) {
		throw new Error(`could not fetch manifest: ${(error as Error).message}`);
	}

	try {
		// remote.Descriptor.Image(): an index resolves to its linux/amd64 image (nested indexes too).
		for (let depth = 0; isIndex(manifestResponse); depth++) {
			const index = JSON.parse(manifestResponse.body.toString('utf8')) as Manifest;
			const child = (index.manifests ?? []).find(entry => matchesDefaultPlatform(entry.platform));
			if (!child || depth > 4) {
				throw new Error(`no child with platform ${defaultPlatform.os}/${defaultPlatform.architecture} in index ${referenceText(ref)}`);
			}

			manifestResponse = await client.get(`/v2/${ref.repository}/manifests/${child.digest}`, manifestAccept);
			verifyManifestDigest(manifestResponse.body, child.digest, ref);
		}
	} catch (error) {
		throw new Error(`could not fetch image: ${(error as Error).message}`);
	}

	const digest = createHash('sha256').update(manifestResponse.body).digest('hex');
	const manifest = JSON.parse(manifestResponse.body.toString('utf8')) as Manifest;
	const mediaType = manifest.mediaType ?? manifestResponse.contentType;
	const fetchBinary = async (blobs: BlobStore) => {
		let cached = true;
		const blob = async (layer: Descriptor): Promise<Buffer> => {
			const read = await blobs.read(layer.digest, async () => {
				const body = (await client.get(`/v2/${ref.repository}/blobs/${layer.digest}`, '*/*')).body;
				verifyBlob(body, layer.digest);
				return body;
			});
			cached &&= read.cached;
			return read.bytes;
		};

		try {
			return { bytes: await extractModule(manifest, mediaType, blob), cached };
		} catch (error) {
			throw new Error(`could not fetch Wasm binary: ${(error as Error).message}`);
		}
	};

	return { digest, fetchBinary };
}

/** pkg/v1/remote/options.go defaultPlatform. */
const defaultPlatform = { os: 'linux', architecture: 'amd64' } as const;

/** index.go childByPlatform/matchesPlatform: os and architecture must match; no platform means linux/amd64. */
function matchesDefaultPlatform(platform: Descriptor['platform']): boolean {
	const given = platform ?? defaultPlatform;
	return given.os === defaultPlatform.os && given.architecture === defaultPlatform.architecture;
}

function isIndex(response: { body: Buffer; contentType: string }): boolean {
	const manifest = JSON.parse(response.body.toString('utf8')) as Manifest;
	const type = manifest.mediaType ?? response.contentType;
	return type === mediaTypes.ociIndex || type === mediaTypes.dockerList || (manifest.manifests !== undefined && manifest.layers === undefined);
}

/** fetcher.go: a manifest fetched by digest must hash to it. */
function verifyManifestDigest(body: Buffer, wanted: string, ref: ImageReference): void {
	const got = `sha256:${createHash('sha256').update(body).digest('hex')}`;
	if (got !== wanted) {
		throw new Error(`manifest digest: ${JSON.stringify(got)} does not match requested digest: ${JSON.stringify(wanted)} for ${JSON.stringify(referenceText(ref))}`);
	}
}

/** internal/verify: a blob must hash to its descriptor's digest. */
function verifyBlob(body: Buffer, wanted: string): void {
	const got = createHash('sha256').update(body).digest('hex');
	if (`sha256:${got}` !== wanted) {
		throw new Error(`error verifying sha256 checksum after reading ${body.length} bytes; got ${JSON.stringify(got)}, want ${JSON.stringify(wanted)}`);
	}
}

const manifestAccept = [mediaTypes.dockerManifest, mediaTypes.ociManifest, mediaTypes.ociIndex, mediaTypes.dockerList].join(', ');

async function extractModule(manifest: Manifest, mediaType: string, blob: (layer: Descriptor) => Promise<Buffer>): Promise<Uint8Array> {
	const layers = manifest.layers ?? [];
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

/** Registry HTTP API v2 with the token dance; HTTPS, or plain HTTP where go-containerregistry would fall back to it. */
class RegistryClient {
	/** Decided by the first request (go-containerregistry's ping), then kept. */
	private scheme: 'https' | 'http' | undefined;
	private authorization: string | undefined;

	constructor(private readonly ref: ImageReference, private readonly options: OciFetchOptions) {}

	private readonly credentials = (): Credentials => credentialsFor(this.options.pullSecret, this.ref.registry);

	private async send(scheme: 'https' | 'http', path: string, accept: string) {
		const url = `${scheme}://${this.ref.registry}${path}`;
		const response = await got(url, {
			headers: { accept, ...(this.authorization ? { authorization: this.authorization } : {}) },
			responseType: 'buffer',
			throwHttpErrors: false,
			retry: { limit: 0 },
			timeout: { request: this.options.timeoutMs },
			followRedirect: true,
			https: { rejectUnauthorized: !this.options.insecure },
		});
		this.checkRealms(url, response.statusCode, response.rawHeaders);
		return response;
	}

	/**
	 * imagefetcher.go ssrfProtectionTransport.RoundTrip: on a 401, every realm="…" in every WWW-Authenticate
	 * header must pass validateRealmURL, or the request fails (net/http wraps the transport's error as
	 * `Get "<url>": …`). It runs below go-containerregistry, so the ping, the manifest and the token requests are
	 * all checked, with or without a pull secret.
	 */
	private checkRealms(url: string, statusCode: number, rawHeaders: readonly string[]): void {
		if (!this.options.registryRealmCheck || statusCode !== 401) {
			return;
		}

		for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
			if (rawHeaders[index]!.toLowerCase() !== 'www-authenticate') {
				continue;
			}

			const problem = unsafeRealm(rawHeaders[index + 1]!);
			if (problem) {
				throw new Error(`Get ${JSON.stringify(url)}: rejected unsafe bearer realm: ${problem} (istio-agent from 1.27.8, 1.28.5, 1.29.1 and 1.30.0 refuses a registry whose WWW-Authenticate realm is not an http(s) URL to a public host: give the registry's token service a public address)`);
			}
		}
	}

	/** The first request: HTTPS, then plain HTTP where go-containerregistry / imagefetcher.go would try it. */
	private async firstContact(path: string, accept: string) {
		try {
			const response = await this.send('https', path, accept);
			this.scheme = 'https';
			return response;
		} catch (error) {
			if (!(error instanceof RequestError)) {
				throw error;
			}

			const httpAnswer = /EPROTO|WRONG_VERSION_NUMBER|wrong version number|packet length too long/i.test(`${error.code ?? ''} ${error.message}`);
			if (!httpAnswer && !triesPlainHttp(this.ref.registry)) {
				throw new Error(`Get "https://${this.ref.registry}${path}": ${describeTlsError(error, this.options.insecure)}`);
			}

			if (httpAnswer && !triesPlainHttp(this.ref.registry)) {
				// go-containerregistry: "server gave HTTP response to HTTPS client" → imagefetcher.go retries insecure.
				this.options.log(`fetching image with plain text from ${referenceText(this.ref)}`);
			}

			try {
				const response = await this.send('http', path, accept);
				this.scheme = 'http';
				return response;
			} catch (plainError) {
				// ping.go pingParallel: both attempts failed; both reasons are worth reading.
				throw new Error(`https: ${describeTlsError(error, this.options.insecure)}; http: ${(plainError as Error).message}`);
			}
		}
	}

	async get(path: string, accept: string): Promise<{ body: Buffer; contentType: string }> {
		for (let attempt = 0; attempt < 3; attempt++) {
			const response = this.scheme ? await this.send(this.scheme, path, accept) : await this.firstContact(path, accept);
			if (response.statusCode === 401 && !this.authorization) {
				this.authorization = await this.authorize(response.headers);
				if (this.authorization) {
					continue;
				}
			}

			if (response.statusCode !== 200) {
				throw new Error(`GET ${this.scheme ?? 'https'}://${this.ref.registry}${path}: unexpected status code ${response.statusCode} ${response.statusMessage ?? ''}: ${response.body.toString('utf8').slice(0, 300).trim()}`);
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
				https: { rejectUnauthorized: !this.options.insecure },
			});
			this.checkRealms(tokenUrl.href, response.statusCode, response.rawHeaders);
			const body = response.body as { token?: string; access_token?: string };
			const token = body.token ?? body.access_token;
			return token ? `Bearer ${token}` : undefined;
		}

		return undefined;
	}
}

/**
 * imagefetcher.go validateAllRealms + validateRealmURL: each `realm="…"` (found as text, as Istio does, so a
 * Basic challenge's realm counts too) must be an http(s) URL (Go url.Parse) whose host is not
 * metadata.google.internal, not `localhost`, and not an IP literal that Go calls private (10/8, 172.16/12,
 * 192.168/16, fc00::/7), loopback (127/8, ::1) or link-local unicast (169.254/16, fe80::/10). Host names other
 * than those two are not resolved. The reason in Istio's words, or undefined when every realm passes.
 */
export function unsafeRealm(challenge: string): string | undefined {
	for (const match of challenge.matchAll(/realm="([^"]*)"/g)) {
		const url = parseGoUrl(match[1]!);
		if (url.error) {
			return `invalid realm URL: ${url.error}`;
		}

		if (url.scheme !== 'http' && url.scheme !== 'https') {
			return `realm scheme ${JSON.stringify(url.scheme)} not allowed`;
		}

		const host = goHostname(url.host);
		if (host === '') {
			return 'realm missing host';
		}

		if (host === 'metadata.google.internal') {
			return 'realm targets cloud metadata service';
		}

		if (host === 'localhost') {
			return 'realm targets localhost';
		}

		if (isPrivateLoopbackOrLinkLocal(host)) {
			return 'realm targets private/loopback/link-local IP';
		}
	}

	return undefined;
}

/** Go URL.Hostname() (net/url splitHostPort): the host without a valid `:port`, an IPv6 literal without brackets. */
function goHostname(hostPort: string): string {
	let host = hostPort;
	const colon = host.lastIndexOf(':');
	if (colon >= 0 && /^:\d*$/.test(host.slice(colon))) {
		host = host.slice(0, colon);
	}

	return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Go net.ParseIP(host) and IP.IsPrivate() || IsLoopback() || IsLinkLocalUnicast(); IPv4-mapped IPv6 as IPv4. */
function isPrivateLoopbackOrLinkLocal(host: string): boolean {
	const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host)?.[1];
	const address = mapped ?? host;
	if (isIP(address) === 4) {
		const [a, b] = address.split('.').map(Number) as [number, number];
		return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
	}

	if (isIP(address) === 6) {
		const groups = expandIpv6(address);
		const first = groups[0]!;
		const loopback = groups.slice(0, 7).every(group => group === 0) && groups[7] === 1;
		return loopback || (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80;
	}

	return false;
}

/** The 8 16-bit groups of an IPv6 address (node:net isIP already accepted it); an embedded IPv4 tail counts as two. */
function expandIpv6(address: string): number[] {
	const withoutZone = address.split('%')[0]!;
	const [head, tail] = withoutZone.includes('::') ? withoutZone.split('::') as [string, string] : [withoutZone, undefined];
	const groups = (part: string | undefined): number[] => (part ? part.split(':') : []).flatMap(group => {
		if (group.includes('.')) {
			const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
			return [(a << 8) | b, (c << 8) | d];
		}

		return [Number.parseInt(group, 16)];
	});
	const front = groups(head);
	const back = groups(tail);
	return tail === undefined ? front : [...front, ...Array.from({ length: 8 - front.length - back.length }, () => 0), ...back];
}

/** A TLS failure in words a user can act on: an untrusted certificate is what WASM_INSECURE_REGISTRIES is for. */
function describeTlsError(error: RequestError, insecure: boolean): string {
	const text = `${error.code ? `${error.code} ` : ''}${error.message}`;
	const certificate = /CERT|certificate|self[- ]signed/i.test(text);
	return certificate && !insecure
		? `${text} (a certificate istio-agent does not trust either; list the registry in istio.insecureRegistries, WASM_INSECURE_REGISTRIES, to skip the check)`
		: text;
}
