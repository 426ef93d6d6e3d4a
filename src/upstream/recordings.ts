/**
 * How a scenario reads the upstream's recordings. Async on purpose: on the local runtime the upstream runs
 * in this process, on others it runs elsewhere, and scenarios must not care which.
 */
import type { RecordedRequest } from './recording-server.ts';

export type UpstreamRecordings = {
	/** Every request the upstream received since start or the last clear(), oldest first. */
	requests(): Promise<RecordedRequest[]>;
	/** How many requests reached the upstream. */
	hits(): Promise<number>;
	/** Forget the recordings (e.g. between two steps of a scenario). */
	clear(): Promise<void>;
};
