/**
 * istio-agent's module cache (pkg/wasm/cache.go), one per sandbox: each sandbox is a new pod, whose cache
 * (an emptyDir, /var/lib/istio/data) starts empty.
 *
 * Within a sandbox, cache.go's rules hold. Modules are keyed by (module name, checksum): module name = the URL
 * (for oci: without tag or digest), checksum = the OCI manifest digest or the sha256 of the (unboxed) http body.
 * With no `sha256` (and no `@sha256:` in an oci URL) the URL's last-pulled checksum is reused when the policy
 * ignores resourceVersion (IfNotPresent; or unspecified, unless the oci tag is `:latest`) or the WasmPlugin's
 * resourceVersion is the one last pulled for this resource; otherwise the module is fetched again.
 *
 * Across sandboxes nothing of that state survives, so a re-pushed tag is fetched again, as by a new pod. What
 * meshbox does keep is content: the OCI layers it downloaded, in a content-addressed store
 * (`<dir>/blobs/sha256/<hex>`). A new sandbox still asks the registry for the manifest (as a new pod does) and
 * reuses a stored layer only when the manifest it gets now names that layer's digest. http(s) modules are
 * downloaded by every sandbox, as by every pod. Everything read back is verified against its hash first (the
 * stored layer against its digest, a module this sandbox already has against the sha256 it had when written); a
 * mismatch is a fetch failure, and the entry is removed so that the next start fetches it again.
 *
 * The module Envoy loads is written to `<dir>/<hex sha256 of module name>/<checksum>.wasm`, the path layout of
 * cache.go.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseGoUrl } from '../go-url.ts';
import { redactText } from '../redact.ts';
import type { PullPolicy } from '../resources.ts';
import { httpFetch } from './http-fetch.ts';
import { ociModuleName, parseImageReference, prepareImage, type BlobStore } from './oci-fetch.ts';
import { isWasmBinary, unboxIfPossible } from './unbox.ts';

export type FetchRequest = {
	readonly url: string;
	readonly sha256: string;
	readonly pullPolicy: PullPolicy;
	/** The ECDS resource name (the cache remembers resourceVersions per resource). */
	readonly resourceName: string;
	readonly resourceVersion: string;
	readonly pullSecret: Uint8Array | undefined;
	readonly timeoutMs: number;
	readonly insecureRegistries: readonly string[];
	/** istio-agent refuses a registry whose 401 names an unsafe realm (VersionTraits.registryRealmCheck). */
	readonly registryRealmCheck: boolean;
};

/**
 * How the module got here: `cache`: this sandbox already had it, no network (istio-agent's cache hit);
 * `manifest`: the registry was asked for the manifest only, and the content it names was already here (in this
 * sandbox, or a layer in meshbox's content store, verified); `download`: downloaded.
 */
export type FetchSource = 'cache' | 'manifest' | 'download';

export type FetchResult = {
	readonly path: string;
	readonly checksum: string;
	readonly source: FetchSource;
};

type ModuleEntry = { readonly path: string; readonly sha256: string };
type ChecksumEntry = { checksum: string; readonly resources: Map<string, string> };

export class WasmCache {
	/** cache.go `modules`: what this pod has, by module name and checksum. */
	private readonly modules = new Map<string, ModuleEntry>();
	/** cache.go `checksums`: tagged / plain URL → last pulled checksum, and each resource's last resourceVersion. */
	private readonly checksums = new Map<string, ChecksumEntry>();

	/** `log`: where istio-agent's lines go (replaced for each resolution that uses this pod's cache). */
	constructor(readonly dir: string, public log: (line: string) => void = () => undefined) {}

	modulePath(moduleName: string, checksum: string): string {
		return path.join(this.dir, sha256Hex(moduleName), `${checksum}.wasm`);
	}

	/** Errors are what istio-agent reports (with credentials in the URL redacted). */
	async get(request: FetchRequest): Promise<FetchResult> {
		try {
			return await this.getOrFetch(request);
		} catch (error) {
			throw new Error(redactText((error as Error).message));
		}
	}

