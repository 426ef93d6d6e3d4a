/**
 * The growth rule (src/measure/leak.ts) on samples whose truth is known: a steady line with page-sized noise is
 * not a leak, 4 KiB per request is, and too few samples give no verdict.
 */
import test from 'ava';
import { fitGrowth, studentT95 } from '../../src/measure/leak.ts';

const pageNoise = [0, 4096, -4096, 8192, 0, -4096, 4096, 0, 12_288, -8192, 0, 4096, 0, -4096, 8192, 0, 4096, -4096, 0, 0];

test('a flat RSS with page-sized steps is not a leak; its interval covers 0', t => {
	const samples = pageNoise.map((noise, index) => [index * 500, 100_000_000 + noise] as const);
	const growth = fitGrowth(samples);
	t.false(growth.leakSuspected);
	t.true(Math.abs(growth.slope) <= growth.uncertainty, `0 within ${growth.slope} ± ${growth.uncertainty}`);
});

test('4 KiB per request over page-sized noise is a leak, estimated near 4096 B/request', t => {
	const samples = pageNoise.map((noise, index) => [index * 500, 100_000_000 + index * 500 * 4096 + noise] as const);
	const growth = fitGrowth(samples);
	t.true(growth.leakSuspected);
	t.true(Math.abs(growth.slope - 4096) < growth.uncertainty + 1, `${growth.slope} ± ${growth.uncertainty}`);
});

test('growth below the floor is not a leak however certain; two samples give a slope and no verdict', t => {
	const slow = Array.from({ length: 20 }, (_, index) => [index * 500, 100_000_000 + index * 500 * 200] as const);
	t.false(fitGrowth(slow).leakSuspected, '200 B/request, exactly, is under the 512 B floor');
	t.true(fitGrowth(slow, 100).leakSuspected, 'and over a 100 B floor');
	const two = fitGrowth([[0, 0], [1000, 4_096_000]]);
	t.is(two.slope, 4096);
	t.is(two.uncertainty, Number.POSITIVE_INFINITY);
	t.false(two.leakSuspected);
	t.is(studentT95(1), 12.706);
	t.true(studentT95(1000) > 1.96 && studentT95(1000) < 1.965);
});
