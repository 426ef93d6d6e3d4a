/**
 * A plugin's http_call to a scenario's mock service works on the docker runtime too: the mock listens on
 * this machine's loopback and Envoy in its container reaches it through meshbox's relay, which serves the
 * sandbox's containers and nobody else.
 */
import net from 'node:net';
import { mockService, startSandbox } from '../../src/index.ts';
import { fixturePlugin } from '../helpers/paths.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test('http_call from the Envoy container reaches a loopback mock service', async t => {
	const box = await startSandbox({
		runtime: 'docker',
		plugins: [{ name: 'caller', wasm: fixturePlugin('rust-http-call'), configuration: 'auth' }],
		clusters: { auth: mockService(request => ({ status: 200, headers: { 'x-mock-reply': 'yes' }, body: `seen ${request.path}` })) },
	});
	try {
		const response = await box.request('/app', { headers: { 'x-http-call-path': '/check' } });
		t.is(response.status, 200, response.body);
		t.is(response.headers['x-http-call-status'], '200');
		t.is(response.headers['x-http-call-body'], 'seen /check');
		t.is(response.headers['x-http-call-mock-reply'], 'yes');
		const [call] = await box.mocks.auth!.requests();
		t.is(call?.path, '/check');
		t.is(call?.headers['x-wasm-http-call'], '1');
		const [appRequest] = await box.upstream.requests();
		t.is(appRequest?.headers['x-http-call-status'], '200', 'the plugin resumed the request to the app');
	} finally {
		await box.stop();
	}
});

type ConfigDumpCluster = { name: string; load_assignment?: { endpoints?: Array<{ lb_endpoints?: Array<{ endpoint?: { address?: { socket_address?: { address: string; port_value: number } } } }> }> } };
type ClustersDump = { configs: Array<{ '@type': string; dynamic_active_clusters?: Array<{ cluster: ConfigDumpCluster }> }> };

/** Where Envoy in the container reaches `cluster` (as Envoy runs it: admin /config_dump): the relay on the sandbox network's gateway. */
async function relayAddress(box: { adminUrl: string }, cluster: string): Promise<{ address: string; port_value: number }> {
	const dump = await (await fetch(`${box.adminUrl}/config_dump?resource=dynamic_active_clusters`)).json() as ClustersDump;
	const clusters = dump.configs.map(entry => (entry as unknown as { cluster: ConfigDumpCluster }).cluster ?? entry);
	const socket = (clusters as ConfigDumpCluster[]).find(entry => entry.name === cluster)?.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
	if (!socket) {
		throw new Error(`no address for cluster ${cluster} in Envoy's config dump`);
	}

	return socket;
}

/** Sends a plain HTTP request on a raw connection; resolves with whatever came back once the connection ends. */
async function rawRequest(host: string, port: number, path: string): Promise<{ reply: string; closedBy: 'end' | 'reset' | 'timeout' }> {
	return new Promise(resolve => {
		const socket = net.connect({ host, port });
		let reply = '';
		const done = (closedBy: 'end' | 'reset' | 'timeout') => {
			socket.destroy();
			resolve({ reply, closedBy });
		};

		socket.setTimeout(10_000, () => {
			done('timeout');
		});
		socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nhost: relay\r\nconnection: close\r\n\r\n`));
		socket.on('data', chunk => {
			reply += chunk.toString('latin1');
		});
		socket.on('end', () => {
			done('end');
		});
		socket.on('error', () => {
			done('reset');
		});
	});
}

test('the relay serves only the sandbox\'s containers: a connection from this machine is closed before it reaches the mock', async t => {
	const box = await startSandbox({
		runtime: 'docker',
		plugins: [{ name: 'caller', wasm: fixturePlugin('rust-http-call'), configuration: 'auth' }],
		clusters: { auth: mockService({ status: 200, body: 'secret' }) },
	});
	try {
		const relay = await relayAddress(box, 'auth');
		t.is(relay.address, box.clientAddress, 'the relay listens on the network\'s gateway');
		// From this machine, the source address is the gateway itself: not one of the sandbox's containers.
		const direct = await rawRequest(relay.address, relay.port_value, '/from-the-host');
		t.not(direct.closedBy, 'timeout');
		t.is(direct.reply, '', 'nothing answered');
		t.is(await box.mocks.auth!.hits(), 0, 'the mock never saw the connection');

		const response = await box.request('/app', { headers: { 'x-http-call-path': '/from-envoy' } });
		t.is(response.headers['x-http-call-status'], '200', 'Envoy in its container still reaches the mock');
		t.deepEqual((await box.mocks.auth!.requests()).map(request => request.path), ['/from-envoy']);
	} finally {
		await box.stop();
	}
});
