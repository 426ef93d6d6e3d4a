/**
 * `UpstreamRecordings` over the upstream's control API (./control.ts): how a runtime reads the recordings
 * of an upstream that runs in another process.
 */
import got, { type Got } from 'got';
import { recordingsPath } from './control.ts';
import type { RecordedRequest } from './recording-server.ts';
import type { UpstreamRecordings } from './recordings.ts';

export function controlClient(baseUrl: string): UpstreamRecordings {
	const http: Got = got.extend({
		prefixUrl: baseUrl,
		retry: { limit: 0 },
		timeout: { request: 5000 },
		throwHttpErrors: true,
	});
	const path = recordingsPath.slice(1);
	const requests = async () => http.get(path).json<RecordedRequest[]>();
	return {
		requests,
		hits: async () => (await requests()).length,
		clear: async () => {
			await http.delete(path);
		},
	};
}
