/**
 * The runtime matrix as scenarios use it: the same test on every runtime scenarioRuntimes() returns. Here:
 * what a plugin reads from Envoy's properties is the same on both, once the client address is taken from
 * the sandbox (Docker forwards published ports from the network's gateway, not from 127.0.0.1).
 */
import anyTest from 'ava';
import { scenarioRuntimes, startSandbox } from '../../src/index.ts';
import { fixturePlugin } from '../helpers/paths.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

const runtimes = await scenarioRuntimes();

test('with a daemon, scenarios run on local and docker', t => {
	t.deepEqual(runtimes, ['local', 'docker']);
});

// As a scenario file does it: plain ava `test`, one per runtime.
for (const runtime of runtimes) {
	anyTest(`[${runtime}] a plugin reads the request, its own identity and the client address`, async t => {
		const box = await startSandbox({ runtime, plugins: [{ name: 'props', wasm: fixturePlugin('rust-properties') }] });
		try {
			const response = await box.request('/probe?x=1', { headers: { 'x-probe': 'p' } });
			t.is(response.status, 200);
			t.is(response.headers['x-prop-request-path'], '/probe?x=1');
			t.is(response.headers['x-prop-request-header'], 'p');
			t.is(response.headers['x-prop-plugin-name'], 'props');
			t.is(response.headers['x-prop-node-id'], 'meshbox');
			t.regex(String(response.headers['x-prop-source-address']), new RegExp(`^${box.clientAddress.replaceAll('.', '\\.')}:\\d+$`));
			t.is(box.clientAddress === '127.0.0.1', runtime === 'local');
		} finally {
			await box.stop();
		}
	});
}
