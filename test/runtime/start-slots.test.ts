/**
 * Envoy starts wait in line for a start slot (src/runtime/start-slots.ts) instead of all compiling their
 * plugins at once and missing their ready timeouts on a small machine.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { MeshboxError, startSandbox } from '../../src/index.ts';
import { admitEnvoyStart, startSlotCount } from '../../src/runtime/start-slots.ts';
import { takeSlot } from '../../src/util/slots.ts';
import { childEnvoys, ownWorkDirs } from '../helpers/leftovers.ts';
import { fixturePlugin } from '../helpers/paths.ts';

// One Envoy start at a time for this process (other processes keep their own count of the same slots).
process.env.MESHBOX_START_SLOTS = '1';

const dirs: string[] = [];
async function slotsDir(): Promise<string> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-slots-'));
	dirs.push(dir);
	return dir;
}

test.after.always(async () => {
	await Promise.all(dirs.map(async dir => rm(dir, { recursive: true, force: true })));
});

test('a start waits in line while every slot is taken, says so, and goes once one is released', async t => {
	const dir = await slotsDir();
	const first = await takeSlot({ dir, count: 1 });
	const lines: string[] = [];
	let admitted = false;
	const second = admitEnvoyStart(line => lines.push(line), { dir, count: 1 }).then(slot => {
		admitted = true;
		return slot;
	});
	// Wait until the second start has looked at the slot and found it taken.
	while (lines.length === 0) {
		await new Promise(resolve => setTimeout(resolve, 20));
	}

	t.false(admitted, 'not admitted while the only slot is held');
	t.regex(lines[0] ?? '', /^meshbox: waiting in line to start Envoy: 1 start\(s\) run at once on this machine \(MESHBOX_START_SLOTS.*meshbox pid \d+.*does not count against the ready timeout/);
	await first.release();
	const slot = await second;
	t.regex(lines.at(-1) ?? '', /^meshbox: starting Envoy after \d+\.\d s in line$/);
	await slot.release();
	await first.release();
});

test('a slot whose owner died is taken over', async t => {
	const dir = await slotsDir();
	const gone = execa('node', ['-e', '']);
	await gone;
	await mkdir(path.join(dir, 'slot-0'));
	await writeFile(path.join(dir, 'slot-0', 'pid'), String(gone.pid));
	const lines: string[] = [];
	const slot = await admitEnvoyStart(line => lines.push(line), { dir, count: 1 });
	t.deepEqual(lines, [], 'no wait');
	await slot.release();
});

test('MESHBOX_START_SLOTS must be a positive whole number; the default is the CPU count', t => {
	t.is(startSlotCount({ MESHBOX_START_SLOTS: '3' }), 3);
	t.is(startSlotCount({}), os.availableParallelism());
	const error = t.throws(() => startSlotCount({ MESHBOX_START_SLOTS: '0' }), { instanceOf: MeshboxError });
	t.regex(error?.message ?? '', /MESHBOX_START_SLOTS=0 is not a positive whole number/);
});

// A few-MB Go plugin: most of an Envoy start is compiling it.
const goPlugin = [{ name: 'go-body', wasm: fixturePlugin('go-body') }];

test.serial('more big-plugin sandboxes (each on a dedicated Envoy) at once than start slots all start, with a ready timeout shorter than their starts together', async t => {
	// Other processes' starts share the slots: the wait in line can be long on a busy machine.
	t.timeout(5 * 60_000);
	// One start alone, to scale the ready timeout to this machine and its current load.
	const calibrationStarted = Date.now();
	const alone = await startSandbox({ plugins: goPlugin, fresh: true });
	const oneStartMs = Date.now() - calibrationStarted;
	await alone.stop();

	// Longer than one start (with room for a busier moment), much shorter than the starts together: started
	// all at once without a line, each would take about as long as all of them and miss it.
	const count = 6;
	const readyTimeoutMs = 3 * oneStartMs;
	t.timeout(count * readyTimeoutMs + 60_000);
	const results = await Promise.allSettled(Array.from({ length: count }, async () => startSandbox({ plugins: goPlugin, readyTimeoutMs, fresh: true })));
	const boxes = results.flatMap(result => (result.status === 'fulfilled' ? [result.value] : []));
	try {
		const failures = results.flatMap(result => (result.status === 'rejected' ? [String((result.reason as Error).message)] : []));
		t.deepEqual(failures, [], `one start alone took ${oneStartMs} ms; ready timeout ${readyTimeoutMs} ms`);
		for (const box of boxes) {
			t.is((await box.request('/')).status, 200);
		}
	} finally {
		await Promise.all(boxes.map(async box => box.stop()));
	}

	t.deepEqual(await childEnvoys(), [], 'no Envoy process is left');
	t.deepEqual(await ownWorkDirs(), [], 'no work directory is left');
});
