/**
 * The Envoy around the plugin, part C (issue #10): a TCP listener whose network plugins run in front of a
 * tcp_proxy to a recording TCP app (`listeners:`, `box.tcp()`, `box.tcpApps`), and a singleton wasm service
 * (`services:`) that drains a shared queue HTTP plugins fill. On every runtime.
 */
import test from 'ava';
import { stories, type Sandbox } from 'meshbox';

const story = await stories(test);

const networkWasm = 'fixtures/plugins/rust-network/rust-network.wasm';
const queueWasm = 'fixtures/plugins/rust-shared-queue/rust-shared-queue.wasm';

/** The endpoint of a cluster as Envoy connects to it (admin /clusters: `<cluster>::<host:port>::…`). */
async function endpointOf(box: Sandbox, cluster: string): Promise<string | undefined> {
	const text = await (await fetch(new URL('/clusters', box.adminUrl))).text();
	return new RegExp(`^${cluster}::([^:]+:\\d+)::`, 'm').exec(text)?.[1];
}

story('a network plugin on a TCP listener sees the connection, both directions and the closes; the bytes reach the app and come back', async (t, { sandbox }) => {
	const box = await sandbox({ listeners: { tcp: { kind: 'tcp', plugins: [{ name: 'net', wasm: networkWasm }] } } });
	const message = 'hello meshbox\nsecond line\n';

	const exchange = await box.tcp('tcp', message);
	t.is(exchange.received, message, 'the echo app sent every byte back through Envoy');
	t.is(exchange.closedBy, 'server', 'after the client\'s half-close the app closed, and Envoy closed the client\'s connection');

	await box.waitFor(async () => (await box.tcpApps.tcp!.connections())[0]?.closed !== undefined, 5000);
	const connections = await box.tcpApps.tcp!.connections();
	t.is(connections.length, 1);
	t.is(connections[0]!.received, message, 'the app received the client\'s bytes');
	t.is(connections[0]!.sent, message);
	t.is(connections[0]!.closedBy, 'client', 'Envoy passed the client\'s half-close on to the app');

	t.truthy(await box.waitForLog({ plugin: 'net', message: 'new connection' }, 5000));
	t.truthy(await box.waitForLog({ plugin: 'net', message: 'downstream data: hello meshbox' }, 5000));
	const upstreamData = await box.waitForLog({ plugin: 'net', message: /^upstream data: / }, 5000);
	t.is(upstreamData?.message, `upstream data: hello meshbox (upstream.address ${await endpointOf(box, 'meshbox_tcp_tcp')})`,
		'the plugin saw the app\'s answer, and upstream.address is the app endpoint Envoy connected to');
	t.truthy(await box.waitForLog({ plugin: 'net', message: `downstream closed after ${message.length} bytes` }, 5000));
	t.truthy(await box.waitForLog({ plugin: 'net', message: `upstream closed after ${message.length} bytes` }, 5000));
	t.is((await box.stats('tcp.tcp_tcp.')).counters.get('tcp.tcp_tcp.downstream_cx_total'), 1, 'tcp_proxy counted the connection');
	await t.throwsAsync(box.tcp('tpc', 'x'), { message: /no TCP listener named "tpc"/ });
});

story('a TCP app with a fixed reply that closes: the client reads the reply, the app recorded who closed', async (t, { sandbox }) => {
	const box = await sandbox({
		listeners: { greet: { plugins: [{ name: 'net', wasm: networkWasm }], app: { reply: 'HELLO FROM THE APP\n', close: true } } },
	});
	const exchange = await box.tcp('greet', 'hi\n', { end: false });
	t.is(exchange.received, 'HELLO FROM THE APP\n');
	t.is(exchange.closedBy, 'server');
	await box.waitFor(async () => (await box.tcpApps.greet!.connections())[0]?.closed !== undefined, 5000);
	const [connection] = await box.tcpApps.greet!.connections();
	t.is(connection?.received, 'hi\n');
	t.is(connection?.closedBy, 'app');
	t.truthy(await box.waitForLog({ plugin: 'net', message: /^upstream data: HELLO FROM THE APP / }, 5000));

	await box.tcpApps.greet!.clear();
	t.deepEqual(await box.tcpApps.greet!.connections(), []);
});

story('a singleton service receives on its tick what an HTTP plugin enqueued on a shared queue', async (t, { sandbox }) => {
	const box = await sandbox({
		plugins: [{ name: 'sender', wasm: queueWasm, vmId: 'sender', configuration: { role: 'sender', vm_id: 'receiver' } }],
		services: [{ name: 'drain', wasm: queueWasm, vmId: 'receiver', configuration: { role: 'receiver', tick_ms: 50 } }],
	});
	t.truthy(await box.waitForLog({ plugin: 'drain', message: 'registered queue meshbox_queue' }, 5000), 'the service\'s root context started with Envoy');

	const first = await box.request('/queued-1');
	const second = await box.request('/queued-2');
	t.is(first.headers['x-queue-enqueue'], 'Ok', 'the HTTP plugin found the service\'s queue by its vm_id');
	t.is(second.headers['x-queue-enqueue'], 'Ok');
	t.truthy(await box.waitForLog({ plugin: 'drain', message: 'dequeued: /queued-1' }, 5000));
	t.truthy(await box.waitForLog({ plugin: 'drain', message: 'dequeued: /queued-2' }, 5000));
	const drained = (await box.logs({ message: /^dequeued: / })).map(entry => `${entry.plugin ?? '?'} ${entry.context}`);
	t.deepEqual([...new Set(drained)], ['drain root'], 'the lines are the service\'s, from its root context');
});
