/**
 * Mesh mTLS on a real Envoy: certificates from the mesh CA (src/istio/mesh/ca.ts) served over SDS by meshbox's
 * control plane (src/xds/secret-streams.ts) to an Envoy whose bootstrap has istio-agent's `sds-grpc` cluster,
 * with the listeners and clusters istiod would give it (src/istio/mesh/tls.ts).
 *
 * One Envoy plays both sides of an in-mesh call: its outbound listener (plain HTTP from "its app") routes to a
 * cluster with istiod's ISTIO_MUTUAL socket, whose endpoint is the same Envoy's inbound listener (STRICT mTLS).
 * The inbound route answers with the caller's URI SAN (`%DOWNSTREAM_PEER_URI_SAN%`), so the SPIFFE id a plugin
 * would read as `source.principal` is visible to the test.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import test, { type ExecutionContext } from 'ava';
import { modelFromSpec } from '../../src/compose/model.ts';
import type { ProxySecretModel, SandboxModel } from '../../src/config/model.ts';
import { EnvoyAdmin } from '../../src/envoy-admin/admin.ts';
import { buildAdsBootstrap, type Placement } from '../../src/envoy/bootstrap.ts';
import { envoyArguments } from '../../src/envoy-binary/command-line.ts';
import { provisionEnvoy } from '../../src/envoy-binary/provision.ts';
import { renderBootstrapYaml } from '../../src/envoy/render.ts';
import { messageNameOf, typeUrls } from '../../src/envoy-api/type-urls.ts';
import { MeshCa, spiffeId, workloadSecrets } from '../../src/istio/mesh/ca.ts';
import {
	autoMtlsTransportSocketMatches,
	envoySecret,
	gatewayTransportSocket,
	inboundFilterChainMatches,
	inboundListenerFilters,
	istioMutualSni,
	istioTlsModeEndpointMetadata,
	outboundMtlsTransportSocket,
	type PeerAuthenticationMode,
} from '../../src/istio/mesh/tls.ts';
import type { JsonObject } from '../../src/util/json.ts';
import { EnvoyProcess } from '../../src/runtime/local/envoy-process.ts';
import { ControlPlane, snapshotOf } from '../../src/xds/control-plane.ts';
import { envoySchemas } from '../../src/xds/protobuf.ts';
import { sdsMethodPath } from '../../src/xds/secret-streams.ts';
import { repoRoot } from '../helpers/paths.ts';
import { freePort } from '../helpers/ports.ts';

const identity = { namespace: 'default', serviceAccount: 'server' };
const serverHost = 'server.default.svc.cluster.local';

type Ports = { inbound: number; permissive: number; outbound: number; wrongSan: number };

/** A mesh proxy's model: what makes buildAdsBootstrap add istio-agent's `sds-grpc` cluster. */
async function proxyModel(): Promise<SandboxModel> {
	const model = await modelFromSpec({}, { baseDir: repoRoot });
	return { ...model, proxy: { role: 'sidecar', name: 'server', namespace: 'default', node: model.node, listeners: [], clusters: [], secrets: [], notes: [], summary: [] } };
}

async function envoyOnPlane(t: ExecutionContext, model: SandboxModel): Promise<{ plane: ControlPlane; admin: EnvoyAdmin; events: string[] }> {
	const envoy = await provisionEnvoy({ version: model.envoy.version, versionOrigin: model.envoy.versionOrigin });
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-sds-'));
	const events: string[] = [];
	const plane = await ControlPlane.start({ onEvent: line => events.push(line) });
	const placement: Placement = { listener: { address: '127.0.0.1', port: 0 }, admin: { address: '127.0.0.1', port: 0 }, upstream: { address: '127.0.0.1', port: 9 }, wasmPath: () => '' };
	const bootstrap = buildAdsBootstrap(model, placement, { address: '127.0.0.1', port: plane.port });
	await writeFile(path.join(dir, 'envoy.yaml'), renderBootstrapYaml(bootstrap, []));
	const child = EnvoyProcess.spawn(envoy.path, [...envoyArguments(model.envoy, path.join(dir, 'envoy.yaml')), '--admin-address-path', path.join(dir, 'admin-address')]);
	child.stderr.resume();
	child.stdout.resume();
	t.teardown(async () => {
		await child.stop();
		await plane.stop();
		await rm(dir, { recursive: true, force: true });
	});
	const adminOf = EnvoyAdmin.fromAddressFile(path.join(dir, 'admin-address'));
	let admin: EnvoyAdmin | undefined;
	for (const deadline = Date.now() + 30_000; !admin && Date.now() < deadline;) {
		admin = await adminOf();
		await new Promise(resolve => setTimeout(resolve, 20));
	}

	if (!admin) {
		throw new Error('Envoy wrote no admin address');
	}

	return { plane, admin, events };
}

