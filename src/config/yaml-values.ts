/**
 * A parsed YAML document → plain values, with the failures that only show up at that step reported as input
 * errors at the alias that caused them (file:line:col), not as a crash.
 *
 * The `yaml` package resolves aliases while building values and throws a ReferenceError for an alias whose
 * anchor is not defined before it, and for "billion laughs" documents: aliases of anchors that themselves hold
 * aliases, where the expanded document grows exponentially. It stops at `maxAliasCount` resolutions (weighted
 * by how many aliases each anchor's content holds; see its nodes/Alias.js). The error carries no position, so
 * on failure the document is walked once more with each alias noting itself, which names the one that failed.
 */
import { CST, isAlias, LineCounter, Parser, visit, type Alias, type Document, type ToJSOptions } from 'yaml';

/**
 * The `yaml` package's own default (100), set explicitly: a limit on alias expansion, so a small file cannot
 * expand into gigabytes. Real configurations reuse a block a handful of times and stay far below it.
 */
export const maxAliasCount = 100;

/**
 * How deep collections may nest. The `yaml` package composes documents recursively: a few hundred levels
 * (~800 of `[` in a default Node stack, fewer when called deep in a stack) overflow it, which it reports as
 * "Maximum call stack size exceeded" at some arbitrary place. Envoy reads its own configuration with protobuf's
 * default recursion limit of 100 (io/coded_stream.h, kDefaultRecursionLimit); a plugin's configuration reaches
 * the plugin as a string, but no real one nests more than a few dozen levels. (go-yaml, which Kubernetes uses,
 * refuses flow nesting past 10000, "exceeded max depth of 10000", scannerc.go; this reader overflows first.)
 */
export const maxNestingDepth = 200;

export type YamlValueError = {
	/** `file:line:col` of the alias (or the file alone). */
	readonly where: string;
	readonly message: string;
	readonly hint: string;
};

export type YamlValue = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: YamlValueError };

/**
 * The first collection nested deeper than `maxNestingDepth`, as an error at its place, checked on the CST
 * (the `yaml` package's Parser keeps its own stack, so it reads any depth) before anything recursive runs.
 * Every document of a multi-document text is checked.
 */
export function nestingError(text: string, fileLabel: string): YamlValueError | undefined {
	const lines = new LineCounter();
	for (const token of new Parser(lines.addNewLine).parse(text)) {
		if (token.type !== 'document' || !token.value) {
			continue;
		}

		// Depth-first with an explicit stack: a recursive walk would overflow where the composer does.
		const pending: Array<{ token: CST.Token; depth: number }> = [{ token: token.value, depth: 1 }];
		for (let next = pending.pop(); next; next = pending.pop()) {
			if (!CST.isCollection(next.token)) {
				continue;
			}

			if (next.depth > maxNestingDepth) {
				const { line, col } = lines.linePos(next.token.offset);
				return { where: `${fileLabel}:${line}:${col}`,
					message: `nested too deeply (limit ${maxNestingDepth} levels of maps and lists)`,
					hint: 'flatten the structure there: real configurations nest a few dozen levels at most (Envoy\'s own protobuf parsing stops at 100)' };
			}

			for (const item of next.token.items) {
				for (const child of [item.key, item.value]) {
					if (child) {
						pending.push({ token: child, depth: next.depth + 1 });
					}
				}
			}
		}
	}

	return undefined;
}

/** `document.toJS()`, or the located reason it cannot be turned into values. */
export function documentValue(document: Document, lineCounter: LineCounter, fileLabel: string, options: ToJSOptions = {}): YamlValue {
	try {
		return { ok: true, value: document.toJS({ ...options, maxAliasCount }) as unknown };
	} catch (error) {
		if (!(error instanceof ReferenceError)) {
			throw error;
		}

		const alias = failingAlias(document, options);
		const offset = alias?.range?.[0];
		const position = offset === undefined ? undefined : lineCounter.linePos(offset);
		const where = position ? `${fileLabel}:${position.line}:${position.col}` : fileLabel;
		const name = alias ? `*${alias.source}` : 'an alias';
		if (/excessive alias count/i.test(error.message)) {
			return { ok: false, error: { where,
				message: `${name} expands its anchor beyond the alias limit: aliases of anchors that hold aliases grow the document exponentially (a "billion laughs" document); meshbox stops after ${maxAliasCount} weighted alias expansions`,
				hint: 'write the repeated content out, or reuse blocks without nesting aliases inside anchors' } };
		}

		return { ok: false, error: { where,
			message: /unresolved alias/i.test(error.message) ? `${name} refers to no anchor &${alias?.source ?? ''} defined before it` : error.message,
			hint: 'define the anchor (&name) before the alias (*name) that uses it, in the same document' } };
	}
}

/** Runs toJS again with every alias recording itself; the innermost alias being resolved when it throws failed. */
function failingAlias(document: Document, options: ToJSOptions): Alias | undefined {
	const resolving: Alias[] = [];
	let failed: Alias | undefined;
	visit(document, {
		Alias(_key, node) {
			const resolve = node.resolve.bind(node);
			node.resolve = (doc, ctx) => {
				resolving.push(node);
				const found = resolve(doc, ctx);
				resolving.pop();
				return found;
			};
		},
	});
	try {
		document.toJS({ ...options, maxAliasCount });
	} catch {
		failed = resolving.at(-1);
	} finally {
		// Leave the document as it was: drop the per-node overrides (the prototype's method shows through again).
		visit(document, {
			Alias(_key, node) {
				delete (node as Partial<Pick<Alias, 'resolve'>>).resolve;
			},
		});
	}

	return failed ?? firstAlias(document);
}

function firstAlias(document: Document): Alias | undefined {
	let first: Alias | undefined;
	visit(document, {
		Node(_key, node) {
			if (isAlias(node) && !first) {
				first = node;
				return visit.BREAK;
			}

			return undefined;
		},
	});
	return first;
}
