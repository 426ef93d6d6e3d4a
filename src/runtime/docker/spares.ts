/**
 * Warm spares: what the next docker sandbox of this process needs whatever its spec is — a network of its own
 * and the recording upstream on it (alias `upstream`, started, its control API up) — prepared in the
 * background right after a sandbox started, as the local runtime keeps warm Envoys. The next start takes it and
 * only creates and starts its Envoy container: no network to create, and no second `docker start` beside
 * Envoy's (dockerd serializes parts of two starts). The spec's parts reach the upstream over its control API
 * (PUT /response); a spec a spare cannot serve (named apps, TCP listeners) starts the ordinary way.
 *
 * A spare carries a sandbox's labels (its own session, this process as owner), so the orphan reaping of every
 * start removes those of dead processes; and it is used once: taken, it is that sandbox's, removed by its stop().
 * It never keeps this process alive: its Docker requests go over sockets that are unref'd (an idle or half-made
 * spare does not delay a script's exit), and a keeper process (below) removes it once this process is gone.
 * Cost: one idle network and one idle upstream container per process that ran a warm docker sandbox.
 * `MESHBOX_DOCKER_SPARES=0` turns spares off.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { Socket } from 'node:net';
import Dockerode from 'dockerode';
import type { SandboxModel } from '../../config/model.ts';
import { healthPath } from '../../upstream/control.ts';
import { maxRecordingBytesFromEnv, maxRecordingsFromEnv } from '../../upstream/recording-server.ts';
import { containerAppServers } from '../apps.ts';
import type { DockerConnection } from './daemon.ts';
import { labelKeys, newSessionId, sandboxLabels, type SandboxLabels } from './labels.ts';
import { upstreamAlias, upstreamControlPort } from './layout.ts';
import { removeSandboxes } from './reaper.ts';
import { upstreamEnvironment } from './upstream-container.ts';

export const sparesVariable = 'MESHBOX_DOCKER_SPARES';

const upstreamReadyTimeoutMs = 20_000;

/** What a spare was made for; one made for other settings is not used. */
export type SpareSettings = { readonly socketPath: string; readonly publishHost: string; readonly maxRecordings: number; readonly maxRecordingBytes: number };

export type Spare = {
	readonly settings: SpareSettings & { readonly upstreamImage: string };
	readonly sessionId: string;
	readonly labels: SandboxLabels;
	readonly networkName: string;
	readonly networkId: string;
	readonly upstreamId: string;
	readonly controlUrl: string;
};

/** The spare being prepared or ready (one per process); undefined once taken. */
let slot: Promise<Spare | undefined> | undefined;

/**
 * The settings of a spare this start could use, or undefined when it cannot use one: spares off, a daemon not
 * on a local socket (a keeper could not reach it), or a spec whose upstream needs more than an answer.
 */
export function spareSettingsFor(connection: DockerConnection, model: SandboxModel): SpareSettings | undefined {
	const socketPath = (connection.docker.modem as { socketPath?: unknown }).socketPath;
	if (process.env[sparesVariable] === '0' || !connection.local || typeof socketPath !== 'string'
		|| containerAppServers(model).length > 0 || (model.listeners?.tcp?.length ?? 0) > 0) {
		return undefined;
	}

	return { socketPath, publishHost: connection.publishHost, maxRecordings: maxRecordingsFromEnv(), maxRecordingBytes: maxRecordingBytesFromEnv() };
}

/**
 * The spare, now the caller's (to await: it may still be under way; it resolves undefined when its
 * preparation failed); undefined when there is none, so the caller knows at once to make its own.
 */
export function takeSpare(): Promise<Spare | undefined> | undefined {
	const taken = slot;
	slot = undefined;
	if (!taken) {
		return undefined;
	}

	// Its requests hold no reference on the event loop (see unrefDocker): now someone waits for it, this does.
	const awaited = setInterval(() => undefined, 60_000);
	return taken.finally(() => clearInterval(awaited));
}

export function spareFits(spare: Spare, settings: SpareSettings, upstreamImage: string): boolean {
	const made = spare.settings;
	return made.socketPath === settings.socketPath && made.publishHost === settings.publishHost
		&& made.maxRecordings === settings.maxRecordings && made.maxRecordingBytes === settings.maxRecordingBytes && made.upstreamImage === upstreamImage;
}

