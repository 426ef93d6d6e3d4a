/**
 * More of what the Istio fetch tests serve, next to registry.ts (which pushes images): an image index pushed
 * to that registry, an HTTPS front for it with a self-signed certificate made by openssl at test time, and a
 * plain HTTP server for http:// modules. Everything binds to 127.0.0.1 and is removed by `stop()`.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import got from 'got';
import { mediaTypes } from '../../src/istio/fetch/oci-fetch.ts';
import { isExecutable, type SystemRequirement } from '../helpers/requirements.ts';
import type { Registry } from './registry.ts';

export type IndexEntry = { readonly digest: string; readonly platform?: { readonly os: string; readonly architecture: string } };

/** Pushes an OCI image index over manifests already in `repository` (by digest); returns the index's digest. */
export async function pushIndex(registry: Registry, repository: string, tag: string, entries: readonly IndexEntry[]): Promise<string> {
	const manifests = [];
	for (const entry of entries) {
		const manifest = await got(`http://${registry.host}/v2/${repository}/manifests/sha256:${entry.digest}`, {
			headers: { accept: `${mediaTypes.ociManifest}, ${mediaTypes.dockerManifest}` }, responseType: 'buffer', retry: { limit: 0 },
		});
		manifests.push({
			mediaType: String(manifest.headers['content-type']),
			digest: `sha256:${entry.digest}`,
			size: manifest.body.length,
			...(entry.platform ? { platform: entry.platform } : {}),
		});
	}

	const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests }));
	await got.put(`http://${registry.host}/v2/${repository}/manifests/${tag}`, { body, headers: { 'content-type': mediaTypes.ociIndex }, retry: { limit: 0 } });
	return createHash('sha256').update(body).digest('hex');
}

/** openssl on PATH (the HTTPS tests make their certificate with it). */
export function opensslRequirement(): SystemRequirement {
	const found = (process.env.PATH ?? '').split(path.delimiter).some(dir => dir !== '' && isExecutable(path.join(dir, 'openssl')));
	return { what: 'openssl', neededBy: 'the Istio HTTPS registry tests', install: 'sudo apt-get install -y openssl', present: found };
}

export type HttpsFront = {
	/** `127.0.0.1:<port>`, serving the registry's API over HTTPS with a self-signed certificate. */
	readonly host: string;
	stop(): Promise<void>;
};

/**
 * An HTTPS server with a self-signed certificate for 127.0.0.1 that forwards every request to the plain-HTTP
 * `registry` (a registry behind a TLS-terminating proxy, as many private registries are), and serves `files`
 * (path → bytes) itself.
 */
export async function startHttpsFront(registry: Registry, files: Readonly<Record<string, Uint8Array>> = {}): Promise<HttpsFront> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-tls-'));
	try {
		const key = path.join(dir, 'key.pem');
		const cert = path.join(dir, 'cert.pem');
		await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
			'-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdin: 'ignore' });
		const server = https.createServer({ key: await readFile(key), cert: await readFile(cert) }, (request, response) => {
			const file = files[request.url ?? ''];
			if (file) {
				response.writeHead(200, { 'content-type': 'application/wasm' }).end(Buffer.from(file));
				return;
			}

			forwardTo(registry, request, response, request.headers);
		});
		const port = await listenOnLoopback(server);
		return {
			host: `127.0.0.1:${port}`,
			async stop() {
				server.closeAllConnections();
				await new Promise(resolve => server.close(resolve));
				await rm(dir, { recursive: true, force: true });
			},
		};
	} catch (error) {
		await rm(dir, { recursive: true, force: true });
		throw error;
	}
}

export type FileServer = {
	/** `http://127.0.0.1:<port>` */
	readonly url: string;
	stop(): Promise<void>;
};

/** A plain HTTP server for http:// modules: path → bytes. */
export async function startFileServer(files: Readonly<Record<string, Uint8Array>>): Promise<FileServer> {
	const server = http.createServer((request, response) => {
		const file = files[request.url ?? ''];
		if (file) {
			response.writeHead(200, { 'content-type': 'application/wasm' }).end(Buffer.from(file));
		} else {
			response.writeHead(404).end();
		}
	});
	const port = await listenOnLoopback(server);
	return {
		url: `http://127.0.0.1:${port}`,
		async stop() {
			server.closeAllConnections();
			await new Promise(resolve => server.close(resolve));
		},
	};
}

export type TokenFront = {
	/** `127.0.0.1:<port>`: the registry's API behind Bearer token auth, whose token realm is on this host. */
	readonly host: string;
	/** Requests seen, `METHOD path` (token requests included). */
	readonly requests: readonly string[];
	stop(): Promise<void>;
};

/**
 * The registry behind Docker's token auth, as Docker Hub, GHCR or Harbor put it: a request without a token
 * gets 401 `WWW-Authenticate: Bearer realm="http://127.0.0.1:<port>/token",service=…,scope=…`, the realm hands
 * out a token, and requests with it are forwarded to `registry`. Debian's docker-registry can only do token auth
 * with a separate JWT-signing token server, so the test plays both parts. Its realm is on loopback, which
 * istio-agent refuses from 1.27.8 / 1.28.5 / 1.29.1 / 1.30.0.
 */
export async function startTokenFront(registry: Registry): Promise<TokenFront> {
	const token = 'meshbox-test-token';
	const requests: string[] = [];
	let realm = '';
	const server = http.createServer((request, response) => {
		requests.push(`${request.method} ${request.url}`);
		if ((request.url ?? '').startsWith('/token')) {
			response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token }));
			return;
		}

		if (request.headers.authorization !== `Bearer ${token}`) {
			const repository = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(request.url ?? '')?.[1];
			const scope = repository ? `,scope="repository:${repository}:pull"` : '';
			response.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="meshbox-test"${scope}`, 'content-type': 'application/json' })
				.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
			return;
		}

		const { authorization: _token, ...headers } = request.headers;
		forwardTo(registry, request, response, headers);
	});
	const port = await listenOnLoopback(server);
	realm = `http://127.0.0.1:${port}/token`;
	return {
		host: `127.0.0.1:${port}`,
		requests,
		async stop() {
			server.closeAllConnections();
			await new Promise(resolve => server.close(resolve));
		},
	};
}

/** Forwards `request` to the plain-HTTP `registry` with `headers` (its Host the registry's), and its answer back. */
function forwardTo(registry: Registry, request: http.IncomingMessage, response: http.ServerResponse, headers: http.IncomingHttpHeaders): void {
	const [hostname, port] = registry.host.split(':');
	const upstream = http.request({ hostname, port: Number(port), method: request.method, path: request.url, headers: { ...headers, host: registry.host } }, answer => {
		response.writeHead(answer.statusCode ?? 502, answer.headers);
		answer.pipe(response);
	});
	upstream.on('error', () => response.writeHead(502).end());
	request.pipe(upstream);
}

/** Listens on a free port on 127.0.0.1: resolves with the port. */
async function listenOnLoopback(server: http.Server | https.Server): Promise<number> {
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', resolve);
	});
	return (server.address() as AddressInfo).port;
}
