/**
 * Archive handling for fetched modules, as istio-agent does it (pkg/wasm/httpfetcher.go `unboxIfPossible`,
 * pkg/wasm/imagefetcher.go `extractWasmPluginBinary`): gzip and POSIX tar, read with node:zlib and a small
 * ustar reader (no dependency).
 */
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

const wasmMagic = Buffer.from([0x00, 0x61, 0x73, 0x6d]);

export function isWasmBinary(bytes: Uint8Array): boolean {
	// pkg/wasm/cache.go isValidWasmBinary: at least 8 bytes, starting with \0asm.
	return bytes.length >= 8 && Buffer.from(bytes.subarray(0, 4)).equals(wasmMagic);
}

function isGzip(bytes: Uint8Array): boolean {
	return bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function isPosixTar(bytes: Uint8Array): boolean {
	return bytes.length > 262 && Buffer.from(bytes.subarray(257, 262)).toString('latin1') === 'ustar';
}

export type TarEntry = { readonly name: string; readonly data: Buffer };

/** The regular-file entries of a tar archive (ustar / GNU / pax headers; names joined with their prefix). */
function readTar(archive: Uint8Array): TarEntry[] {
	const buffer = Buffer.from(archive);
	const entries: TarEntry[] = [];
	let offset = 0;
	let longName: string | undefined;
	while (offset + 512 <= buffer.length) {
		const header = buffer.subarray(offset, offset + 512);
		if (header.every(byte => byte === 0)) {
			break;
		}

		const field = (start: number, length: number) => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
		const size = Number.parseInt(field(124, 12).trim() || '0', 8);
		const type = field(156, 1) || '0';
		const prefix = field(345, 155);
		const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
		longName = undefined;
		const data = buffer.subarray(offset + 512, offset + 512 + size);
		if (type === 'L') {
			longName = data.toString('utf8').replace(/\0.*$/s, '');
		} else if (type === 'x') {
			const pathRecord = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
			longName = pathRecord?.[1];
		} else if (type === '0' || type === '7') {
			entries.push({ name, data: Buffer.from(data) });
		}

		offset += 512 + Math.ceil(size / 512) * 512;
	}

	return entries;
}

/** httpfetcher.go: while not a Wasm binary, gunzip, or take the tar's first entry; anything else as it is. */
export function unboxIfPossible(bytes: Uint8Array): Uint8Array {
	let current = bytes;
	for (let depth = 0; depth < 8 && !isWasmBinary(current); depth++) {
		if (isGzip(current)) {
			current = gunzipSync(current);
		} else if (isPosixTar(current)) {
			const first = readTar(current)[0];
			if (!first) {
				return current;
			}

			current = first.data;
		} else {
			return current;
		}
	}

	return current;
}

/** imagefetcher.go extractWasmPluginBinary: a tar.gz whose entry with base name plugin.wasm is the module. */
export function extractPluginWasm(layer: Uint8Array): Uint8Array {
	let tar: Buffer;
	try {
		tar = gunzipSync(layer);
	} catch (error) {
		throw new Error(`failed to parse layer as tar.gz: ${(error as Error).message}`);
	}

	const entry = readTar(tar).find(candidate => path.posix.basename(candidate.name) === 'plugin.wasm');
	if (!entry) {
		throw new Error('plugin.wasm not found in the archive');
	}

	return entry.data;
}

/** A tar archive with the given files (for tests and `meshbox` tooling that builds images). */
export function writeTar(files: ReadonlyArray<{ name: string; data: Uint8Array }>): Buffer {
	const blocks: Buffer[] = [];
	for (const file of files) {
		const header = Buffer.alloc(512);
		header.write(file.name, 0, 100, 'utf8');
		header.write('0000644\0', 100, 8, 'latin1');
		header.write('0000000\0', 108, 8, 'latin1');
		header.write('0000000\0', 116, 8, 'latin1');
		header.write(`${file.data.length.toString(8).padStart(11, '0')}\0`, 124, 12, 'latin1');
		header.write(`${Math.floor(Date.UTC(2026, 0, 1) / 1000).toString(8).padStart(11, '0')}\0`, 136, 12, 'latin1');
		header.write('        ', 148, 8, 'latin1');
		header.write('0', 156, 1, 'latin1');
		header.write('ustar\0', 257, 6, 'latin1');
		header.write('00', 263, 2, 'latin1');
		const checksum = header.reduce((sum, byte) => sum + byte, 0);
		header.write(`${checksum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
		blocks.push(header, Buffer.from(file.data), Buffer.alloc((512 - (file.data.length % 512)) % 512));
	}

	blocks.push(Buffer.alloc(1024));
	return Buffer.concat(blocks);
}
