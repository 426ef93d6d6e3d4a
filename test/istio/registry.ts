/**
 * A real OCI registry for the tests: Debian's `docker-registry` (distribution 2.8), bound to 127.0.0.1 on a
 * free port, storage in a temp dir, stopped (by its pid) when the test file ends. Images are pushed with the
 * registry HTTP API v2 from TypeScript.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa, type ResultPromise } from 'execa';
import got, { HTTPError } from 'got';
import { mediaTypes } from '../../src/istio/fetch/oci-fetch.ts';
import { writeTar } from '../../src/istio/fetch/unbox.ts';
import { freePort } from '../helpers/ports.ts';
import { isExecutable, type SystemRequirement } from '../helpers/requirements.ts';

/** Debian's docker-registry; MESHBOX_REGISTRY_BIN names another (or a missing one, to test the skip). */
export const registryBinary = process.env.MESHBOX_REGISTRY_BIN ?? '/usr/bin/docker-registry';

/** What the oci:// tests need; a fresh machine lacks it (test/helpers/requirements.ts decides what then). */
export function registryRequirement(binary: string = registryBinary): SystemRequirement {
	return {
		what: `Debian's docker-registry (${binary})`,
		neededBy: 'the Istio oci:// tests',
		install: 'sudo apt-get install -y docker-registry (or set MESHBOX_REGISTRY_BIN to a registry binary)',
		present: isExecutable(binary),
	};
}

export type Registry = {
	readonly host: string;
	push(repository: string, tag: string, image: ImageSpec): Promise<string>;
	stop(): Promise<void>;
};

export type ImageSpec =
	| { readonly variant: 'compat' | 'docker'; readonly wasm: Uint8Array }
	| { readonly variant: 'oci-artifact'; readonly wasm: Uint8Array }
	| { readonly variant: 'wasm-to-oci'; readonly wasm: Uint8Array };

/**
 * A user the registry accepts with HTTP Basic auth (htpasswd). The hash is bcrypt, the only scheme
 * docker-registry's htpasswd accepts; it was made once for this fixed test password, so the tests need no
 * bcrypt implementation.
 */
export const registryUser = {
	username: 'meshbox',
	password: 'meshbox-secret',
	bcrypt: '$2b$12$w629vx6hx1w02tiZ8sPoRugQapmITlLQ11cfaVKgfnEe4tZSYLKCi',
} as const;