/** An inbound listener as istiod builds one HTTP port's chains for `mode`, answering with the caller's URI SAN. */
function inboundListener(name: string, port: number, mode: PeerAuthenticationMode): JsonObject {
	return answeringListener(name, port, inboundFilterChainMatches(mode));
}

/** A listener whose chains answer 200 with the caller's URI SAN and whether the chain terminated TLS. */
function answeringListener(name: string, port: number, matches: ReadonlyArray<{ readonly match: JsonObject; readonly transportSocket?: JsonObject }>): JsonObject {
	const chains = matches.map((chain, index) => ({
		name: `${name}-${index}`,
		filter_chain_match: chain.match,
		...(chain.transportSocket ? { transport_socket: chain.transportSocket } : {}),
		filters: [{
			name: 'envoy.filters.network.http_connection_manager',
			typed_config: {
				'@type': typeUrls.hcm,
				stat_prefix: name,
				route_config: {
					name,
					virtual_hosts: [{
						name,
						domains: ['*'],
						routes: [{
							match: { prefix: '/' },
							direct_response: { status: 200, body: { inline_string: 'inbound' } },
							response_headers_to_add: [
								{ header: { key: 'x-peer-uri-san', value: '%DOWNSTREAM_PEER_URI_SAN%' } },
								{ header: { key: 'x-tls', value: chain.transportSocket ? 'mtls' : 'plaintext' } },
							],
						}],
					}],
				},
				http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': typeUrls.router } }],
			},
		}],
	}));
	return {
		name,
		address: { socket_address: { address: '127.0.0.1', port_value: port } },
		listener_filters: inboundListenerFilters(chains.map(chain => ({ match: chain.filter_chain_match }))),
		filter_chains: chains,
	};
}

/** The caller's outbound listener: plain HTTP from its app, routed by path to the auto-mTLS clusters. */
function outboundListener(port: number): JsonObject {
	return {
		name: `0.0.0.0_${port}`,
		address: { socket_address: { address: '127.0.0.1', port_value: port } },
		filter_chains: [{
			filters: [{
				name: 'envoy.filters.network.http_connection_manager',
				typed_config: {
					'@type': typeUrls.hcm,
					stat_prefix: 'outbound',
					route_config: {
						name: String(port),
						virtual_hosts: [{
							name: 'server',
							domains: ['*'],
							routes: [
								{ match: { prefix: '/wrong-san' }, route: { cluster: 'outbound|8080||wrong-san' } },
								{ match: { prefix: '/permissive' }, route: { cluster: 'outbound|8080||permissive' } },
								{ match: { prefix: '/' }, route: { cluster: `outbound|8080||${serverHost}` } },
							],
						}],
					},
					http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': typeUrls.router } }],
				},
			}],
		}],
	};
}

/** An outbound cluster as istiod builds it with auto mTLS: the endpoint has a sidecar (`tlsMode: istio`). */
function meshCluster(name: string, port: number, subjectAltNames: readonly string[]): JsonObject {
	return {
		name,
		type: 'STATIC',
		connect_timeout: '2s',
		load_assignment: {
			cluster_name: name,
			endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } }, metadata: istioTlsModeEndpointMetadata }] }],
		},
		transport_socket_matches: autoMtlsTransportSocketMatches(outboundMtlsTransportSocket({ sni: istioMutualSni({ port: 8080, host: serverHost }), subjectAltNames })),
	};
}

function snapshot(ports: Ports, secrets: readonly ProxySecretModel[], ownId: string) {
	return snapshotOf({
		listeners: [inboundListener('virtualInbound', ports.inbound, 'STRICT'), inboundListener('permissive', ports.permissive, 'PERMISSIVE'), outboundListener(ports.outbound)],
		clusters: [
			meshCluster(`outbound|8080||${serverHost}`, ports.inbound, [ownId]),
			meshCluster('outbound|8080||wrong-san', ports.inbound, ['spiffe://cluster.local/ns/default/sa/someone-else']),
			meshCluster('outbound|8080||permissive', ports.permissive, [ownId]),
		],
		extensionConfigs: [],
		secrets: secrets.map(envoySecret),
	});
}

