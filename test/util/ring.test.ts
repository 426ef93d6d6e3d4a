/**
 * The ring behind logs and recordings: bounded, newest kept, exact counts, positions that survive drops.
 * (Its cost per push is measured by `npm run bench`, not asserted here.)
 */
import test from 'ava';
import { Ring } from '../../src/util/ring.ts';

test('a ring keeps the newest items in order and counts every push', t => {
	const ring = new Ring<number>(3);
	for (let value = 1; value <= 7; value++) {
		ring.push(value);
	}

	t.deepEqual(ring.toArray(), [5, 6, 7]);
	t.is(ring.total, 7);
	t.is(ring.size, 3);
	t.deepEqual(ring.last(2), [6, 7]);
	t.is(ring.find(value => value % 2 === 0), 6, 'find looks oldest first');
});

test('since(position) gives what was pushed after that position, as far as it is still kept', t => {
	const ring = new Ring<string>(4);
	ring.push('a');
	const position = ring.total;
	for (const value of ['b', 'c', 'd']) {
		ring.push(value);
	}

	t.deepEqual(ring.since(position), ['b', 'c', 'd']);
	for (const value of ['e', 'f', 'g']) {
		ring.push(value);
	}

	t.deepEqual(ring.since(position), ['d', 'e', 'f', 'g'], 'b and c were dropped');
	t.deepEqual(ring.since(ring.total), []);
	ring.clear();
	t.is(ring.total, 0);
	t.deepEqual(ring.toArray(), []);
});

test('a ring refuses a capacity that is not a positive integer', t => {
	t.throws(() => new Ring(0), { instanceOf: RangeError });
});
