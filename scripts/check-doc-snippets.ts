/**
 * Type-checks every ```ts / ```typescript block of README.md and docs/*.md against the real API (issue #24
 * item 7), so the documentation cannot drift from the code: `npm test` runs it (test/docs/snippets.test.ts).
 *
 *   node --import tsx scripts/check-doc-snippets.ts [FILE.md…]      (default: README.md and docs/*.md)
 *
 * Each block becomes a module of its own and is checked with `tsc` under the tsconfig `meshbox init` gives a
 * plugin project (strict, NodeNext), importing 'meshbox' as a user does: the package's own name resolves
 * through package.json `exports`, whose `meshbox-source` condition maps it to src/index.ts.
 *
 * A block is a whole module (its own imports) unless the line before it is `<!-- snippet: fragment -->`: a
 * fragment is a piece of a test, so it is wrapped in an async function that sees every value meshbox exports,
 * ava's `test`, and a running sandbox `box`, an ava context `t` and a mesh `mesh` (declared, never run).
 * Keep fragments rare: a block that can be a whole module should be one.
 *
 * Errors are printed as `FILE.md:LINE:COL: error TSnnnn: …` at the block's own line; exit status 1.
 * The generated modules live in a temporary directory under .meshbox/ (inside the package, so that 'meshbox'
 * resolves to it), removed on exit, also on Ctrl+C.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The marker that lets a block be a fragment of a test rather than a whole module. */
export const fragmentMarker = '<!-- snippet: fragment -->';

/**
 * `<!-- snippet: checked-by test/package/vitest-consumer.test.ts -->`: a block written for another test runner,
 * whose types this project does not install; the named test type-checks it where that runner is installed (it
 * must exist, so the exemption cannot outlive its check).
 */
const checkedByMarker = /^<!-- snippet: checked-by (\S+) -->$/;

/** One ```ts block: where it is and what it says. */
export interface DocSnippet {
	/** The Markdown file, as given (relative to the working directory for the defaults). */
	file: string;
	/** 1-based line of the block's first code line. */
	line: number;
	/** The code, with the indentation of its fence removed (blocks inside list items are indented). */
	code: string;
	fragment: boolean;
	/** The test that type-checks this block instead (`<!-- snippet: checked-by … -->`); undefined: this checker does. */
	checkedBy?: string;
}

