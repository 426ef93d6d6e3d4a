import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { modelFromFile, modelFromSpec } from '../../src/compose/model.ts';
import { MeshboxError } from '../../src/errors.ts';
import { repoRoot, seedWasm } from '../helpers/paths.ts';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-config-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

async function configFile(name: string, text: string): Promise<string> {
	const file = path.join(scratch, name);
	await writeFile(file, text);
	return file;
}

test('the repository\'s meshbox.yaml is the seed plugin, named my-wasm-plugin, with Envoy\'s defaults', async t => {
	const model = await modelFromFile(path.join(repoRoot, 'meshbox.yaml'));
	t.is(model.plugins.length, 1);
	t.like(model.plugins[0], { name: 'my-wasm-plugin', rootId: '', vmId: '', wasmPath: seedWasm, failOpen: false, configuration: undefined });
	t.deepEqual(model.envoy, { logLevel: 'info', componentLogLevels: { wasm: 'debug' }, concurrency: 1 });
	t.is(model.port, 0);
});

test('plugin paths in a config file are relative to that file', async t => {
	const file = await configFile('relative.yaml', `plugins:\n  - ${path.relative(scratch, seedWasm)}\n`);
	const model = await modelFromFile(file);
	t.is(model.plugins[0]?.wasmPath, seedWasm);
	t.is(model.plugins[0]?.name, 'seed-rust', 'the name defaults to the file\'s base name');
});

test('configuration: a string is passed as it is, anything else as JSON', async t => {
	const model = await modelFromSpec({
		plugins: [
			{ name: 'a', wasm: seedWasm, configuration: 'plain text', vmConfiguration: { vm: true } },
			{ name: 'b', wasm: seedWasm, configuration: { header: 'x-a', list: [1, 2] } },
		],
	}, { baseDir: repoRoot });
	t.is(model.plugins[0]?.configuration, 'plain text');
	t.is(model.plugins[0]?.vmConfiguration, '{"vm":true}');
	t.is(model.plugins[1]?.configuration, '{"header":"x-a","list":[1,2]}');
});

test('an unknown field names file, line, column and the closest valid field', async t => {
	const file = await configFile('typo.yaml', `plugins:\n  - name: a\n    wasm: ${seedWasm}\n    failopen: true\n`);
	const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
	t.is(error?.code, 'CONFIG_INVALID');
	t.regex(error?.message ?? '', /typo\.yaml:4:5: plugins\[0\]\.failopen: unknown field/);
	t.regex(error?.hint ?? '', /did you mean "failOpen"\?/);
});

test('a wrong type names the field and what was found', async t => {
	const file = await configFile('type.yaml', `port: "ten thousand"\nplugins: []\n`);
	const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
	t.regex(error?.message ?? '', /type\.yaml:1:1: port: expected a port number from 0 to 65535 \(0 = any free port\), found the string "ten thousand"/);
});

test('a wrong log level suggests the right spelling', async t => {
	const file = await configFile('level.yaml', 'envoy:\n  componentLogLevels:\n    wasm: warn\n');
	const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
	t.regex(error?.message ?? '', /level\.yaml:3:5: envoy\.componentLogLevels\.wasm: expected one of trace, debug, info, warning/);
	t.regex(error?.hint ?? '', /did you mean "warning"\?/);
});

test('YAML syntax errors point at the line', async t => {
	const file = await configFile('syntax.yaml', 'plugins:\n  - name: a\n  name: b\n    wasm: x\n');
	const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
	t.is(error?.code, 'CONFIG_INVALID');
	t.regex(error?.message ?? '', /syntax\.yaml:\d+:\d+: /);
});

test('two plugins with one name are refused', async t => {
	const error = await t.throwsAsync(modelFromSpec({ plugins: [{ name: 'a', wasm: seedWasm }, { name: 'a', wasm: seedWasm }] }, { baseDir: repoRoot }), { instanceOf: MeshboxError });
	t.regex(error?.message ?? '', /plugins\[1\]: plugin name "a" is used twice/);
});

test('a plugin name with a space is refused (it would break log attribution)', async t => {
	const error = await t.throwsAsync(modelFromSpec({ plugins: [{ name: 'my plugin', wasm: seedWasm }] }, { baseDir: repoRoot }), { instanceOf: MeshboxError });
	t.regex(error?.message ?? '', /plugins\[0\]\.name: "my plugin" is not a usable plugin name/);
});

test('an environment variable given in env and hostEnv is refused, as Envoy would', async t => {
	const error = await t.throwsAsync(modelFromSpec({ plugins: [{ wasm: seedWasm, env: { HOME: '/x' }, hostEnv: ['HOME'] }] }, { baseDir: repoRoot }), { instanceOf: MeshboxError });
	t.regex(error?.message ?? '', /environment variable HOME is given twice/);
});

test('a missing config file says how to proceed', async t => {
	const error = await t.throwsAsync(modelFromFile(path.join(scratch, 'absent.yaml')), { instanceOf: MeshboxError });
	t.is(error?.code, 'CONFIG_NOT_FOUND');
	t.regex(error?.hint ?? '', /--config FILE|--plugin/);
});

test('a missing wasm file in a config file is reported with the plugin\'s name', async t => {
	const file = await configFile('missing.yaml', 'plugins:\n  - name: gone\n    wasm: ./gone.wasm\n');
	const error = await t.throwsAsync(modelFromFile(file), { instanceOf: MeshboxError });
	t.is(error?.code, 'PLUGIN_NOT_FOUND');
	t.regex(error?.message ?? '', /missing\.yaml:3:5: plugin "gone": wasm file not found: .*gone\.wasm/);
});

test('a port the file leaves unset takes the caller\'s default (meshbox up: 10000); `port: 0` stays "any free port"', async t => {
	const unset = await configFile('port-unset.yaml', `plugins: [${seedWasm}]\n`);
	const zero = await configFile('port-zero.yaml', `port: 0\nplugins: [${seedWasm}]\n`);
	t.is((await modelFromFile(unset, { defaults: { port: 10_000 } })).port, 10_000);
	t.is((await modelFromFile(zero, { defaults: { port: 10_000 } })).port, 0);
	t.is((await modelFromFile(zero, { overrides: { port: 8000 }, defaults: { port: 10_000 } })).port, 8000, 'a --port override wins');
	t.is((await modelFromFile(unset)).port, 0, 'without a default (scenarios): any free port');
});

test('plugins from the command line: errors name the flag, not the config file', async t => {
	const file = await configFile('flags.yaml', 'plugins: []\n');
	const duplicate = await t.throwsAsync(modelFromFile(file, { overrides: { plugins: [
		{ wasm: seedWasm, source: '--plugin #1 (a/main.wasm)' },
		{ wasm: seedWasm, source: '--plugin #2 (b/main.wasm)' },
	] } }), { instanceOf: MeshboxError });
	t.is(duplicate?.code, 'USAGE');
	t.is(duplicate?.message, '--plugin #2 (b/main.wasm): plugin name "seed-rust" is used twice (also --plugin #1 (a/main.wasm))');
	const named = await modelFromFile(file, { overrides: { plugins: [{ name: 'one', wasm: seedWasm, source: '--plugin #1' }, { name: 'two', wasm: seedWasm, source: '--plugin #2' }] } });
	t.deepEqual(named.plugins.map(plugin => plugin.name), ['one', 'two']);
});