type Answer = { status: number; headers: http.IncomingHttpHeaders; peerCertificate?: X509Certificate };

/** One request straight to a TLS listener, with a client certificate or without; the server's certificate comes back. */
function tlsRequest(port: number, client: { cert?: string; key?: string; ca: string; servername?: string }): Promise<Answer> {
	return new Promise((resolve, reject) => {
		const request = https.request({
			host: '127.0.0.1',
			port,
			path: '/',
			...client,
			agent: false,
			// A SPIFFE certificate names no host: the test checks its URI SAN itself, as Envoy does (match_subject_alt_names).
			// With a server name (a gateway's host), Node checks the certificate's DNS names as any HTTPS client does.
			...(client.servername ? {} : { checkServerIdentity: () => undefined }),
			timeout: 5000,
		}, response => {
			const raw = (response.socket as TLSSocket).getPeerX509Certificate();
			response.resume();
			response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, ...(raw ? { peerCertificate: raw } : {}) }));
		});
		request.on('timeout', () => request.destroy(new Error('timed out')));
		request.on('error', reject);
		request.end();
	});
}

function plainRequest(port: number, pathname = '/'): Promise<Answer> {
	return new Promise((resolve, reject) => {
		const request = http.request({ host: '127.0.0.1', port, path: pathname, agent: false, timeout: 5000 }, response => {
			response.resume();
			response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
		});
		request.on('timeout', () => request.destroy(new Error('timed out')));
		request.on('error', reject);
		request.end();
	});
}

/** Retries until `check` passes: the listeners warm until their secrets arrived over SDS (not a timing assertion). */
async function eventually<T>(attempt: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
	let last: T | Error = new Error('never tried');
	for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
		try {
			last = await attempt();
			if (check(last)) {
				return last;
			}
		} catch (error) {
			last = error as Error;
		}

		await new Promise(resolve => setTimeout(resolve, 50));
	}

	if (last instanceof Error) {
		throw last;
	}

	return last;
}

test('only a mesh proxy\'s bootstrap has istio-agent\'s sds-grpc cluster, pointing at the control plane over HTTP/2', async t => {
	const placement: Placement = { listener: { address: '127.0.0.1', port: 0 }, admin: { address: '127.0.0.1', port: 0 }, upstream: { address: '127.0.0.1', port: 9 }, wasmPath: () => '' };
	const staticClusters = (model: SandboxModel) => ((buildAdsBootstrap(model, placement, { address: '127.0.0.1', port: 18000 }).static_resources as JsonObject).clusters as JsonObject[]);
	const proxy = staticClusters(await proxyModel());
	const sds = proxy.find(cluster => cluster.name === 'sds-grpc');
	t.truthy(sds);
	t.true(JSON.stringify(sds?.load_assignment).includes('"port_value":18000'));
	t.truthy(JSON.stringify(sds?.typed_extension_protocol_options).includes('http2_protocol_options'));
	t.false(staticClusters(await modelFromSpec({}, { baseDir: repoRoot })).some(cluster => cluster.name === 'sds-grpc'), 'a plain sandbox has none');
});