/** Every ```ts / ```typescript block of a Markdown text, with the line its code starts on. */
export function extractSnippets(file: string, markdown: string): DocSnippet[] {
	const lines = markdown.split('\n');
	const snippets: DocSnippet[] = [];
	for (let index = 0; index < lines.length; index++) {
		const open = /^(\s*)(`{3,})(\S*)\s*$/.exec(lines[index]!);
		if (!open) {
			continue;
		}

		const [, indent = '', fence = '```', language = ''] = open;
		const close = lines.findIndex((line, at) => at > index && line.trimEnd() === indent + fence);
		const end = close < 0 ? lines.length : close;
		if (language === 'ts' || language === 'typescript') {
			const previous = lines.slice(0, index).reverse().find(line => line.trim() !== '') ?? '';
			snippets.push({
				file,
				line: index + 2,
				code: lines.slice(index + 1, end).map(line => line.startsWith(indent) ? line.slice(indent.length) : line).join('\n'),
				fragment: previous.trim() === fragmentMarker,
				...(checkedByMarker.test(previous.trim()) ? { checkedBy: checkedByMarker.exec(previous.trim())![1] } : {}),
			});
		}

		// Skip the block (also a ```yaml one: a "# comment" in it is not a heading, a ``` in it not a fence).
		index = end;
	}

	return snippets;
}

/** The value names meshbox exports, for the fragments' scope. Read from the entry point, not a list that drifts. */
async function meshboxValueNames(): Promise<string[]> {
	const entry = await import(path.join(repoRoot, 'src/index.ts')) as Record<string, unknown>;
	return Object.keys(entry).filter(name => name !== 'default').sort();
}

/** A generated module and how its lines map back to the block. */
interface GeneratedModule {
	snippet: DocSnippet;
	name: string;
	source: string;
	/** Lines of the generated file before the block's first line. */
	offset: number;
	/** Columns added in front of each block line (a fragment's body is indented by a tab). */
	indent: number;
}

function toModule(snippet: DocSnippet, index: number, valueNames: string[]): GeneratedModule {
	const name = `snippet-${String(index + 1).padStart(3, '0')}.ts`;
	if (!snippet.fragment) {
		// `export {}` keeps a block without imports a module (its own scope, top-level await allowed).
		return { snippet, name, source: `// ${snippet.file}:${snippet.line}\n${snippet.code}\nexport {};\n`, offset: 1, indent: 0 };
	}

	const head = [
		`// ${snippet.file}:${snippet.line} (${fragmentMarker})`,
		`import test, { type ExecutionContext } from 'ava';`,
		`import { ${valueNames.join(', ')} } from 'meshbox';`,
		`declare const box: Sandbox;`,
		`declare const t: ExecutionContext;`,
		`declare const mesh: Mesh;`,
		// The scope is offered, not required: a fragment that uses none of it is no error.
		`void test; void [${valueNames.join(', ')}];`,
		`export async function fragment(): Promise<void> {`,
	];
	const body = snippet.code.split('\n').map(line => `\t${line}`).join('\n');
	return { snippet, name, source: `${head.join('\n')}\n${body}\n}\n`, offset: head.length, indent: 1 };
}

/** tsc's options for the snippets: the tsconfig `meshbox init` writes, plus resolving 'meshbox' to the sources. */
const compilerOptions = {
	target: 'ES2022',
	module: 'NodeNext',
	moduleResolution: 'NodeNext',
	lib: ['ES2023'],
	types: ['node'],
	strict: true,
	noEmit: true,
	skipLibCheck: true,
	// meshbox's sources import each other with .ts extensions and are read through the package's own
	// `meshbox-source` export condition, as this repository's scenarios are (tsconfig.json).
	allowImportingTsExtensions: true,
	customConditions: ['meshbox-source'],
};

/** A diagnostic of tsc's `--pretty false` output: `file(line,col): error TSnnnn: message`. */
const diagnosticPattern = /^(.+?)\((\d+),(\d+)\): (error|warning) (TS\d+): (.*)$/;

export interface CheckResult {
	snippets: number;
	fragments: number;
	/** Diagnostics at the Markdown file and line of the block: `README.md:12:5: error TS2304: …`. */
	errors: string[];
}

/** Type-checks the blocks of `files`; never throws for a broken block (it is in `errors`). */
export async function checkDocSnippets(files: string[]): Promise<CheckResult> {
	const snippets: DocSnippet[] = [];
	const elsewhere: string[] = [];
	for (const file of files) {
		for (const snippet of extractSnippets(file, await readFile(file, 'utf8'))) {
			if (snippet.checkedBy === undefined) {
				snippets.push(snippet);
			} else if (!existsSync(path.join(repoRoot, snippet.checkedBy))) {
				elsewhere.push(`${snippet.file}:${snippet.line - 1}:1: error: the block is said to be checked by ${snippet.checkedBy}, which does not exist`);
			}
		}
	}

	if (snippets.length === 0) {
		return { snippets: 0, fragments: 0, errors: elsewhere };
	}

	const valueNames = await meshboxValueNames();
	await mkdir(path.join(repoRoot, '.meshbox'), { recursive: true });
	const dir = await mkdtemp(path.join(repoRoot, '.meshbox', 'doc-snippets-'));
	const removeDir = () => rm(dir, { recursive: true, force: true });
	// Ctrl+C while tsc runs: leave no generated files behind, then die of the signal as usual.
	const onSignal = (signal: NodeJS.Signals) => {
		void removeDir().finally(() => process.kill(process.pid, signal));
	};
	process.once('SIGINT', onSignal);
	process.once('SIGTERM', onSignal);
	try {
		const modules = snippets.map((snippet, index) => toModule(snippet, index, valueNames));
		for (const module of modules) {
			await writeFile(path.join(dir, module.name), module.source);
		}

		// meshbox's ambient declarations (src/types/*.d.ts: what a dependency or Node's types lack): the sources
		// need them, and the project's tsconfig includes them by its `include`, which a `files` list does not.
		const ambient = (await readdir(path.join(repoRoot, 'src/types'))).filter(name => name.endsWith('.d.ts')).map(name => path.join(repoRoot, 'src/types', name));
		const files = [...modules.map(module => module.name), ...ambient];
		await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }, null, '\t'));
		const output = await runTsc(dir);
		const byName = new Map(modules.map(module => [module.name, module]));
		const errors: string[] = [];
		for (const line of output.split('\n')) {
			const match = diagnosticPattern.exec(line.trim());
			if (!match) {
				continue;
			}

			const [, file = '', row = '0', column = '0', severity, code, message] = match;
			const module = byName.get(path.basename(file));
			if (module && path.resolve(dir, file) === path.join(dir, module.name)) {
				const blockLine = Number(row) - module.offset - 1;
				const where = blockLine < 0
					? `${module.snippet.file}:${module.snippet.line}` // in the fragment's wrapper: the block as a whole
					: `${module.snippet.file}:${module.snippet.line + blockLine}:${Math.max(1, Number(column) - module.indent)}`;
				errors.push(`${where}: ${severity} ${code}: ${message}`);
			} else {
				// An error outside the blocks (meshbox's own sources): shown as tsc says it.
				errors.push(`${path.relative(process.cwd(), path.resolve(dir, file))}:${row}:${column}: ${severity} ${code}: ${message}`);
			}
		}

		if (errors.length === 0 && /error/i.test(output)) {
			errors.push(`tsc failed: ${output.trim()}`);
		}

		return { snippets: snippets.length, fragments: snippets.filter(snippet => snippet.fragment).length, errors: [...elsewhere, ...errors] };
	} finally {
		process.off('SIGINT', onSignal);
		process.off('SIGTERM', onSignal);
		await removeDir();
	}
}

