/** The part of autocannon (a CommonJS package without types) src/measure uses: an in-process run with events. */
declare module 'autocannon' {
	import type { EventEmitter } from 'node:events';

	export type AutocannonOptions = {
		url: string;
		connections?: number;
		/** Stop after this many requests (instead of `duration`). */
		amount?: number;
		duration?: number;
		pipelining?: number;
		headers?: Record<string, string>;
		/** Seconds. */
		timeout?: number;
	};

	export type AutocannonResult = {
		readonly errors: number;
		readonly timeouts: number;
		readonly non2xx: number;
		readonly duration: number;
		readonly requests: { readonly total: number; readonly sent: number; readonly average: number };
	};

	/** Emits `response` (client, statusCode, bytes, responseTimeMs) per response; resolves like a promise. */
	export type AutocannonInstance = EventEmitter & PromiseLike<AutocannonResult> & { stop(): void };

	export default function autocannon(options: AutocannonOptions): AutocannonInstance;
}
