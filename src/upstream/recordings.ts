/**
 * How a scenario reads the upstream's recordings. Async on purpose: on the local runtime the upstream runs
 * in this process, on others it runs elsewhere, and scenarios must not care which.
 */

export type UpstreamRecordings = {
	/** Every request the upstream received since start or the last clear(), oldest first. */
	requests(): Promise<RecordedRequest[]>;
	/** How many requests reached the upstream. */
	hits(): Promise<number>;
	/** Forget the recordings (e.g. between two steps of a scenario). */
	clear(): Promise<void>;
};

/** One request as the app (or a mock service) received it. */
export type RecordedRequest = {
	readonly method: string;
	/** Path with query string, as received. */
	readonly path: string;
	/** Lower-cased names; repeated headers joined with `, ` (set-cookie: kept as received, joined). */
	readonly headers: Readonly<Record<string, string>>;
	/** Header names and values in the order and case received. */
	readonly rawHeaders: readonly string[];
	/** The body as UTF-8 text: its first 1 MiB at most (the head), see `bodyTruncated`. */
	readonly body: string;
	/** Present when `body` is only the head of a larger body: the rest was counted, not kept (a byte bound, issue #20). */
	readonly bodyTruncated?: true;
	/** With `bodyTruncated`: the whole body's size in bytes, as received. */
	readonly bodySize?: number;
	/** Trailers that followed the body (lower-cased names). */
	readonly trailers: Readonly<Record<string, string>>;
	/** When the request arrived (ms since the epoch). */
	readonly time: number;
};
