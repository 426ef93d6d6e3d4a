/**
 * A minimal streaming tar (ustar) writer: enough to hand Docker a root file system for `docker import`
 * without staging hundreds of megabytes in a temp dir and without another dependency. Files are streamed
 * from disk as the daemon reads them.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';

export type TarEntry =
	| { readonly type: 'directory'; readonly path: string; readonly mode?: number }
	| { readonly type: 'file'; readonly path: string; readonly mode?: number; readonly source: string }
	| { readonly type: 'content'; readonly path: string; readonly mode?: number; readonly content: string | Buffer }
	| { readonly type: 'symlink'; readonly path: string; readonly target: string };

const block = 512;

/** The total size of the entries' contents in bytes (for progress reporting). */
export async function contentSize(entries: readonly TarEntry[]): Promise<number> {
	let total = 0;
	for (const entry of entries) {
		if (entry.type === 'file') {
			total += (await stat(entry.source)).size;
		} else if (entry.type === 'content') {
			total += Buffer.byteLength(entry.content);
		}
	}

	return total;
}

/** A tar stream of `entries`; `onBytes` is called with the content bytes written so far. */
export function tarStream(entries: readonly TarEntry[], onBytes?: (written: number) => void): Readable {
	return Readable.from(generate(entries, onBytes ?? (() => undefined)), { objectMode: false });
}

async function * generate(entries: readonly TarEntry[], onBytes: (written: number) => void): AsyncGenerator<Buffer> {
	let written = 0;
	const mtime = Math.floor(Date.now() / 1000);
	for (const entry of entries) {
		switch (entry.type) {
			case 'directory': {
				yield header({ path: `${entry.path.replace(/\/$/, '')}/`, mode: entry.mode ?? 0o755, size: 0, type: '5', mtime });
				break;
			}

			case 'symlink': {
				yield header({ path: entry.path, mode: 0o777, size: 0, type: '2', linkName: entry.target, mtime });
				break;
			}

			case 'content': {
				const data = Buffer.isBuffer(entry.content) ? entry.content : Buffer.from(entry.content);
				yield header({ path: entry.path, mode: entry.mode ?? 0o644, size: data.length, type: '0', mtime });
				yield data;
				yield padding(data.length);
				written += data.length;
				onBytes(written);
				break;
			}

			case 'file': {
				const { size } = await stat(entry.source);
				yield header({ path: entry.path, mode: entry.mode ?? 0o644, size, type: '0', mtime });
				let copied = 0;
				for await (const chunk of createReadStream(entry.source)) {
					const buffer = chunk as Buffer;
					// The header promised `size` bytes: a file that grows while we read must not corrupt the archive.
					const slice = buffer.subarray(0, Math.max(0, size - copied));
					copied += slice.length;
					written += slice.length;
					yield slice;
					onBytes(written);
				}

				if (copied < size) {
					throw new Error(`${entry.source} shrank while it was being archived`);
				}

				yield padding(size);
				break;
			}
		}
	}

	yield Buffer.alloc(block * 2);
}

type Header = { path: string; mode: number; size: number; type: '0' | '2' | '5'; linkName?: string; mtime: number };

function header({ path, mode, size, type, linkName, mtime }: Header): Buffer {
	const buffer = Buffer.alloc(block);
	const relative = path.replace(/^\/+/, '');
	const { name, prefix } = splitName(relative);
	buffer.write(name, 0, 100, 'utf8');
	writeOctal(buffer, mode & 0o7777, 100, 8);
	writeOctal(buffer, 0, 108, 8);
	writeOctal(buffer, 0, 116, 8);
	writeOctal(buffer, size, 124, 12);
	writeOctal(buffer, mtime, 136, 12);
	buffer.write(' '.repeat(8), 148, 8, 'ascii');
	buffer.write(type, 156, 1, 'ascii');
	if (linkName) {
		if (Buffer.byteLength(linkName) > 100) {
			throw new Error(`symlink target too long for tar: ${linkName}`);
		}

		buffer.write(linkName, 157, 100, 'utf8');
	}

	buffer.write('ustar\u000000', 257, 8, 'binary');
	buffer.write('root', 265, 32, 'ascii');
	buffer.write('root', 297, 32, 'ascii');
	buffer.write(prefix, 345, 155, 'utf8');
	let checksum = 0;
	for (const byte of buffer) {
		checksum += byte;
	}

	writeOctal(buffer, checksum, 148, 7);
	return buffer;
}

/** ustar keeps names up to 100 bytes, plus a 155-byte prefix split at a `/`. */
function splitName(path: string): { name: string; prefix: string } {
	if (Buffer.byteLength(path) <= 100) {
		return { name: path, prefix: '' };
	}

	for (let index = path.indexOf('/'); index !== -1; index = path.indexOf('/', index + 1)) {
		const prefix = path.slice(0, index);
		const name = path.slice(index + 1);
		if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) {
			return { name, prefix };
		}
	}

	throw new Error(`path too long for tar: ${path}`);
}

function writeOctal(buffer: Buffer, value: number, offset: number, length: number): void {
	buffer.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'ascii');
}

function padding(size: number): Buffer {
	const rest = size % block;
	return Buffer.alloc(rest === 0 ? 0 : block - rest);
}