	private async getOrFetch(request: FetchRequest): Promise<FetchResult> {
		const url = parseGoUrl(request.url);
		if (url.error) {
			throw new Error(`fail to parse Wasm module fetch url: ${request.url}, error: ${url.error}`);
		}

		const isOci = url.scheme === 'oci';
		if (url.scheme !== 'http' && url.scheme !== 'https' && !isOci) {
			throw new Error(`unsupported Wasm module downloading URL scheme: ${url.scheme}`);
		}

		// cache.go hands go-containerregistry `u.Host + u.Path`: userinfo in an oci URL is not used.
		const reference = `${url.host}${url.rest}`;
		const image = isOci ? tryParseReference(reference) : undefined;
		const moduleName = isOci && image ? ociModuleName(reference) : request.url;
		// updateChecksum: URL → checksum is not kept for oci URLs with an `@` (meant for digests).
		const hasDigest = isOci && request.url.includes('@');

		// getEntry: the checksum from `sha256`, an oci digest, or the URL's last pull (per pull policy).
		let checksum = request.sha256 === 'nil' ? '' : request.sha256;
		if (!checksum && image?.isDigest && image.reference.startsWith('sha256:')) {
			checksum = image.reference.slice('sha256:'.length);
		}

		if (!checksum) {
			const entry = this.checksums.get(request.url);
			if (entry) {
				const ignoresResourceVersion = request.pullPolicy === 'IfNotPresent'
					|| (request.pullPolicy === 'UNSPECIFIED_POLICY' && !(isOci && url.rest.endsWith(':latest')));
				if (ignoresResourceVersion || entry.resources.get(request.resourceName) === request.resourceVersion) {
					checksum = entry.checksum;
				}

				entry.resources.set(request.resourceName, request.resourceVersion);
			}
		}

		const held = checksum ? await this.podModule(moduleName, checksum, request.url) : undefined;
		if (held) {
			this.remember(request, checksum, hasDigest);
			return { path: held.path, checksum, source: 'cache' };
		}

		// cache.go allowInsecure(u.Host): the host as written in the URL (with its port), or `*`.
		const insecure = request.insecureRegistries.includes('*') || request.insecureRegistries.includes(url.host);
		if (isOci && url.userinfo !== undefined) {
			this.log(`${redactText(request.url)}: istio-agent pulls ${reference} (host and path): the credentials in the URL are not used; give them with imagePullSecret`);
		}

		let bytes: Uint8Array;
		let actual: string;
		let source: FetchSource = 'download';
		if (isOci) {
			let prepared;
			try {
				prepared = await prepareImage(reference, { timeoutMs: request.timeoutMs, insecure, pullSecret: request.pullSecret, registryRealmCheck: request.registryRealmCheck, log: this.log });
			} catch (error) {
				throw new Error(`could not fetch Wasm OCI image: ${(error as Error).message}`);
			}

			actual = prepared.digest;
			if (!checksum) {
				// cache.go: a digest this pod already has is not downloaded again.
				const again = await this.podModule(moduleName, actual, request.url);
				if (again) {
					this.remember(request, actual, hasDigest);
					return { path: again.path, checksum: actual, source: 'manifest' };
				}
			} else if (actual !== checksum) {
				throw new Error(`module downloaded from ${request.url} has checksum ${actual}, which does not match: ${checksum}`);
			}

			const binary = await prepared.fetchBinary(this.blobStore(request.url));
			bytes = binary.bytes;
			source = binary.cached ? 'manifest' : 'download';
		} else {
			bytes = unboxIfPossible(await httpFetch(request.url, { timeoutMs: request.timeoutMs, insecure }));
			actual = sha256Hex(bytes);
			if (checksum && actual !== checksum) {
				throw new Error(`module downloaded from ${request.url} has checksum ${actual}, which does not match: ${checksum}`);
			}
		}

		if (!isWasmBinary(bytes)) {
			throw new Error(`fetched Wasm binary from ${request.url} is invalid`);
		}

		const target = this.modulePath(moduleName, actual);
		await writeAtomically(target, bytes);
		this.modules.set(moduleKey(moduleName, actual), { path: target, sha256: sha256Hex(bytes) });
		this.remember(request, actual, hasDigest);
		return { path: target, checksum: actual, source };
	}

	/** A module this pod has, verified: a file changed since it was written is a failure, and is dropped. */
	private async podModule(moduleName: string, checksum: string, url: string): Promise<ModuleEntry | undefined> {
		const key = moduleKey(moduleName, checksum);
		const entry = this.modules.get(key);
		if (!entry) {
			return undefined;
		}

		const content = await readFile(entry.path).catch(() => undefined);
		const actual = content ? sha256Hex(content) : 'missing';
		if (actual !== entry.sha256) {
			this.modules.delete(key);
			await rm(entry.path, { force: true });
			throw new Error(`cached Wasm module ${entry.path} for ${url} was modified after it was fetched (sha256 ${actual}, fetched as ${entry.sha256}); discarded it, the next start fetches the module again`);
		}

		return entry;
	}

	/** The content-addressed layer store shared by sandboxes; every read is checked against the digest. */
	private blobStore(url: string): BlobStore {
		return {
			read: async (digest, download) => {
				const hex = /^sha256:([a-f0-9]{64})$/.exec(digest)?.[1];
				if (!hex) {
					return { bytes: await download(), cached: false };
				}

				const file = path.join(this.dir, 'blobs', 'sha256', hex);
				const stored = await readFile(file).catch(() => undefined);
				if (stored) {
					const actual = sha256Hex(stored);
					if (actual !== hex) {
						await rm(file, { force: true });
						throw new Error(`meshbox's cached layer ${digest} of ${url} (${file}) does not match its digest (sha256 ${actual}): it was modified; discarded it, the next start downloads the layer again`);
					}

					return { bytes: stored, cached: true };
				}

				const bytes = await download();
				await writeAtomically(file, bytes);
				return { bytes, cached: false };
			},
		};
	}

	/** cache.go updateChecksum: URL → checksum and the resource's resourceVersion (not for digest URLs). */
	private remember(request: FetchRequest, checksum: string, hasDigest: boolean): void {
		if (hasDigest) {
			return;
		}

		const entry = this.checksums.get(request.url) ?? { checksum, resources: new Map<string, string>() };
		entry.checksum = checksum;
		entry.resources.set(request.resourceName, request.resourceVersion);
		this.checksums.set(request.url, entry);
	}
}

/** name.ParseReference, or undefined (cache.go then names the module by the whole URL; the fetch reports why). */
function tryParseReference(reference: string): ReturnType<typeof parseImageReference> | undefined {
	try {
		return parseImageReference(reference);
	} catch {
		return undefined;
	}
}

function moduleKey(moduleName: string, checksum: string): string {
	return `${moduleName}\n${checksum}`;
}

function sha256Hex(data: Uint8Array | string): string {
	return createHash('sha256').update(data).digest('hex');
}

/** Temp file + rename: sandboxes in one process or several may write the same entry at once (same content). */
async function writeAtomically(target: string, bytes: Uint8Array): Promise<void> {
	await mkdir(path.dirname(target), { recursive: true });
	const temporary = `${target}.${process.pid}.${randomUUID()}.tmp`;
	try {
		await writeFile(temporary, bytes, { mode: 0o644 });
		await rename(temporary, target);
	} finally {
		await rm(temporary, { force: true });
	}
}