/** Runs the project's own TypeScript compiler (no shell) and returns its diagnostics. */
async function runTsc(dir: string): Promise<string> {
	// The package's bin (not in its `exports`): found next to its package.json.
	const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
	return new Promise(resolve => {
		execFile(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, maxBuffer: 64 * 1024 * 1024 }, (_error, stdout, stderr) => {
			// tsc exits 2 when it found errors: that is a result here, read from its output.
			resolve(`${stdout}${stderr}`);
		});
	});
}

/** README.md and every docs/*.md, relative to the repository root. */
export async function defaultDocFiles(): Promise<string[]> {
	const docs = (await readdir(path.join(repoRoot, 'docs'))).filter(name => name.endsWith('.md')).sort();
	return [path.join(repoRoot, 'README.md'), ...docs.map(name => path.join(repoRoot, 'docs', name))];
}

async function main(): Promise<void> {
	const given = process.argv.slice(2);
	const files = given.length > 0 ? given : await defaultDocFiles();
	const shown = files.map(file => path.relative(process.cwd(), file) || file);
	const result = await checkDocSnippets(shown);
	for (const error of result.errors) {
		console.error(error);
	}

	if (result.errors.length > 0) {
		console.error(`check-doc-snippets: ${result.errors.length} error(s) in the TypeScript blocks of ${shown.join(', ')}`);
		process.exitCode = 1;
		return;
	}

	console.log(`check-doc-snippets: ${result.snippets} TypeScript block(s) type-check (${result.fragments} fragment(s)) in ${shown.length} file(s)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
	await main();
}
