/**
 * A bounded FIFO with O(1) push at any volume: once full, each push overwrites the oldest item. It counts
 * every item ever pushed, so positions stay meaningful after items were dropped (`since(position)`).
 * (An array trimmed with `shift()` costs O(n) per push once full: a log buffer at its cap slowed Envoy's
 * whole pipeline that way.)
 */
export class Ring<T> {
	private readonly items: T[] = [];
	/** Index of the oldest item once full (the next to overwrite). */
	private oldest = 0;
	private pushed = 0;

	constructor(readonly capacity: number) {
		if (!Number.isInteger(capacity) || capacity < 1) {
			throw new RangeError(`Ring capacity must be a positive integer, got ${capacity}`);
		}
	}

	push(item: T): void {
		this.pushed++;
		if (this.items.length < this.capacity) {
			this.items.push(item);
		} else {
			this.items[this.oldest] = item;
			this.oldest = (this.oldest + 1) % this.capacity;
		}
	}

	/** Items ever pushed (since the last clear), dropped ones included. */
	get total(): number {
		return this.pushed;
	}

	get size(): number {
		return this.items.length;
	}

	/** The kept items, oldest first (a copy). */
	toArray(): T[] {
		return this.oldest === 0 ? [...this.items] : [...this.items.slice(this.oldest), ...this.items.slice(0, this.oldest)];
	}

	/** The kept items pushed at or after `position` (a value of `total` taken earlier), oldest first. */
	since(position: number): T[] {
		const firstKept = this.pushed - this.items.length;
		const skip = Math.max(0, position - firstKept);
		return skip >= this.items.length ? [] : this.toArray().slice(skip);
	}

	/** The newest `count` items, oldest first. */
	last(count: number): T[] {
		return this.since(this.pushed - count);
	}

	/** The first kept item (oldest first) that matches. */
	find(predicate: (item: T) => boolean): T | undefined {
		for (let index = 0; index < this.items.length; index++) {
			const item = this.items[(this.oldest + index) % this.items.length]!;
			if (predicate(item)) {
				return item;
			}
		}

		return undefined;
	}

	clear(): void {
		this.items.length = 0;
		this.oldest = 0;
		this.pushed = 0;
	}
}
