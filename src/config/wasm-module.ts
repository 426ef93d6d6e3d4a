/**
 * Pre-flight check of a plugin's `.wasm` file, before any Envoy starts: is it there, is it WebAssembly,
 * which proxy-wasm ABI does it declare, does it have the allocator Envoy needs.
 *
 * Envoy reports the same problems, but only as a log line among hundreds and only after it started; here
 * the user gets one sentence naming the file. The rules follow proxy-wasm-cpp-host
 * (src/bytecode_util.cc `getAbiVersion`: the first *function* export named exactly
 * `proxy_abi_version_0_1_0`, `_0_2_0` or `_0_2_1`; src/wasm.cc: `malloc` or `proxy_on_memory_allocate`).
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { MeshboxError } from '../errors.ts';

/** The ABI versions Envoy recognises, by export name. */
const knownAbiVersions = {
	proxy_abi_version_0_1_0: '0.1.0',
	proxy_abi_version_0_2_0: '0.2.0',
	proxy_abi_version_0_2_1: '0.2.1',
} as const satisfies Record<string, string>;

export type AbiVersion = (typeof knownAbiVersions)[keyof typeof knownAbiVersions];

export type WasmModuleInfo = {
	readonly abiVersion: AbiVersion;
	readonly sizeBytes: number;
	/** Hex SHA-256 of the module's bytes: what a module is known by (runtimes stage it under this name). */
	readonly sha256: string;
	/** Names of the exported functions. */
	readonly exports: readonly string[];
	/** `module.name` of every imported function, e.g. `env.proxy_log`, `wasi_snapshot_preview1.fd_write`. */
	readonly imports: readonly string[];
};

const wasmMagic = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

/**
 * Reads and checks a plugin module. `label` names the plugin in messages (e.g. `plugin "auth"`).
 * Throws a MeshboxError with a specific code for each way the file can be wrong.
 */
export async function inspectWasmFile(path: string, label: string): Promise<WasmModuleInfo> {
	const fileStat = await stat(path).catch(() => undefined);
	if (!fileStat) {
		throw new MeshboxError('PLUGIN_NOT_FOUND', `${label}: wasm file not found: ${path}`,
			'check the path (relative paths in meshbox.yaml are relative to that file), or build the plugin first');
	}

	if (!fileStat.isFile()) {
		throw new MeshboxError('PLUGIN_NOT_FOUND', `${label}: ${path} is not a file`, 'point `wasm` at the built .wasm file');
	}

	if (fileStat.size === 0) {
		throw new MeshboxError('PLUGIN_EMPTY', `${label}: wasm file is empty (0 bytes): ${path}`,
			'the build probably failed or is still running; rebuild the plugin');
	}

	const bytes = await readFile(path);
	return inspectWasmBytes(bytes, `${label} (${path})`);
}

export function inspectWasmBytes(bytes: Uint8Array, label: string): WasmModuleInfo {
	if (bytes.length < 8 || !wasmMagic.equals(Buffer.from(bytes.subarray(0, 4)))) {
		const start = Buffer.from(bytes.subarray(0, 16)).toString('latin1');
		const looksLikeText = /^\s*\(module/.test(start);
		throw new MeshboxError('PLUGIN_NOT_WASM', `${label}: not a WebAssembly module (a .wasm file starts with the bytes 00 61 73 6d, this one with ${hexPrefix(bytes)})`,
			looksLikeText
				? 'this is WebAssembly text format; compile it to binary first (e.g. wat2wasm)'
				: 'point `wasm` at the compiled .wasm your SDK produces (e.g. target/wasm32-unknown-unknown/release/*.wasm)');
	}

	let module: WebAssembly.Module;
	try {
		module = new WebAssembly.Module(bytes);
	} catch (error) {
		throw new MeshboxError('PLUGIN_INVALID_WASM', `${label}: not a valid WebAssembly module: ${(error as Error).message}`,
			'the file is truncated or was built for another target; rebuild it');
	}

	const exportedFunctions = WebAssembly.Module.exports(module)
		.filter(entry => entry.kind === 'function')
		.map(entry => entry.name);
	const imports = WebAssembly.Module.imports(module)
		.filter(entry => entry.kind === 'function')
		.map(entry => `${entry.module}.${entry.name}`);

	const abiExport = exportedFunctions.find(name => Object.hasOwn(knownAbiVersions, name));
	if (!abiExport) {
		const declared = exportedFunctions.filter(name => name.startsWith('proxy_abi_version_'));
		const found = declared.length > 0
			? `it exports ${declared.join(', ')}, which Envoy does not recognise`
			: 'it exports no proxy_abi_version_* function';
		throw new MeshboxError('PLUGIN_NO_ABI', `${label}: not a proxy-wasm plugin: ${found} (Envoy accepts ${Object.keys(knownAbiVersions).join(', ')})`,
			'build it with a proxy-wasm SDK (Rust proxy-wasm, Go proxy-wasm-go-sdk, AssemblyScript proxy-wasm-sdk-as); Envoy would refuse it with "Missing or unknown Proxy-Wasm ABI version"');
	}

	if (!exportedFunctions.includes('malloc') && !exportedFunctions.includes('proxy_on_memory_allocate')) {
		throw new MeshboxError('PLUGIN_INVALID_WASM', `${label}: exports neither malloc nor proxy_on_memory_allocate, so Envoy cannot pass data into it`,
			'build it with a proxy-wasm SDK, which provides the allocator; Envoy would refuse it with "Wasm module is missing malloc function."');
	}

	return {
		abiVersion: knownAbiVersions[abiExport as keyof typeof knownAbiVersions],
		sizeBytes: bytes.length,
		sha256: createHash('sha256').update(bytes).digest('hex'),
		exports: exportedFunctions,
		imports,
	};
}

function hexPrefix(bytes: Uint8Array): string {
	if (bytes.length === 0) {
		return 'nothing';
	}

	return [...bytes.subarray(0, 4)].map(byte => byte.toString(16).padStart(2, '0')).join(' ');
}
