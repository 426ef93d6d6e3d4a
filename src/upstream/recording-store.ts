/**
 * The recordings an upstream keeps: the latest requests within a count and a byte budget, oldest dropped
 * first, with an exact count of every request (dropped ones too). A recording's bytes are its size as JSON
 * (UTF-8), what `/recordings` sends: the budget bounds that answer exactly, whatever the bodies hold (a NUL
 * byte is 6 characters escaped), and the harness's memory with it (issue #20).
 */
import type { RecordedRequest } from './recordings.ts';

/** What `request` takes in `/recordings` (its JSON, UTF-8) and the comma between it and the next. */
export function recordingBytes(request: RecordedRequest): number {
	return Buffer.byteLength(JSON.stringify(request)) + 1;
}

export class RecordingStore {
	/** Kept recordings from `first` on; slots before it are dropped ones, compacted away now and then. */
	private items: Array<{ request: RecordedRequest; bytes: number } | undefined> = [];
	private first = 0;
	private bytes = 0;
	private pushed = 0;

	constructor(readonly maxCount: number, readonly maxBytes: number) {
		if (!Number.isInteger(maxCount) || maxCount < 1 || !Number.isInteger(maxBytes) || maxBytes < 1) {
			throw new RangeError(`RecordingStore bounds must be positive integers, got ${maxCount} recordings, ${maxBytes} bytes`);
		}
	}

	push(request: RecordedRequest): void {
		this.pushed++;
		const bytes = recordingBytes(request);
		this.items.push({ request, bytes });
		this.bytes += bytes;
		// The newest is always kept, even alone over the budget (its body is already cut to a head).
		while (this.size > 1 && (this.size > this.maxCount || this.bytes > this.maxBytes)) {
			this.dropOldest();
		}
	}

	/** Requests ever pushed since the last clear, dropped ones included. */
	get total(): number {
		return this.pushed;
	}

	get size(): number {
		return this.items.length - this.first;
	}

	/** What the kept recordings take as JSON, in bytes (what the budget is checked against). */
	get keptBytes(): number {
		return this.bytes;
	}

	/** The kept recordings, oldest first (a copy). */
	toArray(): RecordedRequest[] {
		const kept: RecordedRequest[] = [];
		for (let index = this.first; index < this.items.length; index++) {
			kept.push(this.items[index]!.request);
		}

		return kept;
	}

	clear(): void {
		this.items = [];
		this.first = 0;
		this.bytes = 0;
		this.pushed = 0;
	}

	private dropOldest(): void {
		const oldest = this.items[this.first]!;
		this.items[this.first] = undefined;
		this.first++;
		this.bytes -= oldest.bytes;
		// Compact once the dropped slots are half the array: O(1) per push on average, as a ring would be.
		if (this.first > 1024 && this.first * 2 > this.items.length) {
			this.items = this.items.slice(this.first);
			this.first = 0;
		}
	}
}
