/**
 * `meshbox up --watch`: a plugin author's edit → build → try loop against one running Envoy. The build is
 * a real command (a small node script standing in for cargo/go/asc, so the test needs no SDK toolchain); what
 * is under test is meshbox: the watching, the build, the xDS push and what it prints.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { RunningCli } from '../helpers/cli.ts';
import { fixturePlugin, seedWasm, strictConfigWasm } from '../helpers/paths.ts';

// The "build": copies the module that src/module.txt names to out/plugin.wasm; `fail` fails like a compiler.
const buildScript = `
import { copyFileSync, readFileSync } from 'node:fs';
const source = readFileSync('src/module.txt', 'utf8').trim();
if (source === 'fail') { console.error('error[E0425]: cannot find value \\'x\\' in this scope'); process.exit(101); }
copyFileSync(source, 'out/plugin.wasm');
console.log('built');
`;

async function get(url: string): Promise<{ status: number; chain: string | null; body: string }> {
	const response = await fetch(url, { headers: { host: 'my-app.example.com' } });
	return { status: response.status, chain: response.headers.get('x-chain'), body: await response.text() };
}

test('up --watch: a source change rebuilds and reloads the plugin in the same Envoy; a failed build or a refused module keeps the last good one', async t => {
	const project = await mkdtemp(path.join(os.tmpdir(), 'meshbox-watch-test-'));
	t.teardown(async () => rm(project, { recursive: true, force: true }));
	await mkdir(path.join(project, 'src'));
	await mkdir(path.join(project, 'out'));
	await writeFile(path.join(project, 'build.mjs'), buildScript);
	await writeFile(path.join(project, 'src', 'module.txt'), seedWasm);
	await copyFile(seedWasm, path.join(project, 'out', 'plugin.wasm'));
	const config = path.join(project, 'meshbox.yaml');
	await writeFile(config, [
		'port: 0',
		'plugins:',
		'  - name: app',
		'    wasm: out/plugin.wasm',
		'    build: { command: [node, build.mjs], watch: [src] }',
		'',
	].join('\n'));

	const cli = RunningCli.start(['up', '--watch', '--config', config]);
	t.teardown(async () => {
		await cli.stop();
	});
	const [, url] = await cli.waitForLine(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/);
	const [, admin] = await cli.waitForLine(/admin on (http:\/\/127\.0\.0\.1:\d+)/);
	await cli.waitForLine(/watching the plugins' \.wasm files and the sources of app/);
	t.is((await get(`${url}/one`)).body, 'Hello from Wasm!\n', 'the seed answers first');

	// Edit a source file: the build runs, the new module is pushed.
	await writeFile(path.join(project, 'src', 'module.txt'), fixturePlugin('rust-headers'));
	await cli.waitForLine(/^building app: node build\.mjs$/);
	await cli.waitForLine(/^reloaded app \(sha256 [\da-f]{12}…\) in \d+ ms$/);
	const rebuilt = await get(`${url}/two`);
	t.is(rebuilt.chain, 'app', 'the headers plugin answers now');
	t.is(rebuilt.body, 'Hello, world!\n');

	// A build that fails: reported with the compiler's output; the last good module keeps serving.
	await writeFile(path.join(project, 'src', 'module.txt'), 'fail');
	await cli.waitForLine(/^build failed for app \(exit status 101\); the last good module keeps serving$/);
	await cli.waitForLine(/error\[E0425\]: cannot find value/);
	t.is((await get(`${url}/three`)).chain, 'app');

	// A module Envoy refuses (its on_configure wants a configuration): Envoy's reason; the old module serves on.
	await copyFile(strictConfigWasm, path.join(project, 'out', 'plugin.wasm'));
	await cli.waitForLine(/Envoy rejected the update: Unable to create Wasm plugin app/);
	t.is((await get(`${url}/four`)).chain, 'app');

	// One Envoy all along: its request counter saw every request.
	const stats = await (await fetch(`${admin}/stats?filter=^http\\.ingress_http\\.downstream_rq_total$`)).text();
	t.regex(stats, /downstream_rq_total: 4/);
	t.is(await cli.stop(), 0);
});

test('up --watch on an Istio sidecar: editing the WasmPlugin file re-runs istiod\'s translation and pushes it to the same Envoy', async t => {
	const project = await mkdtemp(path.join(os.tmpdir(), 'meshbox-watch-istio-'));
	t.teardown(async () => rm(project, { recursive: true, force: true }));
	const wasmPlugins = path.join(project, 'wasmplugins.yaml');
	const plugin = (value: string) => [
		'apiVersion: extensions.istio.io/v1alpha1',
		'kind: WasmPlugin',
		'metadata: { name: tagger, namespace: default }',
		'spec:',
		`  url: file://${strictConfigWasm}`,
		`  pluginConfig: ${value}`,
		'',
	].join('\n');
	await writeFile(wasmPlugins, plugin('{ header: x-tag, value: one }'));
	const config = path.join(project, 'meshbox.yaml');
	await writeFile(config, ['port: 0', 'workload: { name: my-app, labels: { app: my-app } }', 'istio: [wasmplugins.yaml]', ''].join('\n'));

	const cli = RunningCli.start(['up', '--watch', '--config', config]);
	t.teardown(async () => {
		await cli.stop();
	});
	const [, url] = await cli.waitForLine(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/);
	const tag = async () => (await fetch(url!)).headers.get('x-tag');
	t.is(await tag(), 'one');

	await writeFile(wasmPlugins, plugin('{ header: x-tag, value: two }'));
	await cli.waitForLine(/reloaded config version \d+ in \d+ ms \(wasmplugins\.yaml changed\)/);
	t.is(await tag(), 'two');

	// A pluginConfig the plugin refuses: Envoy NACKs the ECDS update and the last good config keeps serving.
	await writeFile(wasmPlugins, plugin('{ header: "" }'));
	await cli.waitForLine(/Envoy rejected the update: .*tagger/);
	t.is(await tag(), 'two');
	t.is(await cli.stop(), 0);
});
