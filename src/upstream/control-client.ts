/**
 * `UpstreamRecordings` over the upstream's control API (./control.ts): how a runtime reads the recordings
 * of an upstream that runs in another process.
 *
 * `got` is loaded at the first request, not with this module: the local runtime imports this module for named
 * apps, and `meshbox up` would otherwise pay ~80 ms importing got (and its dependencies) on every start.
 */
import type { Got } from 'got';
import { appRecordingsPath } from './apps.ts';
import { hitsHeader, recordingsPath, responsePath } from './control.ts';
import type { RecordedRequest, ServerResponse } from './recording-server.ts';
import type { UpstreamRecordings } from './recordings.ts';

/** `app`: a named app's recordings (`/apps/<name>/recordings`, ./apps.ts); absent: the default upstream's. */
export function controlClient(baseUrl: string, app?: string): UpstreamRecordings {
	let client: Promise<Got> | undefined;
	const http = async () => {
		client ??= loadGot().then(got => got.extend({
			prefixUrl: baseUrl,
			retry: { limit: 0 },
			timeout: { request: 5000 },
			throwHttpErrors: true,
		}));
		return client;
	};
	const path = (app === undefined ? recordingsPath : appRecordingsPath(app)).slice(1);
	const read = async () => (await http()).get(path);
	return {
		requests: async () => JSON.parse((await read()).body) as RecordedRequest[],
		hits: async () => {
			const response = await read();
			// The header counts requests the ring dropped too; an upstream without it keeps every request.
			const hits = response.headers[hitsHeader];
			return typeof hits === 'string' ? Number(hits) : (JSON.parse(response.body) as unknown[]).length;
		},
		clear: async () => {
			await (await http()).delete(path);
		},
	};
}

/** Changes the app's answer (PUT /response): the docker runtime's live update of `upstream:`. */
export async function setUpstreamResponse(baseUrl: string, response: ServerResponse): Promise<void> {
	const got = await loadGot();
	await got.put(`${baseUrl}${responsePath}`, { json: response, retry: { limit: 0 }, timeout: { request: 5000 } });
}

async function loadGot(): Promise<Got> {
	return (await import('got')).default;
}