/** `auth: true` makes every request (pull and push) need `registryUser`'s credentials. */
export async function startRegistry(options: { auth?: boolean } = {}): Promise<Registry> {
	const requirement = registryRequirement();
	if (!requirement.present) {
		// Reached under MESHBOX_STRICT=1 (otherwise the tests are skipped): fail with what to do, not a spawn error.
		throw new Error(`${requirement.what} is missing: ${requirement.neededBy} need it; install it with: ${requirement.install}`);
	}

	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-registry-'));
	const config = path.join(dir, 'config.yml');
	const htpasswd = path.join(dir, 'htpasswd');
	if (options.auth) {
		await writeFile(htpasswd, `${registryUser.username}:${registryUser.bcrypt}\n`);
	}

	const authorization: Record<string, string> = options.auth ? { authorization: `Basic ${Buffer.from(`${registryUser.username}:${registryUser.password}`).toString('base64')}` } : {};
	let child: ResultPromise | undefined;
	const stop = async () => {
		child?.kill('SIGTERM');
		await child?.catch(() => undefined);
		await rm(dir, { recursive: true, force: true });
	};

	// docker-registry cannot report a port it chose, so it gets a free one, which another process (an Envoy
	// listener, an upstream) may take first. Then the registry exits (it cannot bind), and the other server
	// may well answer /v2/ with a 200: only an answer that names the registry API counts, from a registry that
	// still runs; otherwise it is started again on another port.
	let host = '';
	for (let attempt = 1; ; attempt++) {
		const port = await freePort();
		host = `127.0.0.1:${port}`;
		await writeFile(config, [
			'version: 0.1',
			'log: { level: error }',
			`storage: { filesystem: { rootdirectory: ${JSON.stringify(path.join(dir, 'data'))} }, delete: { enabled: true } }`,
			`http: { addr: "${host}" }`,
			...(options.auth ? [`auth: { htpasswd: { realm: meshbox-test, path: ${JSON.stringify(htpasswd)} } }`] : []),
			'',
		].join('\n'));
		const launched: ResultPromise = execa(registryBinary, ['serve', config], { reject: false, stdin: 'ignore', cleanup: true, buffer: false });
		child = launched;
		const exited = launched.then(() => true, () => true);
		if (await answers(host, authorization, launched, exited)) {
			break;
		}

		launched.kill('SIGKILL');
		await exited;
		if (attempt === 3) {
			await stop();
			throw new Error(`docker-registry did not start (3 tries, last on ${host})`);
		}
	}

	const uploadBlob = async (repository: string, data: Uint8Array): Promise<{ digest: string; size: number }> => {
		const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
		const start = await explained(got.post(`http://${host}/v2/${repository}/blobs/uploads/`, { headers: authorization, retry: { limit: 0 } }));
		const location = new URL(String(start.headers.location), `http://${host}`);
		location.searchParams.set('digest', digest);
		await explained(got.put(location, { body: Buffer.from(data), headers: { ...authorization, 'content-type': 'application/octet-stream' }, retry: { limit: 0 } }));
		return { digest, size: data.length };
	};

	// One push at a time: distribution 2.8 loses a race between two uploads of the same blob (the manifest that
	// names it is then refused: DIGEST_INVALID, MANIFEST_BLOB_UNKNOWN), and concurrent tests push the same
	// fixture. A client like docker push asks first whether the blob exists; the tests need not.
	let pushes: Promise<unknown> = Promise.resolve();
	const push = async (repository: string, tag: string, image: ImageSpec): Promise<string> => {
		const config = Buffer.from('{}');
		let manifest: Record<string, unknown>;
		if (image.variant === 'compat' || image.variant === 'docker') {
			const layer = gzipSync(writeTar([{ name: 'plugin.wasm', data: image.wasm }]));
			const docker = image.variant === 'docker';
			manifest = {
				schemaVersion: 2,
				mediaType: docker ? mediaTypes.dockerManifest : mediaTypes.ociManifest,
				config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', ...(await uploadBlob(repository, config)) },
				layers: [{ mediaType: docker ? mediaTypes.dockerLayer : mediaTypes.ociLayer, ...(await uploadBlob(repository, layer)) }],
			};
		} else if (image.variant === 'oci-artifact') {
			manifest = {
				schemaVersion: 2,
				mediaType: mediaTypes.ociManifest,
				config: { mediaType: mediaTypes.wasmConfig, ...(await uploadBlob(repository, config)) },
				layers: [
					{ mediaType: mediaTypes.wasmConfig, ...(await uploadBlob(repository, Buffer.from('{"type":"envoy_proxy"}'))) },
					{ mediaType: mediaTypes.wasmLayer, ...(await uploadBlob(repository, image.wasm)) },
				],
			};
		} else {
			// wasm-to-oci's layout, which Istio does not accept.
			manifest = {
				schemaVersion: 2,
				mediaType: mediaTypes.ociManifest,
				config: { mediaType: 'application/vnd.wasm.config.v1+json', ...(await uploadBlob(repository, config)) },
				layers: [{ mediaType: 'application/vnd.wasm.content.layer.v1+wasm', ...(await uploadBlob(repository, image.wasm)) }],
			};
		}

		const body = Buffer.from(JSON.stringify(manifest));
		await explained(got.put(`http://${host}/v2/${repository}/manifests/${tag}`, { body, headers: { ...authorization, 'content-type': String(manifest.mediaType) }, retry: { limit: 0 } }));
		return createHash('sha256').update(body).digest('hex');
	};

	return {
		host,
		async push(repository, tag, image) {
			const pushed = pushes.then(async () => push(repository, tag, image));
			pushes = pushed.catch(() => undefined);
			return pushed;
		},
		stop,
	};
}

/** A push's request, failing with what the registry said (got's HTTPError shows its options, not the answer). */
async function explained<T>(request: Promise<T>): Promise<T> {
	return request.catch((error: unknown) => {
		if (error instanceof HTTPError) {
			const { method, url } = error.options;
			throw new Error(`registry push: ${method} ${String(url)}: ${error.response.statusCode} ${String(error.response.body).slice(0, 500)}`, { cause: error });
		}

		throw error;
	});
}

/** Whether docker-registry `child` answers on `host` within 15 s: a 200 on /v2/ with the registry API header. */
async function answers(host: string, headers: Record<string, string>, child: ResultPromise, exited: Promise<boolean>): Promise<boolean> {
	const deadline = Date.now() + 15_000;
	while (Date.now() < deadline && child.exitCode === null) {
		const response = await got(`http://${host}/v2/`, { headers, throwHttpErrors: false, retry: { limit: 0 }, timeout: { request: 1000 } }).catch(() => undefined);
		if (response?.statusCode === 200 && response.headers['docker-distribution-api-version'] === 'registry/2.0' && child.exitCode === null) {
			return true;
		}

		await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 100))]);
	}

	return false;
}
