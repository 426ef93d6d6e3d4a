/**
 * YAML nested deeper than any configuration (issue #20, item 7): a located "nested too deeply" input error, in
 * meshbox.yaml and in Istio files (`meshbox check`), instead of the `yaml` package's stack overflow reported as
 * a syntax error ("Maximum call stack size exceeded … fix the YAML syntax").
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { modelFromFile } from '../../src/compose/model.ts';
import { maxNestingDepth } from '../../src/config/yaml-values.ts';
import { isMeshboxError } from '../../src/errors.ts';
import { runCli } from '../helpers/cli.ts';

let dir: string;
test.before(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-yaml-depth-'));
});
test.after.always(async () => {
	if (dir) {
		await rm(dir, { recursive: true, force: true });
	}
});

const seed = path.resolve('fixtures/plugins/seed-rust/seed-rust.wasm');

test('meshbox.yaml nested 20,000 deep: "nested too deeply (limit N)" at the place it goes too deep', async t => {
	const file = path.join(dir, 'deep.meshbox.yaml');
	// Line 3: `configuration: ` (col 5), then 20,000 `[`: the list that is one level too deep starts after the
	// document's own levels (the top map, plugins, its item, configuration's value: 4 levels).
	await writeFile(file, `plugins:\n  - wasm: ${seed}\n    configuration: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`);
	const error = await t.throwsAsync(modelFromFile(file));
	t.true(isMeshboxError(error) && error.code === 'CONFIG_INVALID', String(error));
	const col = '    configuration: '.length + 1 + (maxNestingDepth + 1 - 4);
	t.is(error?.message, `${file}:3:${col}: nested too deeply (limit ${maxNestingDepth} levels of maps and lists)`);
	t.notRegex(`${error?.message} ${isMeshboxError(error) ? error.hint : ''}`, /call stack|fix the YAML syntax/);
});

test('meshbox.yaml: block maps nested deeper than the limit are refused the same way; the limit itself passes', async t => {
	const nested = (levels: number) => Array.from({ length: levels }, (_, index) => `${'  '.repeat(index + 3)}k${index}:`).join('\n');
	const ok = path.join(dir, 'at-limit.meshbox.yaml');
	// The top map, plugins, its item: 3 levels; configuration's maps fill the rest up to the limit.
	await writeFile(ok, `plugins:\n  - wasm: ${seed}\n    configuration:\n${nested(maxNestingDepth - 3)} 1\n`);
	await t.notThrowsAsync(modelFromFile(ok));

	const deep = path.join(dir, 'block.meshbox.yaml');
	await writeFile(deep, `plugins:\n  - wasm: ${seed}\n    configuration:\n${nested(maxNestingDepth - 2)} 1\n`);
	await t.throwsAsync(modelFromFile(deep), { message: new RegExp(`block\\.meshbox\\.yaml:${3 + maxNestingDepth - 2}:\\d+: nested too deeply \\(limit ${maxNestingDepth}`) });
});

test('meshbox check: an Istio file nested 20,000 deep is an error with its line, exit 1, no stack trace', async t => {
	const file = path.join(dir, 'deep-istio.yaml');
	await writeFile(file, `apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: p, namespace: default}\nspec:\n  url: oci://r/x\n  pluginConfig: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}\n`);
	const result = await runCli(['check', file]);
	t.is(result.exitCode, 1, result.stderr);
	t.regex(result.stdout, new RegExp(`deep-istio\\.yaml:6:\\d+: error: .*nested too deeply \\(limit ${maxNestingDepth} levels of maps and lists\\)`));
	t.notRegex(`${result.stdout}${result.stderr}`, /call stack|bug in meshbox|at .*\.ts:\d+/);
});
