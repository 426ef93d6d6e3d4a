/**
 * The upstream as a program of its own (the `meshbox/upstream` image runs this, bundled into one file):
 * the recording hello-world app on 0.0.0.0:8080 and its control API on 0.0.0.0:8081.
 * `MESHBOX_UPSTREAM_PORT` / `MESHBOX_UPSTREAM_CONTROL_PORT` override the ports; `MESHBOX_UPSTREAM_RESPONSE`
 * (JSON: status, headers, body, trailers) sets the app's answer; `MESHBOX_MAX_RECORDINGS` how many requests
 * it keeps (default 1000), `MESHBOX_MAX_RECORDING_BYTES` how many bytes (default 64 MiB); `MESHBOX_UPSTREAM_APPS` (JSON, ./apps.ts) the named apps it serves besides.
 */
import { UpstreamControlServer, upstreamAppPort, upstreamControlPort, upstreamResponseVariable } from './control.ts';
import { helloWorldBody, RecordingUpstream, recordingsOf, type ServerResponse } from './recording-server.ts';
import { appServersFromEnv } from './apps.ts';

function portFromEnv(name: string, fallback: number): number {
	const value = process.env[name];
	if (value === undefined || value === '') {
		return fallback;
	}

	const port = Number(value);
	if (!/^\d+$/.test(value) || port > 65_535) {
		throw new Error(`${name}=${value}: expected a port number`);
	}

	return port;
}

/** The app's answer, when the sandbox spec sets one (`upstream:`); otherwise the hello-world default. */
function responseFromEnv(): ServerResponse | undefined {
	const value = process.env[upstreamResponseVariable];
	return value ? JSON.parse(value) as ServerResponse : undefined;
}

const host = '0.0.0.0';
// The answer changes with the sandbox's live updates (PUT /response on the control port).
let answer: ServerResponse = responseFromEnv() ?? { status: 200, headers: { 'content-type': 'text/plain' }, body: helloWorldBody };
const upstream = await RecordingUpstream.start({ host, port: portFromEnv('MESHBOX_UPSTREAM_PORT', upstreamAppPort), respond: () => answer });
// Named apps (`apps:`), each on its own port with its own fixed answer (MESHBOX_UPSTREAM_APPS, ./apps.ts).
const apps = await Promise.all(appServersFromEnv().map(async app => ({
	name: app.name,
	server: await RecordingUpstream.start({ host, port: app.port, respond: () => app.response, ...(app.protocol ? { protocol: app.protocol } : {}) }),
})));
const control = await UpstreamControlServer.start(recordingsOf(upstream), {
	apps: Object.fromEntries(apps.map(app => [app.name, recordingsOf(app.server)])),
	host,
	port: portFromEnv('MESHBOX_UPSTREAM_CONTROL_PORT', upstreamControlPort),
	setResponse: next => {
		answer = next;
	},
});
process.stdout.write(`meshbox upstream: app on ${host}:${upstream.address.port}, control on ${host}:${control.address.port}${apps.map(app => `, ${app.name} on ${host}:${app.server.address.port}`).join('')}\n`);

// As PID 1 in a container, Node gets no default signal handling: without these, `docker stop` waits and kills.
const stop = (signal: NodeJS.Signals) => {
	process.stdout.write(`meshbox upstream: ${signal}, stopping\n`);
	void Promise.all([upstream.stop(), control.stop(), ...apps.map(async app => app.server.stop())]).finally(() => process.exit(0));
};

process.once('SIGTERM', stop);
process.once('SIGINT', stop);
