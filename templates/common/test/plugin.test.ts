/**
 * __NAME__'s story, told on real Envoy on every runtime meshbox selects (local; plus docker when a daemon
 * answers): the plugin answers every request itself, so the app behind Envoy never sees it.
 * `npm test` builds the plugin first. A failing story leaves its sandbox's bootstrap, config dump, stats and
 * logs under .meshbox/reports/ (the failure output names the directory).
 */
import test from 'ava';
import { assertLogged, assertShortCircuit, stories } from 'meshbox';

const plugin = { name: '__NAME__', wasm: '__WASM__', rootId: '__ROOT_ID__' };

// Before declaring anything: ava wants every test declared synchronously.
const story = await stories(test);

story('the plugin answers every request itself; the app never sees it', async (t, { sandbox }) => {
	const box = await sandbox({ plugins: [plugin] });
	const response = await box.request('/hello', { headers: { host: 'my-app.example.com' } });
	t.is(response.status, 200);
	t.is(response.headers['x-service-name'], 'my-custom-service');
	t.is(response.body, 'Hello from Wasm!\n');
	await assertShortCircuit(t, response, box);
	await assertLogged(t, box, { plugin: '__NAME__', level: 'info', message: 'Received request for: my-app.example.com /hello' });
});
