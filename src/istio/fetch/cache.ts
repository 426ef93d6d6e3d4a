/**
 * istio-agent's module cache (pkg/wasm/cache.go), kept in meshbox's cache dir so it survives sandboxes:
 * `<dir>/<hex sha256 of module name>/<checksum>.wasm`, module name = the URL (for oci: without tag or digest),
 * checksum = the OCI manifest digest or the sha256 of the (unboxed) http body.
 *
 * Pull policy (cache.go `Get`): with no `sha256` (and no `@sha256:` in an oci URL) the URL's last-pulled
 * checksum is reused when the policy ignores resourceVersion (IfNotPresent; or unspecified, unless the oci tag
 * is `:latest`) or the WasmPlugin's resourceVersion is the one last pulled for this resource; otherwise the
 * module is fetched again. So `Always` and `:latest` re-pull when the WasmPlugin changes (any edit bumps
 * resourceVersion), not on every start. This cache behaves like one long-running sidecar's.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PullPolicy } from '../resources.ts';
import { httpFetch } from './http-fetch.ts';
import { ociModuleName, parseImageReference, prepareImage } from './oci-fetch.ts';
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
};

export type FetchResult = {
	readonly path: string;
	readonly checksum: string;
	/** Whether the network was used (false: served from the cache). */
	readonly pulled: boolean;
};

type Index = { urls: Record<string, { checksum: string; resources: Record<string, string> }> };

export class WasmCache {
	constructor(readonly dir: string, private readonly log: (line: string) => void = () => undefined) {}

	modulePath(moduleName: string, checksum: string): string {
		return path.join(this.dir, createHash('sha256').update(moduleName).digest('hex'), `${checksum}.wasm`);
	}

	async get(request: FetchRequest): Promise<FetchResult> {
		const url = new URL(request.url);
		const scheme = url.protocol.replace(/:$/, '');
		if (scheme !== 'http' && scheme !== 'https' && scheme !== 'oci') {
			throw new Error(`unsupported Wasm module downloading URL scheme: ${scheme}`);
		}

		const isOci = scheme === 'oci';
		const moduleName = isOci ? ociModuleName(request.url) : request.url;
		const hasDigest = isOci && request.url.includes('@');
		let checksum = request.sha256 === 'nil' ? '' : request.sha256;
		if (!checksum && isOci) {
			const ref = parseImageReference(request.url);
			if (ref.isDigest) {
				checksum = ref.reference.replace(/^sha256:/, '');
			}
		}

		const index = await this.readIndex();
		if (!checksum && !hasDigest) {
			const entry = index.urls[request.url];
			const ignoresResourceVersion = request.pullPolicy === 'IfNotPresent'
				|| (request.pullPolicy === 'UNSPECIFIED_POLICY' && !(isOci && request.url.endsWith(':latest')));
			if (entry && (ignoresResourceVersion || entry.resources[request.resourceName] === request.resourceVersion)) {
				checksum = entry.checksum;
			}
		}

		if (checksum && await exists(this.modulePath(moduleName, checksum))) {
			await this.remember(request, checksum, hasDigest);
			return { path: this.modulePath(moduleName, checksum), checksum, pulled: false };
		}

		let bytes: Uint8Array;
		let actual: string;
		if (isOci) {
			const image = await prepareImage(request.url, {
				timeoutMs: request.timeoutMs, insecureRegistries: request.insecureRegistries, pullSecret: request.pullSecret, log: this.log,
			});
			actual = image.digest;
			if (checksum && actual !== checksum) {
				throw new Error(`module downloaded from ${request.url} has checksum ${actual}, which does not match: ${checksum}`);
			}

			const cached = this.modulePath(moduleName, actual);
			if (await exists(cached)) {
				// cache.go: the manifest digest is already cached, so the layer is not downloaded.
				await this.remember(request, actual, hasDigest);
				return { path: cached, checksum: actual, pulled: true };
			}

			bytes = await image.fetchBinary();
		} else {
			const host = url.host;
			const insecure = request.insecureRegistries.includes('*') || request.insecureRegistries.includes(host) || request.insecureRegistries.includes(url.hostname);
			bytes = unboxIfPossible(await httpFetch(request.url, { timeoutMs: request.timeoutMs, insecure }));
			actual = createHash('sha256').update(bytes).digest('hex');
			if (checksum && actual !== checksum) {
				throw new Error(`module downloaded from ${request.url} has checksum ${actual}, which does not match: ${checksum}`);
			}
		}

		if (!isWasmBinary(bytes)) {
			throw new Error(`fetched Wasm binary from ${request.url} is invalid`);
		}

		const target = this.modulePath(moduleName, actual);
		await mkdir(path.dirname(target), { recursive: true });
		// Unique per write: two sandboxes in one process may fetch the same module at once.
		const temporary = `${target}.${process.pid}.${randomUUID()}.tmp`;
		await writeFile(temporary, bytes, { mode: 0o644 });
		await rename(temporary, target);
		await this.remember(request, actual, hasDigest);
		return { path: target, checksum: actual, pulled: true };
	}

	private async readIndex(): Promise<Index> {
		try {
			const parsed = JSON.parse(await readFile(path.join(this.dir, 'index.json'), 'utf8')) as Index;
			return parsed.urls ? parsed : { urls: {} };
		} catch {
			return { urls: {} };
		}
	}

	/** cache.go keeps URL → checksum and the resource's last resourceVersion (not for digest URLs). */
	private async remember(request: FetchRequest, checksum: string, hasDigest: boolean): Promise<void> {
		if (hasDigest) {
			return;
		}

		const index = await this.readIndex();
		const entry = index.urls[request.url] ?? { checksum, resources: {} };
		entry.checksum = checksum;
		entry.resources[request.resourceName] = request.resourceVersion;
		index.urls[request.url] = entry;
		await mkdir(this.dir, { recursive: true });
		const temporary = path.join(this.dir, `index.json.${process.pid}.${randomUUID()}.tmp`);
		await writeFile(temporary, JSON.stringify(index, null, '\t'));
		await rename(temporary, path.join(this.dir, 'index.json'));
	}
}

async function exists(file: string): Promise<boolean> {
	return stat(file).then(info => info.isFile(), () => false);
}
