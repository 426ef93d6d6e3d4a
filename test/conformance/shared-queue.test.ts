/**
 * Conformance: shared-queue (fixtures/plugins/CONFORMANCE.md "shared-queue"). A sender filter enqueues
 * each request's path on a queue a receiver filter (another VM) registered; the receiver dequeues on its tick.
 */
import test from 'ava';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { sandboxFor } from './helpers.ts';

for (const sdk of sdksFor('shared-queue')) {
	test(cell(sdk, 'shared-queue', 'enqueued by a sender filter, dequeued on the receiver\'s tick'), async t => {
		const wasm = fixtureFor(sdk, 'shared-queue');
		const box = await sandboxFor(t, {
			plugins: [
				{ name: 'receiver', wasm, vmId: 'receiver', configuration: { role: 'receiver', queue: 'paths', tick_ms: 100 } },
				{ name: 'sender', wasm, vmId: 'sender', configuration: { role: 'sender', queue: 'paths', vm_id: 'receiver' } },
			],
		});
		t.true((await box.logs({ level: 'info', message: 'registered queue paths' })).length >= 1, 'the receiver registered its queue');

		for (const path of ['/queued-1', '/queued-2']) {
			const response = await box.request(path);
			t.is(response.status, 200);
			t.is(response.body, 'Hello, world!\n');
			t.is(response.headers['x-queue-enqueue'], 'Ok');
		}

		t.truthy(await box.waitForLog({ level: 'info', message: 'dequeued: /queued-2' }, 5000), 'the receiver dequeued the second path');
		const sent = await box.logs({ plugin: 'sender', level: 'info', message: 'enqueued: ' });
		t.deepEqual(sent.map(entry => entry.message), ['enqueued: /queued-1', 'enqueued: /queued-2']);
		const dequeued = await box.logs({ level: 'info', message: /^dequeued: / });
		t.deepEqual(dequeued.map(entry => entry.message), ['dequeued: /queued-1', 'dequeued: /queued-2'], 'in order, each once');
		t.true((await box.logs({ level: 'debug', message: 'queue ready' })).length >= 2, 'on_queue_ready for each item');
	});

	test(cell(sdk, 'shared-queue', 'a sender whose queue does not exist: NotFound'), async t => {
		const box = await sandboxFor(t, {
			plugins: [{ name: 'sender', wasm: fixtureFor(sdk, 'shared-queue'), vmId: 'sender', configuration: { role: 'sender', queue: 'missing', vm_id: 'receiver' } }],
		});
		const response = await box.request('/lost');
		t.is(response.status, 200);
		t.is(response.headers['x-queue-enqueue'], 'NotFound');
		t.is(await box.upstream.hits(), 1);
	});
}
