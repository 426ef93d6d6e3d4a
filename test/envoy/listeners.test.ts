/**
 * TCP listeners and singleton services (src/config/listeners.ts, src/envoy/listeners.ts): the spec's checks
 * with file:line:col, what Envoy is given (static and over xDS), the recording TCP app and the TCP client.
 * The same on real Envoy: scenarios/envoy-around-tcp.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { modelFromFile, modelFromSpec } from '../../src/compose/model.ts';
import type { SandboxSpec } from '../../src/compose/spec.ts';
import { wasmModulesOf } from '../../src/config/listeners.ts';
import { buildBootstrap, buildResources, type JsonObject, type Placement } from '../../src/envoy/bootstrap.ts';
import { provisionEnvoy } from '../../src/envoy-binary/provision.ts';
import { renderBootstrapYaml } from '../../src/envoy/render.ts';
import { validateBootstrap } from '../../src/envoy-binary/validate.ts';
import { MeshboxError } from '../../src/errors.ts';
import { tcpExchange } from '../../src/scenario/tcp-client.ts';
import { RecordingTcpApp } from '../../src/upstream/tcp-app.ts';
import { fixturePlugin, repoRoot, seedWasm } from '../helpers/paths.ts';
import { testPlacement } from '../helpers/placement.ts';

const networkWasm = fixturePlugin('rust-network');
const queueWasm = fixturePlugin('rust-shared-queue');

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-listeners-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

const placement: Placement = {
	...testPlacement,
	tcpApp: name => ({ address: '127.0.0.1', port: name === 'tcp' ? 7001 : 7002 }),
};

const spec: SandboxSpec = {
	plugins: [{ name: 'sender', wasm: queueWasm, vmId: 'sender', configuration: { role: 'sender', vm_id: 'receiver' } }],
	listeners: { tcp: { kind: 'tcp', port: 0, plugins: [{ name: 'net-a', wasm: networkWasm }, { name: 'net-b', wasm: networkWasm, configuration: 'b' }] } },
	services: [{ name: 'drain', wasm: queueWasm, vmId: 'receiver', configuration: { role: 'receiver' } }],
};

type Filter = { name: string; typed_config?: { '@type': string; cluster?: string; config?: JsonObject }; config_discovery?: { type_urls: string[] } };
type Listener = { name: string; address: JsonObject; filter_chains: Array<{ filters: Filter[] }> };

async function fileError(name: string, text: string): Promise<MeshboxError | undefined> {
	const file = path.join(scratch, name);
	await writeFile(file, text);
	return errorOf(async () => modelFromFile(file));
}

async function errorOf(run: () => Promise<unknown>): Promise<MeshboxError | undefined> {
	try {
		await run();
		return undefined;
	} catch (error) {
		return error as MeshboxError;
	}
}

test('a TCP listener is its network plugins in order, then tcp_proxy to its app\'s cluster; services are singleton bootstrap extensions', async t => {
	const model = await modelFromSpec(spec, { baseDir: repoRoot });
	const bootstrap = buildBootstrap(model, placement);
	const resources = bootstrap.static_resources as { listeners: Listener[]; clusters: Array<{ name: string; load_assignment: JsonObject }> };
	const tcp = resources.listeners.find(listener => listener.name === 'tcp');
	t.truthy(tcp, 'the TCP listener is beside the HTTP one');
	t.deepEqual(tcp!.address, { socket_address: { address: '127.0.0.1', port_value: 0 } });
	const filters = tcp!.filter_chains[0]!.filters;
	t.deepEqual(filters.map(filter => filter.name), ['net-a', 'net-b', 'envoy.filters.network.tcp_proxy']);
	t.is(filters[0]!.typed_config?.['@type'], 'type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm');
	t.like(filters[1]!.typed_config?.config, { name: 'net-b', configuration: { value: 'b' } });
	t.is(filters[2]!.typed_config?.cluster, 'meshbox_tcp_tcp');
	const cluster = resources.clusters.find(entry => entry.name === 'meshbox_tcp_tcp');
	t.deepEqual(cluster?.load_assignment, { cluster_name: 'meshbox_tcp_tcp', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 7001 } } } }] }] });

	const extensions = bootstrap.bootstrap_extensions as Array<{ name: string; typed_config: { '@type': string; singleton: boolean; config: JsonObject } }>;
	t.is(extensions.length, 1);
	t.is(extensions[0]!.name, 'envoy.bootstrap.wasm');
	t.is(extensions[0]!.typed_config['@type'], 'type.googleapis.com/envoy.extensions.wasm.v3.WasmService');
	t.true(extensions[0]!.typed_config.singleton);
	t.like(extensions[0]!.typed_config.config, { name: 'drain', vm_config: { vm_id: 'receiver' }, configuration: { value: '{"role":"receiver"}' } });
	t.deepEqual(wasmModulesOf(model).map(plugin => plugin.name), ['sender', 'net-a', 'net-b', 'drain'], 'every module is staged and gets its log lines');
});

test('over xDS, network plugins are ECDS extension configs like HTTP plugins', async t => {
	const model = await modelFromSpec(spec, { baseDir: repoRoot });
	const resources = buildResources(model, placement, { ecds: true });
	const tcp = resources.listeners.find(listener => listener.name === 'tcp') as Listener | undefined;
	const filters = tcp!.filter_chains[0]!.filters;
	t.deepEqual(filters[0]!.config_discovery?.type_urls, ['type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm', 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC']);
	t.is(filters[0]!.typed_config, undefined);
	t.deepEqual(resources.extensionConfigs.map(config => config.name), ['sender', 'net-a', 'net-b']);
});

test('real Envoy accepts the TCP listener and the singleton service (it loads every module)', async t => {
	const envoy = await provisionEnvoy();
	const result = await validateBootstrap(envoy.path, renderBootstrapYaml(buildBootstrap(await modelFromSpec(spec, { baseDir: repoRoot }), placement)));
	t.true(result.ok, result.output);
});

test('listeners: and services: errors name file:line:col and the field', async t => {
	const wasm = path.relative(scratch, networkWasm);
	const kind = await fileError('kind.yaml', `listeners:\n  tcp:\n    kind: udp\n`);
	t.regex(kind?.message ?? '', /kind\.yaml:3:5: listeners\.tcp\.kind: expected one of tcp, found the string "udp"/);

	const typo = await fileError('typo.yaml', `listeners:\n  tcp:\n    plugin: [${wasm}]\n`);
	t.regex(typo?.message ?? '', /typo\.yaml:3:5: listeners\.tcp\.plugin: unknown field/);
	t.regex(typo?.hint ?? '', /did you mean "plugins"/);

	const twice = await fileError('twice.yaml', `plugins:\n  - { name: net, wasm: ${path.relative(scratch, seedWasm)} }\nservices:\n  - { name: net, wasm: ${wasm} }\n`);
	t.regex(twice?.message ?? '', /twice\.yaml:4:5: services\[0\]: the name "net" is used twice \(also in plugins\)/);

	const close = await fileError('close.yaml', `listeners:\n  tcp:\n    app: { close: true }\n`);
	t.regex(close?.message ?? '', /close\.yaml:3:\d+: listeners\.tcp\.app\.close: `close` needs `reply`/);

	const reserved = await fileError('reserved.yaml', `listeners:\n  meshbox_listener: {}\n`);
	t.regex(reserved?.message ?? '', /reserved\.yaml:2:3: listeners\.meshbox_listener: "meshbox_listener" is the name of the sandbox's HTTP listener/);

	const missing = await fileError('missing.yaml', `services:\n  - gone.wasm\n`);
	t.regex(missing?.message ?? '', /missing\.yaml:2:\d+: plugin "gone": wasm file not found/);

	const build = await fileError('build.yaml', `services:\n  - { wasm: ${wasm}, build: make }\n`);
	t.regex(build?.message ?? '', /build\.yaml:2:\d+: services\[0\]\.build: `build` is not supported for services/);
});

test('the recording TCP app echoes and records both directions, open, close and who closed', async t => {
	const app = await RecordingTcpApp.start({ host: '127.0.0.1', answer: { mode: 'echo' } });
	t.teardown(async () => app.stop());
	const exchange = await tcpExchange({ address: '127.0.0.1', port: app.address.port }, 'ping\npong\n');
	t.deepEqual(exchange, { received: 'ping\npong\n', receivedBytes: 10, closedBy: 'server' });
	const [connection] = await app.connections();
	t.like(connection, { id: 1, received: 'ping\npong\n', receivedBytes: 10, sent: 'ping\npong\n', sentBytes: 10, closedBy: 'client' });
	t.true(connection!.closed! >= connection!.opened);
	await app.clear();
	t.deepEqual(await app.connections(), []);
});

test('a TCP app with a fixed reply sends it once and, with close, closes first', async t => {
	const app = await RecordingTcpApp.start({ host: '127.0.0.1', answer: { mode: 'reply', reply: 'HELLO\n', close: true } });
	t.teardown(async () => app.stop());
	const exchange = await tcpExchange({ address: '127.0.0.1', port: app.address.port }, 'hi', { end: false });
	t.deepEqual(exchange, { received: 'HELLO\n', receivedBytes: 6, closedBy: 'server' });
	const [connection] = await app.connections();
	t.like(connection, { received: 'hi', sent: 'HELLO\n', closedBy: 'app' });
});

test('box.tcp(): `until` ends the exchange on the client side; a silent server is a TCP_FAILED error with what arrived', async t => {
	const sockets = new Set<net.Socket>();
	const server = net.createServer(socket => {
		sockets.add(socket);
		socket.write('partial');
	});
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	t.teardown(() => {
		for (const socket of sockets) {
			socket.destroy();
		}

		server.close();
	});
	const port = (server.address() as net.AddressInfo).port;
	t.deepEqual(await tcpExchange({ address: '127.0.0.1', port }, 'x', { end: false, until: 'part' }), { received: 'partial', receivedBytes: 7, closedBy: 'client' });
	const error = await t.throwsAsync(tcpExchange({ address: '127.0.0.1', port }, 'x', { end: false, timeoutMs: 300 }));
	t.is((error as MeshboxError).code, 'TCP_FAILED');
	t.regex(error?.message ?? '', /no close within 300 ms/);
	t.regex((error as MeshboxError).details?.join('\n') ?? '', /received so far \(7 bytes\): "partial"/);
});