test('mesh mTLS over SDS on a real Envoy: CA-issued clients get in, others are refused, the caller is its SPIFFE id, a refused secret keeps the last good one', async t => {
	const model = await proxyModel();
	const { plane, admin, events } = await envoyOnPlane(t, model);
	const ca = await MeshCa.create();
	const ownId = spiffeId(ca.trustDomain, identity);
	const ports: Ports = { inbound: await freePort(), permissive: await freePort(), outbound: await freePort(), wrongSan: await freePort() };
	const secrets = await workloadSecrets(ca, identity.namespace, identity.serviceAccount);

	const first = await plane.push(snapshot(ports, secrets, ownId));
	t.deepEqual(first.rejections, [], 'Envoy takes the listeners, clusters and secrets');
	t.true(await eventually(() => admin.isReady(), ready => ready), 'Envoy is ready: its listeners got their secrets over SDS');
	t.true(events.some(line => line === 'sds: Envoy accepted secret default') && events.some(line => line === 'sds: Envoy accepted secret ROOTCA'), `both secrets came over SDS (sds-grpc): ${events.join(' | ')}`);

	// A client with a certificate from the mesh CA: through, and the server presents the workload's SPIFFE certificate.
	const client = await ca.issueWorkload({ namespace: 'default', serviceAccount: 'client' });
	const withCert = await eventually(() => tlsRequest(ports.inbound, { cert: client.certificateChain, key: client.privateKey, ca: ca.rootCertificate }), answer => answer.status === 200);
	t.is(withCert.status, 200);
	t.is(withCert.headers['x-peer-uri-san'], 'spiffe://cluster.local/ns/default/sa/client', 'Envoy sees the caller\'s SPIFFE id');
	t.is(withCert.peerCertificate?.subjectAltName, `URI:${ownId}`, 'Envoy presents the `default` secret');
	const servedSerial = withCert.peerCertificate?.serialNumber;

	// Without a client certificate: STRICT refuses the handshake (require_client_certificate).
	await t.throwsAsync(tlsRequest(ports.inbound, { ca: ca.rootCertificate }), undefined, 'no client certificate, no connection');
	// A certificate from another CA is refused too: ROOTCA is the only trust.
	const stranger = await (await MeshCa.create()).issueWorkload({ namespace: 'default', serviceAccount: 'client' });
	await t.throwsAsync(tlsRequest(ports.inbound, { cert: stranger.certificateChain, key: stranger.privateKey, ca: ca.rootCertificate }), undefined, 'a foreign CA\'s certificate, no connection');
	// Plain text: STRICT has no plain-text chain; PERMISSIVE has one.
	await t.throwsAsync(plainRequest(ports.inbound), undefined, 'plain text is refused under STRICT');
	const permissivePlain = await plainRequest(ports.permissive);
	t.is(permissivePlain.headers['x-tls'], 'plaintext', 'PERMISSIVE takes plain text on its raw_buffer chain');

	// Sidecar to sidecar: the outbound cluster's ISTIO_MUTUAL socket (auto mTLS) presents `default`, checks the peer's SAN.
	const viaMesh = await eventually(() => plainRequest(ports.outbound), answer => answer.status === 200);
	t.is(viaMesh.headers['x-peer-uri-san'], ownId, 'the inbound side sees the calling proxy\'s SPIFFE id');
	t.is(viaMesh.headers['x-tls'], 'mtls');
	const permissiveMtls = await plainRequest(ports.outbound, '/permissive');
	t.deepEqual([permissiveMtls.headers['x-tls'], permissiveMtls.headers['x-peer-uri-san']], ['mtls', ownId], 'a sidecar\'s mTLS (ALPN istio) takes PERMISSIVE\'s TLS chain');
	const wrongSan = await plainRequest(ports.outbound, '/wrong-san');
	t.is(wrongSan.status, 503, 'an upstream whose SPIFFE id is not the expected one is refused (match_subject_alt_names)');

	// A secret Envoy refuses (a certificate that is not PEM): NACKed, and Envoy keeps serving the last good one.
	const broken = secrets.map(secret => secret.name === 'default' ? { ...secret, certificateChain: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' } : secret);
	const refused = await plane.push(snapshot(ports, broken, ownId));
	t.true(refused.rejections.some(rejection => rejection.typeUrl === typeUrls.secret && /default/.test(rejection.message)), `the bad secret is NACKed: ${JSON.stringify(refused.rejections)}`);
	const afterNack = await tlsRequest(ports.inbound, { cert: client.certificateChain, key: client.privateKey, ca: ca.rootCertificate });
	t.is(afterNack.status, 200, 'still serving');
	t.is(afterNack.peerCertificate?.serialNumber, servedSerial, 'with the last good certificate');

	// A new CA (rotation): the changed secrets are sent again, and the new certificate serves.
	const rotatedCa = await MeshCa.create();
	const rotated = await plane.push(snapshot(ports, await workloadSecrets(rotatedCa, identity.namespace, identity.serviceAccount), ownId));
	t.deepEqual(rotated.rejections, []);
	const rotatedClient = await rotatedCa.issueWorkload({ namespace: 'default', serviceAccount: 'client' });
	const afterRotation = await eventually(() => tlsRequest(ports.inbound, { cert: rotatedClient.certificateChain, key: rotatedClient.privateKey, ca: rotatedCa.rootCertificate }), answer => answer.status === 200);
	t.not(afterRotation.peerCertificate?.serialNumber, servedSerial, 'the rotated certificate serves');
	t.true(afterRotation.peerCertificate?.verify(new X509Certificate(rotatedCa.rootCertificate).publicKey), 'signed by the new root');
	t.is((await plainRequest(ports.outbound)).headers['x-peer-uri-san'], ownId, 'sidecar to sidecar works after the rotation');
});

test('an Istio Gateway HTTPS server: its credentialName comes over ADS as istiod serves it (kubernetes://), SIMPLE and MUTUAL', async t => {
	const model = await proxyModel();
	const { plane } = await envoyOnPlane(t, { ...model, proxy: { ...model.proxy!, role: 'router', name: 'istio-ingressgateway', namespace: 'istio-system' } });
	const ca = await MeshCa.create();
	const server = await ca.issueServer({ dnsNames: ['my-app.example.com'] });
	const [simplePort, mutualPort] = [await freePort(), await freePort()];
	const result = await plane.push(snapshotOf({
		listeners: [
			answeringListener('0.0.0.0_8443', simplePort, [{ match: {}, transportSocket: gatewayTransportSocket('my-app-cert', 'SIMPLE') }]),
			answeringListener('0.0.0.0_9443', mutualPort, [{ match: {}, transportSocket: gatewayTransportSocket('my-app-cert', 'MUTUAL') }]),
		],
		clusters: [],
		extensionConfigs: [],
		secrets: [
			envoySecret({ name: 'kubernetes://my-app-cert', certificateChain: server.certificateChain, privateKey: server.privateKey }),
			envoySecret({ name: 'kubernetes://my-app-cert-cacert', trustedCa: ca.rootCertificate }),
		],
	}));
	t.deepEqual(result.rejections, []);

	const simple = await eventually(() => tlsRequest(simplePort, { ca: ca.rootCertificate, servername: 'my-app.example.com' }), answer => answer.status === 200);
	t.is(simple.status, 200, 'an HTTPS client that trusts the mesh root and checks the host gets through');
	t.is(simple.peerCertificate?.subjectAltName, 'DNS:my-app.example.com');

	const client = await ca.issueWorkload({ namespace: 'default', serviceAccount: 'outside' });
	const mutual = await eventually(() => tlsRequest(mutualPort, { ca: ca.rootCertificate, servername: 'my-app.example.com', cert: client.certificateChain, key: client.privateKey }), answer => answer.status === 200);
	t.is(mutual.headers['x-peer-uri-san'], 'spiffe://cluster.local/ns/default/sa/outside', 'MUTUAL validates the client against kubernetes://my-app-cert-cacert');
	await t.throwsAsync(tlsRequest(mutualPort, { ca: ca.rootCertificate, servername: 'my-app.example.com' }), undefined, 'MUTUAL refuses a client without a certificate');
	t.deepEqual([...(plane.accepted().get(typeUrls.secret)?.keys() ?? [])].sort(), ['kubernetes://my-app-cert', 'kubernetes://my-app-cert-cacert'], 'Envoy asked for (and accepted) the credentials over ADS');
});

/** Envoy's side of one SDS stream, by hand (gRPC framing on node:http2): requests out, responses in order. */
async function sdsClient(t: ExecutionContext, port: number) {
	const schemas = envoySchemas();
	const session = http2.connect(`http://127.0.0.1:${port}`);
	session.on('error', () => undefined);
	t.teardown(() => {
		session.destroy();
	});
	const stream = session.request({ ':method': 'POST', ':path': sdsMethodPath, 'content-type': 'application/grpc', te: 'trailers' });
	stream.on('error', () => undefined);
	type Response = { version: string; nonce: string; secrets: JsonObject[] };
	const received: Response[] = [];
	const waiting: Array<(response: Response) => void> = [];
	let buffered = Buffer.alloc(0);
	stream.on('data', (chunk: Buffer) => {
		buffered = Buffer.concat([buffered, chunk]);
		while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
			const message = schemas.decode('envoy.service.discovery.v3.DiscoveryResponse', buffered.subarray(5, 5 + buffered.readUInt32BE(1))) as { version_info: string; nonce: string; resources?: Array<{ value: Uint8Array }> };
			buffered = buffered.subarray(5 + buffered.readUInt32BE(1));
			const response = { version: message.version_info, nonce: message.nonce, secrets: (message.resources ?? []).map(any => schemas.decode(messageNameOf(typeUrls.secret), any.value) as JsonObject) };
			const next = waiting.shift();
			if (next) {
				next(response);
			} else {
				received.push(response);
			}
		}
	});
	return {
		send(request: { names: string[]; nonce?: string; error?: string }): void {
			const body = schemas.encodeObject('envoy.service.discovery.v3.DiscoveryRequest', {
				type_url: typeUrls.secret,
				resource_names: request.names,
				...(request.nonce ? { response_nonce: request.nonce } : {}),
				...(request.error ? { error_detail: { code: 3, message: request.error } } : {}),
			});
			const frame = Buffer.alloc(5 + body.length);
			frame.writeUInt32BE(body.length, 1);
			frame.set(body, 5);
			stream.write(frame);
		},
		next(): Promise<Response> {
			const ready = received.shift();
			return ready ? Promise.resolve(ready) : new Promise(resolve => waiting.push(resolve));
		},
		end(): void {
			stream.close();
		},
	};
}

test('the SDS server: each stream gets the secrets it names, a NACKed secret is not sent again, a push waits for the subscribed streams only while they last', async t => {
	const plane = await ControlPlane.start();
	t.teardown(() => plane.stop());
	const ca = await MeshCa.create();
	const generation = async (serviceAccount: string) => workloadSecrets(ca, 'default', serviceAccount);
	const push = async (secrets: readonly ProxySecretModel[]) => plane.push(snapshotOf({ listeners: [], clusters: [], extensionConfigs: [], secrets: secrets.map(envoySecret) }));
	// Decoded protobuf: `inline_bytes` is the PEM's bytes.
	const certificateOf = (secret: JsonObject | undefined): string | undefined => {
		const bytes = ((secret?.tls_certificate as JsonObject | undefined)?.certificate_chain as { inline_bytes?: Uint8Array } | undefined)?.inline_bytes;
		return bytes ? Buffer.from(bytes).toString() : undefined;
	};

	const v1 = await generation('one');
	t.deepEqual((await push(v1)).rejections, [], 'no stream yet: nothing to wait for');
	const workload = await sdsClient(t, plane.port);
	const roots = await sdsClient(t, plane.port);
	workload.send({ names: ['default'] });
	roots.send({ names: ['ROOTCA'] });
	const first = await workload.next();
	t.deepEqual(first.secrets.map(secret => secret.name), ['default'], 'a stream gets only the secret it names');
	t.is(certificateOf(first.secrets[0]), v1[0]!.certificateChain);
	const root = await roots.next();
	t.deepEqual(root.secrets.map(secret => secret.name), ['ROOTCA']);
	workload.send({ names: ['default'], nonce: first.nonce });
	roots.send({ names: ['ROOTCA'], nonce: root.nonce });

	// A new certificate: only the `default` stream is sent it, and the push waits for its answer, a NACK here.
	const v2 = [(await generation('two'))[0]!, v1[1]!];
	const refusedPush = push(v2);
	const second = await workload.next();
	t.is(certificateOf(second.secrets[0]), v2[0]!.certificateChain);
	workload.send({ names: ['default'], nonce: second.nonce, error: 'Failed to load certificate chain' });
	const refused = await refusedPush;
	t.deepEqual(refused.rejections.map(rejection => rejection.typeUrl), [typeUrls.secret]);
	t.regex(refused.rejections[0]!.message, /default: Failed to load certificate chain/);

	// The next message on that stream is the next change, not the refused certificate again.
	const v3 = [(await generation('three'))[0]!, v1[1]!];
	const acceptedPush = push(v3);
	const third = await workload.next();
	t.is(certificateOf(third.secrets[0]), v3[0]!.certificateChain, 'the NACKed certificate was not resent');
	workload.send({ names: ['default'], nonce: third.nonce });
	t.deepEqual((await acceptedPush).rejections, []);

	// A stream that ends without answering does not hold a push.
	const v4 = [(await generation('four'))[0]!, v1[1]!];
	const unanswered = push(v4);
	await workload.next();
	workload.end();
	t.deepEqual((await unanswered).rejections, [], 'settles once the stream is gone');

	// Nor does a stream that stops asking for the secret it was sent (its listener went away).
	const newRoot = [v4[0]!, { name: 'ROOTCA', trustedCa: (await MeshCa.create()).rootCertificate }];
	const unsubscribed = push(newRoot);
	await roots.next();
	roots.send({ names: [], nonce: 'an older nonce' });
	t.deepEqual((await unsubscribed).rejections, [], 'settles once nothing subscribes to it');
});
