/**
 * `UpstreamRecordings` over the upstream's control API (./control.ts): how a runtime reads the recordings
 * of an upstream that runs in another process.
 */
import got, { type Got } from 'got';
import { appRecordingsPath } from './apps.ts';
import { hitsHeader, recordingsPath, responsePath } from './control.ts';
import type { RecordedRequest, ServerResponse } from './recording-server.ts';
import type { UpstreamRecordings } from './recordings.ts';

/** `app`: a named app's recordings (`/apps/<name>/recordings`, ./apps.ts); absent: the default upstream's. */
export function controlClient(baseUrl: string, app?: string): UpstreamRecordings {
	const http: Got = got.extend({
		prefixUrl: baseUrl,
		retry: { limit: 0 },
		timeout: { request: 5000 },
		throwHttpErrors: true,
	});
	const path = (app === undefined ? recordingsPath : appRecordingsPath(app)).slice(1);
	const read = async () => http.get(path);
	return {
		requests: async () => JSON.parse((await read()).body) as RecordedRequest[],
		hits: async () => {
			const response = await read();
			// The header counts requests the ring dropped too; an upstream without it keeps every request.
			const hits = response.headers[hitsHeader];
			return typeof hits === 'string' ? Number(hits) : (JSON.parse(response.body) as unknown[]).length;
		},
		clear: async () => {
			await http.delete(path);
		},
	};
}

/** Changes the app's answer (PUT /response): the docker runtime's live update of `upstream:`. */
export async function setUpstreamResponse(baseUrl: string, response: ServerResponse): Promise<void> {
	await got.put(`${baseUrl}${responsePath}`, { json: response, retry: { limit: 0 }, timeout: { request: 5000 } });
}
