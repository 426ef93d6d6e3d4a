/**
 * `meshbox.yaml` → SandboxModel, with every error pointing at file:line:col.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isSeq, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { MeshboxError } from '../errors.ts';
import type { FieldPath, Locator } from './fields.ts';
import { resolveSpec, type ResolvedSpec, type ResolveOptions } from './resolve.ts';
import { documentValue, nestingError } from './yaml-values.ts';

export const defaultConfigFile = 'meshbox.yaml';

export type ParsedYaml = {
	readonly value: unknown;
	readonly locate: Locator;
};

/** Parses one YAML document; syntax errors become MeshboxErrors with the file's line and column. */
function parseYaml(text: string, fileLabel: string): ParsedYaml {
	// Before parsing: the composer would overflow the stack on it and report that as a syntax error.
	const tooDeep = nestingError(text, fileLabel);
	if (tooDeep) {
		throw new MeshboxError('CONFIG_INVALID', `${tooDeep.where}: ${tooDeep.message}`, tooDeep.hint);
	}

	const lineCounter = new LineCounter();
	const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
	const [firstError] = document.errors;
	if (firstError) {
		const { line, col } = lineCounter.linePos(firstError.pos[0]);
		const where = `${fileLabel}:${line}:${col}`;
		throw new MeshboxError('CONFIG_INVALID', `${where}: ${firstError.message.split('\n')[0]}`, 'fix the YAML syntax at that place');
	}

	const locate: Locator = fieldPath => {
		const offset = offsetOf(document, fieldPath);
		if (offset === undefined) {
			return fileLabel;
		}

		const { line, col } = lineCounter.linePos(offset);
		return `${fileLabel}:${line}:${col}`;
	};

	// Alias bombs and dangling aliases fail here; they are input errors at the alias, not crashes.
	const converted = documentValue(document, lineCounter, fileLabel);
	if (!converted.ok) {
		throw new MeshboxError('CONFIG_INVALID', `${converted.error.where}: ${converted.error.message}`, converted.error.hint);
	}

	return { value: converted.value, locate };
}

/**
 * `defaults`: values for fields the file leaves unset (`meshbox up`: the listener on 10000);
 * `extensionFields`: top-level fields a later stage reads (see ResolveOptions).
 */
export async function loadConfigFile(file: string, options: Pick<ResolveOptions, 'overrides' | 'defaults' | 'extensionFields' | 'checkTypedConfig'> = {}): Promise<ResolvedSpec> {
	const absolute = path.resolve(file);
	const text = await readFile(absolute, 'utf8').catch((error: NodeJS.ErrnoException) => {
		throw new MeshboxError('CONFIG_NOT_FOUND', `cannot read config file ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`,
			`create it (see docs/meshbox-yaml.md), pass --config FILE, or give plugins with --plugin FILE.wasm`);
	});
	const relative = path.relative(process.cwd(), absolute);
	const label = relative && !relative.startsWith('..') ? relative : absolute;
	const { value, locate } = parseYaml(text, label);
	return resolveSpec(value, { ...options, baseDir: path.dirname(absolute), locate });
}

/** The source offset of the field at `fieldPath`: its key when it is a map entry, else the node itself. */
// Exported for src/istio (multi-document Istio files locate fields the same way).
export function offsetOf(document: Document, fieldPath: FieldPath): number | undefined {
	let node: Node | null | undefined = document.contents;
	let offset = node?.range?.[0];
	for (const part of fieldPath) {
		if (isMap(node)) {
			const pair = node.items.find(item => isScalar(item.key) && String(item.key.value) === String(part));
			if (!pair) {
				return offset;
			}

			offset = (isScalar(pair.key) ? pair.key.range?.[0] : undefined) ?? offset;
			node = pair.value as Node | null;
		} else if (isSeq(node) && typeof part === 'number') {
			node = node.items[part] as Node | undefined;
			offset = node?.range?.[0] ?? offset;
		} else {
			return offset;
		}
	}

	return offset;
}
