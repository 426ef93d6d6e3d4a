/**
 * The docker runtime's Envoy starts wait in line for a start slot like the local runtime's
 * (src/runtime/start-slots.ts; test/runtime/start-slots.test.ts has the many-sandboxes case).
 */
import { startSlotsDir } from '../../src/runtime/start-slots.ts';
import { takeSlot } from '../../src/util/slots.ts';
import { RunningCli } from '../helpers/cli.ts';
import { ownerLeftovers } from './docker-helpers.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

// Inherited by the meshbox processes these tests start: one Envoy start at a time, in slot-0.
process.env.MESHBOX_START_SLOTS = '1';

test('meshbox up --runtime docker waits in line while the start slot is taken, says so, and starts once it is free', async t => {
	// Other processes' starts may hold slot-0 too: this test waits in line with them.
	t.timeout(5 * 60_000);
	// This machine's slot-0 (the one a count of 1 uses), held here as another sandbox's start would hold it.
	const held = await takeSlot({ dir: startSlotsDir(), count: 1 });
	const cli = RunningCli.start(['up', '--runtime', 'docker', '--port', '0']);
	const pid = cli.process.pid!;
	try {
		await cli.waitForLine(/^meshbox: waiting in line to start Envoy: 1 start\(s\) run at once on this machine .*the wait does not count against the ready timeout$/, 120_000);
		await held.release();
		await cli.waitForLine(/^meshbox: starting Envoy after \d+\.\d s in line$/, 120_000);
		await cli.waitForLine(/^listening on http:\/\/127\.0\.0\.1:\d+$/, 120_000);
	} finally {
		await held.release();
		t.is(await cli.stop('SIGINT'), 0, cli.lines.join('\n'));
	}

	const left = await ownerLeftovers(pid);
	t.is(left.containers.length + left.networks.length, 0);
});
