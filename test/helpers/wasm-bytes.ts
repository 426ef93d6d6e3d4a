/**
 * Hand-assembled WebAssembly modules for the "not a proxy-wasm plugin" cases: real, valid modules that
 * lack what Envoy needs. Built byte by byte so the tests need no extra toolchain.
 */

/** A valid module exporting the given no-argument functions (each `() -> ()`, empty body). */
export function moduleExporting(functionNames: readonly string[]): Uint8Array {
	const count = functionNames.length;
	const typeSection = section(1, [1, 0x60, 0, 0]);
	const functionSection = section(3, [...uleb(count), ...Array.from({ length: count }, () => 0)]);
	const exportEntries = functionNames.flatMap((name, index) => [...string(name), 0x00, ...uleb(index)]);
	const exportSection = section(7, [...uleb(count), ...exportEntries]);
	const codeSection = section(10, [...uleb(count), ...Array.from({ length: count }, () => [2, 0, 0x0b]).flat()]);
	return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...typeSection, ...functionSection, ...exportSection, ...codeSection]);
}

function section(id: number, content: number[]): number[] {
	return [id, ...uleb(content.length), ...content];
}

function string(text: string): number[] {
	const bytes = [...Buffer.from(text, 'utf8')];
	return [...uleb(bytes.length), ...bytes];
}

function uleb(value: number): number[] {
	const bytes: number[] = [];
	let rest = value;
	do {
		let byte = rest & 0x7f;
		rest >>>= 7;
		if (rest !== 0) {
			byte |= 0x80;
		}

		bytes.push(byte);
	} while (rest !== 0);
	return bytes;
}
