/**
 * The named recording apps of a sandbox (`apps:`, src/config/routing.ts) as the runtimes run them: on the local
 * runtime each is a recording server in this process on a free port; in the docker runtime the upstream
 * container serves them all (src/upstream/main.ts) on fixed ports next to the default app's.
 */
import type { SandboxModel } from '../config/model.ts';
import type { AppModel } from '../config/routing.ts';
import type { SocketAddress } from '../envoy/placement.ts';
import { appPortOffset } from '../envoy/routing.ts';
import { appResponse, type AppServer } from '../upstream/apps.ts';
import { controlClient } from '../upstream/control-client.ts';
import { upstreamAppPort } from '../upstream/control.ts';
import { RecordingUpstream, recordingsOf } from '../upstream/recording-server.ts';
import type { UpstreamRecordings } from '../upstream/recordings.ts';

export type RunningApps = {
	/** Each app's recordings, by name. */
	readonly recordings: Readonly<Record<string, UpstreamRecordings>>;
	/** Where Envoy reaches the app. */
	address(app: AppModel): SocketAddress;
	stop(): Promise<void>;
};

/**
 * Starts one recording server per app on `host`. `current` is the model serving now: an app answers what it
 * says (the apps themselves are fixed for the sandbox's life).
 */
export async function startLocalApps(model: SandboxModel, host: string, current: () => SandboxModel): Promise<RunningApps> {
	const servers: Array<{ name: string; server: RecordingUpstream }> = [];
	try {
		for (const app of model.routing?.apps ?? []) {
			const respond = () => appResponse(current().routing?.apps.find(entry => entry.name === app.name) ?? app);
			servers.push({ name: app.name, server: await RecordingUpstream.start({ host, respond, ...(app.protocol ? { protocol: app.protocol } : {}) }) });
		}
	} catch (error) {
		await Promise.allSettled(servers.map(async entry => entry.server.stop()));
		throw error;
	}

	return {
		recordings: Object.fromEntries(servers.map(entry => [entry.name, recordingsOf(entry.server)])),
		address: app => {
			const server = servers.find(entry => entry.name === app.name)?.server;
			if (!server) {
				throw new Error(`no app named ${app.name} is running`);
			}

			return { address: server.address.host, port: server.address.port };
		},
		stop: async () => {
			await Promise.allSettled(servers.map(async entry => entry.server.stop()));
		},
	};
}

/** The port an app has in the upstream container: the default app's + 10 + its index (as `meshbox render` assumes). */
export function appPortInContainer(model: SandboxModel, app: AppModel): number {
	return upstreamAppPort + appPortOffset + Math.max(0, model.routing?.apps.findIndex(entry => entry.name === app.name) ?? 0);
}

/** What the upstream container is told to serve besides the default app (MESHBOX_UPSTREAM_APPS). */
export function containerAppServers(model: SandboxModel): AppServer[] {
	return (model.routing?.apps ?? []).map(app => ({ name: app.name, port: appPortInContainer(model, app), response: appResponse(app), ...(app.protocol ? { protocol: app.protocol } : {}) }));
}

/** Each app's recordings, read over the upstream container's control API. */
export function containerAppRecordings(model: SandboxModel, controlUrl: string): Record<string, UpstreamRecordings> {
	return Object.fromEntries((model.routing?.apps ?? []).map(app => [app.name, controlClient(controlUrl, app.name)]));
}
