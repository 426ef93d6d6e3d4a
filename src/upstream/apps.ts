/**
 * Named recording apps (`apps:` in the sandbox spec, src/config/routing.ts): each one a recording server of its
 * own with its own answer. On the local runtime they run in the harness (src/runtime/apps.ts); in the docker
 * runtime the one upstream container serves every app on a port of its own (./main.ts), told which by
 * `MESHBOX_UPSTREAM_APPS`, and its control API reads and clears each app's recordings at `/apps/<name>/recordings`.
 */
import type { AppModel } from '../config/routing.ts';
import type { ServerProtocol, ServerResponse } from './recording-server.ts';

/** JSON `AppServer[]`: the apps the standalone upstream serves besides the default one. */
export const upstreamAppsVariable = 'MESHBOX_UPSTREAM_APPS';

/** `protocol` absent: HTTP/1.1. */
export type AppServer = { readonly name: string; readonly port: number; readonly response: ServerResponse; readonly protocol?: ServerProtocol };

/** The control API path of an app's recordings (`/apps/<name>/recordings`). */
export function appRecordingsPath(name: string): string {
	return `/apps/${encodeURIComponent(name)}/recordings`;
}

/** An app's answer as the recording server takes it. */
export function appResponse(app: AppModel): ServerResponse {
	return {
		status: app.status, headers: { ...app.headers }, body: app.body, trailers: { ...app.trailers },
		...(app.delayMs > 0 ? { delayMs: app.delayMs } : {}),
		...(app.chunks ? { chunks: app.chunks.map(chunk => ({ ...chunk })) } : {}),
	};
}

/** Reads `MESHBOX_UPSTREAM_APPS` (absent: no apps). */
export function appServersFromEnv(env: NodeJS.ProcessEnv = process.env): AppServer[] {
	const value = env[upstreamAppsVariable];
	if (!value) {
		return [];
	}

	const parsed = JSON.parse(value) as unknown;
	if (!Array.isArray(parsed) || !parsed.every(entry => typeof entry === 'object' && entry !== null && typeof (entry as AppServer).name === 'string' && typeof (entry as AppServer).port === 'number')) {
		throw new Error(`${upstreamAppsVariable}: expected JSON [{ name, port, response }]`);
	}

	return parsed as AppServer[];
}
