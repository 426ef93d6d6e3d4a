/**
 * Conformance: properties (fixtures/plugins/CONFORMANCE.md "properties"). The plugin reads request,
 * connection, plugin and node properties and answers them in response headers; `x-property: <path>` probes
 * any property (hex of its bytes, and the text when printable).
 */
import test from 'ava';
import type { Sandbox } from 'meshbox';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { sandboxFor } from './helpers.ts';

const node = { id: 'conformance-node', cluster: 'conformance-cluster', metadata: { meshbox_fixture: 'fixture-metadata' } };

async function probe(box: Sandbox, property: string): Promise<{ hex: string | undefined; value: string | undefined; sourceAddress: string | undefined }> {
	const response = await box.request('/probe', { headers: { 'x-property': property } });
	const header = (name: string) => {
		const value = response.headers[name];
		return Array.isArray(value) ? value.join(', ') : value;
	};

	return { hex: header('x-property-hex'), value: header('x-property-value'), sourceAddress: header('x-prop-source-address') };
}

/** An 8-byte little-endian integer from its lower-case hex. */
function littleEndian(hex: string | undefined): bigint | undefined {
	return hex && /^[\da-f]{16}$/.test(hex) ? Buffer.from(hex, 'hex').readBigUInt64LE() : undefined;
}

for (const sdk of sdksFor('properties')) {
	test(cell(sdk, 'properties', 'request, source, plugin and node properties in stream and root contexts'), async t => {
		// A dedicated Envoy: on a warm one the plugin's vm_id is its lease's own (`props_vm@<n>`), and this reads it.
		const box = await sandboxFor(t, { plugins: [{ name: 'props', wasm: fixtureFor(sdk, 'properties'), rootId: 'props_root', vmId: 'props_vm' }], node, fresh: true });
		const rootLine = 'root properties: plugin_name=props plugin_root_id=props_root plugin_vm_id=props_vm xds.node.id=conformance-node';
		t.true((await box.logs({ plugin: 'props', level: 'info', message: rootLine })).some(entry => entry.context === 'root' && entry.message === rootLine), 'the root context reads plugin and node properties');

		const response = await box.request('/p?q=1', { headers: { 'x-probe': 'probe-value' } });
		t.is(response.status, 200);
		t.is(response.headers['x-prop-request-path'], '/p?q=1', 'request.path includes the query');
		t.is(response.headers['x-prop-request-header'], 'probe-value', 'request.headers is a map');
		// :authority, :path, :method, :scheme, x-probe, x-meshbox-request-id (box.request's correlation header),
		// and x-forwarded-proto and x-request-id added by Envoy before the filters (hop-by-hop headers such as
		// connection are gone).
		t.is(response.headers['x-prop-request-header-count'], '8');
		t.regex(String(response.headers['x-prop-source-address']), new RegExp(`^${box.clientAddress.replaceAll('.', '\\.')}:\\d+$`));
		t.is(response.headers['x-prop-plugin-name'], 'props');
		t.is(response.headers['x-prop-plugin-root-id'], 'props_root');
		t.is(response.headers['x-prop-plugin-vm-id'], 'props_vm');
		t.is(response.headers['x-prop-node-id'], 'conformance-node');
		t.is(response.headers['x-prop-node-metadata'], 'fixture-metadata');
		t.is(response.body, 'Hello, world!\n');
	});

	test(cell(sdk, 'properties', 'probing properties by path: strings, integers, booleans, not found'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'props', wasm: fixtureFor(sdk, 'properties') }], node });
		t.like(await probe(box, 'request.method'), { hex: '474554', value: 'GET' });
		t.like(await probe(box, 'request.protocol'), { hex: Buffer.from('HTTP/1.1').toString('hex'), value: 'HTTP/1.1' });
		t.like(await probe(box, 'xds.node.cluster'), { value: 'conformance-cluster' });
		t.like(await probe(box, 'xds.node.metadata.meshbox_fixture'), { value: 'fixture-metadata' });
		t.like(await probe(box, 'connection.mtls'), { hex: '00', value: undefined }, 'a boolean: one byte, not printable');
		t.like(await probe(box, 'plugin_root_id'), { hex: '-', value: undefined }, 'no root_id: empty');
		t.like(await probe(box, 'node.id'), { hex: '-', value: undefined }, 'Envoy 1.40 does not resolve the deprecated top-level node');
		t.like(await probe(box, 'no.such.property'), { hex: '-', value: undefined });

		const port = await probe(box, 'source.port');
		t.is(port.value, undefined, 'an integer is not printable');
		t.is(littleEndian(port.hex), BigInt(port.sourceAddress?.split(':').at(-1) ?? -1), 'source.port: 8-byte little-endian, the port of source.address');

		const before = Date.now();
		const time = littleEndian((await probe(box, 'request.time')).hex);
		const after = Date.now();
		// Compared in whole milliseconds (Date.now's resolution); a second of slack before, for clock reads.
		const timeMs = time === undefined ? undefined : Number(time / 1_000_000n);
		t.true(timeMs !== undefined && timeMs >= before - 1000 && timeMs <= after, `request.time: 8-byte little-endian nanoseconds since the epoch (${time}; requested between ${before} and ${after} ms)`);

		const header = await box.request('/probe', { headers: { 'x-property': 'request.headers.x-probe', 'x-probe': 'via-path' } });
		t.is(header.headers['x-property-value'], 'via-path', 'a map entry by path');
		t.is(header.headers['x-prop-request-header-count'], '9', 'one more header (x-property) than a plain request');
	});
}
