/**
 * The docker runtime runs the Envoy version a sandbox asks for: an image per version (the official
 * `envoyproxy/envoy:v<version>` when it can be had, else `meshbox/envoy:<version>`, built offline from that
 * version's binary once).
 */
import { startSandbox } from '../../src/index.ts';
import { resolveEnvoyVersion } from '../../src/envoy-binary/provision.ts';
import { runCli } from '../helpers/cli.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test('a docker sandbox asking for Envoy 1.36 runs 1.36.x from an image of that version', async t => {
	const box = await startSandbox({ runtime: 'docker', envoyVersion: '1.36', plugins: ['fixtures/plugins/seed-rust/seed-rust.wasm'] });
	t.teardown(async () => box.stop());
	const exact = await resolveEnvoyVersion('1.36');
	t.is(box.envoyVersion, exact, 'Envoy itself (its admin /server_info) says which version runs');
	t.is((await box.request('/hello')).body, 'Hello from Wasm!\n');

	const list = await runCli(['images', 'list']);
	t.regex(list.stdout, new RegExp(`^present {2}(envoyproxy/envoy:v|meshbox/envoy:)${exact.replaceAll('.', '\\.')}$`, 'm'), list.stdout);
});
