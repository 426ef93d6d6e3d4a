/**
 * The parts of an app's answer that `upstream:` and `apps:` share beyond status/headers/body/trailers: a body
 * streamed in timed parts (`chunks`), a delay before answering (`delayMs`), and for apps the protocol they speak
 * (`protocol: http2`, h2c: what a gRPC-style service behind Envoy's `http2_protocol_options` speaks).
 */
import { configError, describeValue, readInteger, readObject, readOneOf, readString, type FieldPath, type Locator } from './fields.ts';

/** One part of a streamed body, as written in meshbox.yaml / startSandbox(). */
export type ChunkSpec = {
	data: string;
	/** Milliseconds to wait before sending this part (after the headers, or the previous part). Default 0. */
	delayMs?: number;
};

export type ChunkModel = { readonly data: string; readonly delayMs: number };

/** What an app (or a `clusters:` service) speaks: HTTP/1.1, or HTTP/2 without TLS (h2c, prior knowledge). */
export type AppProtocol = 'http1' | 'http2';
export const appProtocols: readonly AppProtocol[] = ['http1', 'http2'];

/** The longest wait meshbox accepts anywhere in an answer: 10 minutes (longer is a mistake, not a test). */
export const maxDelayMs = 600_000;

const chunkFields = ['data', 'delayMs'] as const;

/** `delayMs` at `path`: a whole number of milliseconds. */
export function readDelay(value: unknown, path: FieldPath, locate: Locator): number {
	return readInteger(value, path, locate, 0, maxDelayMs);
}

/** `chunks:` at `at` (the app's path): a non-empty list of `{ data, delayMs }`; `body` must not be given with it. */
export function readChunks(value: unknown, at: FieldPath, locate: Locator, bodyGiven: boolean): ChunkModel[] {
	const path: FieldPath = [...at, 'chunks'];
	if (bodyGiven) {
		throw configError(locate, path, 'both `body` and `chunks` are given; the body is one or the other',
			'keep `body` for a body sent at once, or `chunks: [{ data, delayMs }]` for one sent in timed parts');
	}

	if (!Array.isArray(value) || value.length === 0) {
		throw configError(locate, path, `expected a non-empty list of { data, delayMs }, found ${describeValue(value)}`,
			'e.g. chunks: [{ data: "part 1," }, { data: "part 2", delayMs: 100 }]');
	}

	return value.map((entry, index) => {
		const fields = readObject(entry, [...path, index], locate, chunkFields);
		if (fields.data === undefined) {
			throw configError(locate, [...path, index, 'data'], 'missing: each chunk needs its `data` (a string; "" for a pause without data)');
		}

		return {
			data: readString(fields.data, [...path, index, 'data'], locate),
			delayMs: fields.delayMs === undefined ? 0 : readDelay(fields.delayMs, [...path, index, 'delayMs'], locate),
		};
	});
}

export function readProtocol(value: unknown, path: FieldPath, locate: Locator): AppProtocol {
	return readOneOf(value, path, locate, appProtocols);
}
