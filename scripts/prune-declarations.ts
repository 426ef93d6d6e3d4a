/**
 * After `tsc -p tsconfig.build.json`: keeps only the type declarations a user of the package can reach, those
 * of dist/index.d.ts (the package's one entry point: package.json's `exports` has no other) and of the modules
 * they import, and deletes the others. tsc writes a .d.ts for every module; the internal ones (the generated
 * Envoy API data of src/xds, 300 KB, the runtimes, the CLI) only made the package bigger (issue #24).
 *
 * Run by `npm run build`: node --import tsx scripts/prune-declarations.ts [DIST]
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The specifiers a declaration file imports: `from '…'`, `import('…')`, `/// <reference path="…" />`. */
export function importedSpecifiers(text: string): string[] {
	const specifiers = [];
	// Comments first (but `///` directives): a JSDoc example (`import test from 'ava'`) imports nothing. (A `/*`
	// inside a string is not expected in what tsc emits for meshbox.)
	const code = text.replaceAll(/\/\*[\s\S]*?\*\//g, '').replaceAll(/^\s*\/\/(?!\/).*$/gm, '');
	for (const match of code.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]|<reference\s+path=['"]([^'"]+)['"]/gm)) {
		specifiers.push(match[1] ?? match[2] ?? match[3] ?? match[4] ?? '');
	}

	return specifiers.filter(specifier => specifier !== '');
}

/** A relative specifier's declaration file: tsc keeps `./x.ts` (rewriteRelativeImportExtensions) or `./x.js`. */
function declarationOf(from: string, specifier: string): string {
	const target = path.resolve(path.dirname(from), specifier);
	return target.endsWith('.d.ts') ? target : `${target.replace(/\.(?:[cm]?ts|[cm]?js)$/, '')}.d.ts`;
}

export type DeclarationClosure = {
	/** The reachable .d.ts files, absolute. */
	readonly files: ReadonlySet<string>;
	/** Bare specifiers (packages, node: modules) the reachable declarations import, with one file importing each. */
	readonly packages: ReadonlyMap<string, string>;
};

/** The declarations reachable from `entry`. */
export async function declarationClosure(entry: string): Promise<DeclarationClosure> {
	const files = new Set<string>();
	const packages = new Map<string, string>();
	const pending = [path.resolve(entry)];
	for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
		if (files.has(file)) {
			continue;
		}

		files.add(file);
		for (const specifier of importedSpecifiers(await readFile(file, 'utf8'))) {
			if (specifier.startsWith('.')) {
				pending.push(declarationOf(file, specifier));
			} else if (!packages.has(specifier)) {
				packages.set(specifier, file);
			}
		}
	}

	return { files, packages };
}

async function declarationsUnder(directory: string): Promise<string[]> {
	const entries = await readdir(directory, { withFileTypes: true, recursive: true });
	return entries.filter(entry => entry.isFile() && entry.name.endsWith('.d.ts')).map(entry => path.join(entry.parentPath, entry.name));
}

async function main(dist: string): Promise<void> {
	const { files } = await declarationClosure(path.join(dist, 'index.d.ts'));
	const unreachable = (await declarationsUnder(dist)).filter(file => !files.has(file));
	await Promise.all(unreachable.map(async file => rm(file)));
	process.stdout.write(`prune-declarations: kept ${files.size} declaration files reachable from dist/index.d.ts, removed ${unreachable.length}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
	await main(path.resolve(process.argv[2] ?? 'dist'));
}
