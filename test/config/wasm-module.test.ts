import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { inspectWasmBytes, inspectWasmFile } from '../../src/config/wasm-module.ts';
import { MeshboxError } from '../../src/errors.ts';
import { seedWasm } from '../helpers/paths.ts';
import { moduleExporting } from '../helpers/wasm-bytes.ts';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-wasm-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

async function scratchFile(name: string, content: Uint8Array | string): Promise<string> {
	const file = path.join(scratch, name);
	await writeFile(file, content);
	return file;
}

test('the seed plugin declares proxy-wasm ABI 0.2.1 and exports the allocator', async t => {
	const info = await inspectWasmFile(seedWasm, 'plugin "seed"');
	t.is(info.abiVersion, '0.2.1');
	t.true(info.exports.includes('malloc'));
	t.true(info.exports.includes('proxy_on_request_headers'));
	t.true(info.imports.includes('env.proxy_log'));
});

test('a missing file is named, with what to do', async t => {
	const error = await t.throwsAsync(inspectWasmFile(path.join(scratch, 'nope.wasm'), 'plugin "p"'), { instanceOf: MeshboxError });
	t.is(error?.code, 'PLUGIN_NOT_FOUND');
	t.regex(error?.message ?? '', /plugin "p": wasm file not found: .*nope\.wasm/);
	t.truthy(error?.hint);
});

test('an empty file says it is empty', async t => {
	const file = await scratchFile('empty.wasm', '');
	const error = await t.throwsAsync(inspectWasmFile(file, 'plugin "p"'), { instanceOf: MeshboxError });
	t.is(error?.code, 'PLUGIN_EMPTY');
	t.regex(error?.message ?? '', /empty \(0 bytes\)/);
});

test('a file that is not wasm shows the bytes it starts with', async t => {
	const file = await scratchFile('elf.wasm', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]));
	const error = await t.throwsAsync(inspectWasmFile(file, 'plugin "p"'), { instanceOf: MeshboxError });
	t.is(error?.code, 'PLUGIN_NOT_WASM');
	t.regex(error?.message ?? '', /this one with 7f 45 4c 46/);
});

test('WebAssembly text is recognised and the hint says to compile it', async t => {
	const file = await scratchFile('text.wasm', '(module (func (export "f")))');
	const error = await t.throwsAsync(inspectWasmFile(file, 'plugin "p"'), { instanceOf: MeshboxError });
	t.is(error?.code, 'PLUGIN_NOT_WASM');
	t.regex(error?.hint ?? '', /text format/);
});

test('a truncated module is invalid wasm, with V8\'s reason', t => {
	const bytes = moduleExporting(['proxy_abi_version_0_2_1', 'malloc']).subarray(0, 20);
	const error = t.throws(() => inspectWasmBytes(bytes, 'plugin "p"'), { instanceOf: MeshboxError });
	t.is(error?.code, 'PLUGIN_INVALID_WASM');
});

test('a module without a proxy_abi_version export is refused before Envoy starts', t => {
	const error = t.throws(() => inspectWasmBytes(moduleExporting(['malloc', 'run']), 'plugin "p"'), { instanceOf: MeshboxError });
	t.is(error?.code, 'PLUGIN_NO_ABI');
	t.regex(error?.message ?? '', /exports no proxy_abi_version_\* function/);
	t.regex(error?.message ?? '', /proxy_abi_version_0_2_1/);
});

test('an ABI version Envoy does not know is named', t => {
	const error = t.throws(() => inspectWasmBytes(moduleExporting(['proxy_abi_version_0_3_0', 'malloc']), 'plugin "p"'), { instanceOf: MeshboxError });
	t.is(error?.code, 'PLUGIN_NO_ABI');
	t.regex(error?.message ?? '', /exports proxy_abi_version_0_3_0, which Envoy does not recognise/);
});

test('each ABI version Envoy knows is detected', t => {
	for (const [exportName, version] of [['proxy_abi_version_0_1_0', '0.1.0'], ['proxy_abi_version_0_2_0', '0.2.0'], ['proxy_abi_version_0_2_1', '0.2.1']] as const) {
		t.is(inspectWasmBytes(moduleExporting([exportName, 'proxy_on_memory_allocate']), 'p').abiVersion, version);
	}
});

test('a module without malloc or proxy_on_memory_allocate is refused', t => {
	const error = t.throws(() => inspectWasmBytes(moduleExporting(['proxy_abi_version_0_2_1']), 'plugin "p"'), { instanceOf: MeshboxError });
	t.is(error?.code, 'PLUGIN_INVALID_WASM');
	t.regex(error?.message ?? '', /neither malloc nor proxy_on_memory_allocate/);
});
