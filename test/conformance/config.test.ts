/**
 * Conformance: config (fixtures/plugins/CONFORMANCE.md "config"). The plugin reports its VM configuration,
 * plugin configuration and environment in response headers; a plugin configuration that is not a JSON
 * object makes on_configure return false, and Envoy refuses to start.
 */
import test from 'ava';
import { MeshboxError, startSandbox } from 'meshbox';
import { cell, fixtureFor, sdksFor } from '../../scripts/conformance-matrix.ts';
import { sandboxFor, withSandboxSlot } from './helpers.ts';

// Passed to the VM by name (`hostEnv`), read by the fixture's default variable name. Each test file runs in
// its own process, so setting it here affects no other test.
process.env.MESHBOX_GREETING = 'hello from the host';

for (const sdk of sdksFor('config')) {
	test(cell(sdk, 'config', 'VM configuration, JSON plugin configuration and environment variables'), async t => {
		const configuration = { header: 'x-from-config', value: 'v', env: 'GREETING' };
		const box = await sandboxFor(t, { plugins: [{ name: 'cfg', wasm: fixtureFor(sdk, 'config'), vmConfiguration: 'vmc', configuration, env: { GREETING: 'hi' } }] });
		const response = await box.request('/');
		t.is(response.status, 200);
		t.is(response.headers['x-vm-config'], 'vmc');
		t.is(response.headers['x-plugin-config'], '{"header":"x-from-config","value":"v","env":"GREETING"}');
		t.is(response.headers['x-from-config'], 'v');
		t.is(response.headers['x-env'], 'hi');
		t.is(response.headers['x-env-count'], '1');
		t.true((await box.logs({ level: 'info', message: 'vm configuration: vmc' })).length >= 1, 'on_vm_start logged the VM configuration');
		t.true((await box.logs({ level: 'info', message: `plugin configuration: ${JSON.stringify(configuration)}` })).length >= 1, 'on_configure logged the plugin configuration');
	});

	test(cell(sdk, 'config', 'defaults: no value, the MESHBOX_GREETING variable'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'cfg', wasm: fixtureFor(sdk, 'config'), configuration: { header: 'x-defaulted' }, hostEnv: ['MESHBOX_GREETING'], env: { OTHER: 'x' } }] });
		const response = await box.request('/');
		t.is(response.status, 200);
		t.is(response.headers['x-vm-config'], '<none>');
		t.is(response.headers['x-plugin-config'], '{"header":"x-defaulted"}');
		t.is(response.headers['x-defaulted'], '', 'value defaults to empty');
		t.is(response.headers['x-env'], 'hello from the host', 'env defaults to MESHBOX_GREETING, passed from the host');
		t.is(response.headers['x-env-count'], '2');
		t.true((await box.logs({ level: 'info', message: 'vm configuration: <none>' })).length >= 1);
	});

	test(cell(sdk, 'config', 'nothing configured'), async t => {
		const box = await sandboxFor(t, { plugins: [{ name: 'cfg', wasm: fixtureFor(sdk, 'config') }] });
		const response = await box.request('/');
		t.is(response.status, 200);
		t.is(response.headers['x-vm-config'], '<none>');
		t.is(response.headers['x-plugin-config'], '<none>');
		t.is(response.headers['x-env'], '<unset>');
		t.is(response.headers['x-env-count'], '0');
		t.true((await box.logs({ level: 'info', message: 'plugin configuration: <none>' })).length >= 1);
	});

	test(cell(sdk, 'config', 'a configuration that is not a JSON object: Envoy refuses to start'), async t => {
		for (const configuration of ['not json', '["a"]']) {
			const error = await withSandboxSlot(async () => t.throwsAsync(startSandbox({ plugins: [{ name: 'cfg', wasm: fixtureFor(sdk, 'config'), configuration }] }), { instanceOf: MeshboxError }, configuration));
			t.is(error?.code, 'ENVOY_REJECTED_CONFIG', error?.describe());
			t.true(error?.message.includes(`invalid plugin configuration: ${configuration}`), error?.describe());
		}
	});
}