/** A taken spare that becomes a sandbox: from now on its stop() (or the orphan reaping) removes it, not the keeper. */
export function adoptSpare(spare: Spare): void {
	keeperFor(spare.settings.socketPath)?.forget(spare.sessionId);
}

/** A taken spare that does not fit: removed in the background (the keeper still would, at exit). */
export function discardSpare(spare: Spare): void {
	void removeSandboxes(unrefDocker(spare.settings.socketPath), { session: spare.sessionId })
		.then(() => keeperFor(spare.settings.socketPath)?.forget(spare.sessionId), () => undefined);
}

/** Starts preparing a spare when there is none; never throws (a failed spare is removed and not used). */
export function prepareSpare(settings: SpareSettings, upstreamImage: string): void {
	if (slot || process.env[sparesVariable] === '0') {
		return;
	}

	slot = makeSpare({ ...settings, upstreamImage });
}

async function makeSpare(settings: Spare['settings']): Promise<Spare | undefined> {
	const keeper = keeperFor(settings.socketPath);
	if (!keeper) {
		return undefined;
	}

	const docker = unrefDocker(settings.socketPath);
	const sessionId = newSessionId();
	const labels = sandboxLabels(sessionId);
	const networkName = `meshbox-${sessionId}`;
	// Before anything exists: should this process end from here on, the keeper removes whatever was made.
	keeper.watch(sessionId);
	try {
		// Not ./network.ts createNetwork: with Docker's address pools used up, no spare (rather than a wait).
		const network = await docker.createNetwork({ Name: networkName, Driver: 'bridge', CheckDuplicate: true, Labels: { ...labels } });
		// As ./upstream-container.ts startUpstream creates it (through testcontainers there), with the default
		// answer: the sandbox that takes it sets its own.
		const container = await docker.createContainer({
			name: `meshbox-${sessionId}-upstream`,
			Image: settings.upstreamImage,
			Env: Object.entries(upstreamEnvironment({ maxRecordings: settings.maxRecordings, maxRecordingBytes: settings.maxRecordingBytes })).map(([key, value]) => `${key}=${value}`),
			Labels: { ...labels, [labelKeys.role]: 'upstream' },
			ExposedPorts: { [`${upstreamControlPort}/tcp`]: {} },
			HostConfig: {
				NetworkMode: networkName,
				PortBindings: { [`${upstreamControlPort}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: '' }] },
				LogConfig: { Type: 'json-file', Config: {} },
			},
			NetworkingConfig: { EndpointsConfig: { [networkName]: { Aliases: [upstreamAlias] } } },
		});
		await container.start();
		const info = await container.inspect();
		const port = info.NetworkSettings.Ports[`${upstreamControlPort}/tcp`]?.[0]?.HostPort;
		if (!port) {
			throw new Error('the spare upstream\'s control port is not published');
		}

		const controlUrl = `http://${settings.publishHost}:${port}`;
		await waitForHealth(`${controlUrl}${healthPath}`);
		return { settings, sessionId, labels, networkName, networkId: network.id, upstreamId: container.id, controlUrl };
	} catch {
		// The next start goes the ordinary way and reports its own failures.
		await removeSandboxes(docker, { session: sessionId }).then(() => keeper.forget(sessionId), () => undefined);
		return undefined;
	}
}

/** GET until 200 over unref'd sockets and timers; rejects after upstreamReadyTimeoutMs. */
async function waitForHealth(url: string): Promise<void> {
	const started = Date.now();
	for (;;) {
		const status = await new Promise<number>(resolve => {
			const request = http.get(url, { agent: unrefAgent }, response => {
				response.resume();
				resolve(response.statusCode ?? 0);
			});
			request.setTimeout(1000, () => request.destroy());
			request.on('error', () => resolve(0));
		});
		if (status === 200) {
			return;
		}

		if (Date.now() - started > upstreamReadyTimeoutMs) {
			throw new Error('the spare upstream did not answer');
		}

		await new Promise(resolve => setTimeout(resolve, 50).unref());
	}
}

/**
 * Every connection it makes is unref'd: a request still under way does not keep this process alive.
 * (A new socket is not ref'd again by the agent; only a reused keep-alive one would be, and keep-alive is off.)
 */
class UnrefAgent extends http.Agent {
	override createConnection(...parameters: Parameters<http.Agent['createConnection']>): ReturnType<http.Agent['createConnection']> {
		const socket = super.createConnection(...parameters);
		(socket as Socket | null | undefined)?.unref();
		return socket;
	}
}

const unrefAgent = new UnrefAgent();
const unrefDockers = new Map<string, Dockerode>();

function unrefDocker(socketPath: string): Dockerode {
	let docker = unrefDockers.get(socketPath);
	if (!docker) {
		docker = new Dockerode({ socketPath, agent: unrefAgent } as Dockerode.DockerOptions);
		unrefDockers.set(socketPath, docker);
	}

	return docker;
}

/**
 * The keeper: a small detached Node process, one per process that made a spare, that removes the spares it is
 * told of (`watch <session>` / `forget <session>` on its stdin) once this process is gone, however it ends
 * (exit, a signal, SIGKILL, an ava worker torn down): its stdin then ends. It talks to the daemon's socket
 * with plain HTTP (Docker Engine API), so it needs nothing of meshbox's code. Its pipe and handle are unref'd.
 * It sweeps three times, so that a container whose create was under way when this process ended goes too.
 */
type Keeper = { watch(session: string): void; forget(session: string): void };

let keeper: { socketPath: string; keeper: Keeper } | undefined;

function keeperFor(socketPath: string): Keeper | undefined {
	if (keeper) {
		return keeper.socketPath === socketPath ? keeper.keeper : undefined;
	}

	const { NODE_OPTIONS: _nodeOptions, ...environment } = process.env;
	let child: ChildProcess;
	try {
		child = spawn(process.execPath, ['-e', keeperSource(socketPath)], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, env: environment });
	} catch {
		return undefined;
	}

	child.on('error', () => undefined);
	child.unref();
	const input = child.stdin!;
	input.on('error', () => undefined);
	(input as unknown as Socket).unref();
	const send = (line: string) => {
		if (!input.destroyed) {
			input.write(`${line}\n`);
		}
	};

	keeper = { socketPath, keeper: { watch: session => send(`watch ${session}`), forget: session => send(`forget ${session}`) } };
	return keeper.keeper;
}

function keeperSource(socketPath: string): string {
	return `
const http = require('node:http');
const socketPath = ${JSON.stringify(socketPath)};
const label = ${JSON.stringify(labelKeys.session)};
const sessions = new Set();
let pending = '';
const call = (method, path) => new Promise(resolve => {
	const request = http.request({ socketPath, method, path }, response => {
		let body = '';
		response.setEncoding('utf8');
		response.on('data', chunk => { body += chunk; });
		response.on('end', () => resolve({ status: response.statusCode, body }));
	});
	request.on('error', () => resolve({ status: 0, body: '' }));
	request.end();
});
const list = async path => { try { return JSON.parse((await call('GET', path)).body); } catch { return []; } };
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const sweep = async session => {
	const filters = encodeURIComponent(JSON.stringify({ label: [label + '=' + session] }));
	const containers = await list('/containers/json?all=1&filters=' + filters);
	await Promise.all((Array.isArray(containers) ? containers : []).map(info => call('DELETE', '/containers/' + info.Id + '?force=1&v=1')));
	const networks = await list('/networks?filters=' + filters);
	for (const info of Array.isArray(networks) ? networks : []) {
		for (let attempt = 0; attempt < 20; attempt++) {
			const { status } = await call('DELETE', '/networks/' + info.Id);
			if (status < 300 || status === 404) break;
			await sleep(100);
		}
	}
};
let ending = false;
const ended = async () => {
	if (ending) return;
	ending = true;
	for (const delay of [0, 1000, 2000]) {
		await sleep(delay);
		await Promise.all([...sessions].map(sweep));
	}
	process.exit(0);
};
process.stdin.setEncoding('utf8');
process.stdin.on('data', chunk => {
	pending += chunk;
	for (let end = pending.indexOf('\\n'); end >= 0; end = pending.indexOf('\\n')) {
		const [verb, session] = pending.slice(0, end).split(' ');
		pending = pending.slice(end + 1);
		if (verb === 'watch') sessions.add(session); else sessions.delete(session);
	}
});
process.stdin.on('end', ended);
process.stdin.on('error', ended);
`;
}
