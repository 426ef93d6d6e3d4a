/**
 * The shape of src/: no import cycle, and every import goes down the layer order below (issue #24, item 8).
 *
 * The imports are read from the source text (static `import … from`, `export … from`, side-effect `import '…'`
 * and dynamic `import('…')`), type-only ones included: a type import is a dependency a reader has to follow too,
 * and it is what made the runtime contract depend on the local runtime before.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from './helpers/paths.ts';

const srcRoot = path.join(repoRoot, 'src');

/**
 * The layers, lowest first: a module may import its own layer and the layers before it, never one after it.
 * Each entry is a path under src/ (a folder, or one file), the longest matching entry naming a file's layer.
 * Entries in one inner list are peers: neither may import the other. README.md's "Layout" states the same order.
 */
const layers: readonly (readonly string[])[] = [
	['errors.ts', 'types'],
	// Pure helpers (JSON, locks, the cache dir, rings).
	['util'],
	// Envoy's type URLs: a leaf both the renderer and the control plane name resources by.
	['envoy-api'],
	// meshbox.yaml / the scenario API's spec → the plain SandboxModel; knows nothing of Istio or Envoy's JSON.
	['config'],
	// The xDS wire: Envoy's API schema, protobuf codec, the ADS/SDS gRPC server. The Istio emulation decodes
	// EnvoyFilter patches with its codec, so it sits below src/istio.
	['xds'],
	// A running Envoy: its admin API and log lines.
	['envoy-admin'],
	// Finding, installing and starting an Envoy binary (startup failures are explained from its log lines).
	['envoy-binary'],
	// The renderer: SandboxModel → bootstrap, listeners, clusters, patches.
	['envoy'],
	// The Istio emulation: resources → SandboxModel pieces; it dry-runs EnvoyFilter patches through the renderer's
	// patch engine and asks which Envoy versions are installed, so it sits above both.
	['istio'],
	// The recording apps (they run in their own process or container, and import only config).
	['upstream'],
	// The runtime contract and what both runtimes share.
	['runtime'],
	['runtime/local', 'runtime/docker'],
	// Picks a runtime by name: the one module of src/runtime that knows both.
	['runtime/start.ts'],
	// Spec → model → running sandbox (and mesh), and changing a running one: what the front ends call.
	['compose'],
	// The front ends: the scenario API, `meshbox measure` (which drives a scenario sandbox), the CLI.
	['scenario'],
	['measure'],
	['cli'],
	// The package's exports.
	['index.ts'],
];

/**
 * Imports against the order that are there on purpose, each with its reason. Empty today: keep it short. An
 * entry that no import needs any more fails the test too, so the list stays true.
 */
const allowedAgainstOrder: readonly { readonly from: string; readonly to: string; readonly why: string }[] = [];

type Graph = ReadonlyMap<string, readonly string[]>;

function sourceFiles(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) {
			return sourceFiles(full);
		}

		return entry.name.endsWith('.ts') ? [full] : [];
	});
}

/** The relative specifiers a module imports; comment lines (starting with `//` or `*`) never match. */
function relativeImports(source: string): string[] {
	const patterns = [
		// import x from './a.ts'; import type { A } from './a.ts'; export { a } from './a.ts'; multi-line braces too.
		/^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])(\.{1,2}\/[^'"]+)\1/gm,
		// import './a.ts';
		/^[ \t]*import\s*(['"])(\.{1,2}\/[^'"]+)\1/gm,
		// await import('./a.ts')
		/\bimport\(\s*(['"])(\.{1,2}\/[^'"]+)\1\s*\)/g,
	];
	return patterns.flatMap(pattern => [...source.matchAll(pattern)].map(match => match[2]!));
}

/** src-relative path → the src-relative paths it imports (POSIX separators). */
function importGraph(): Graph {
	const graph = new Map<string, string[]>();
	for (const file of sourceFiles(srcRoot)) {
		const from = toSrcPath(file);
		const targets = relativeImports(readFileSync(file, 'utf8')).map(specifier => toSrcPath(path.resolve(path.dirname(file), specifier)));
		graph.set(from, [...new Set(targets)]);
	}

	return graph;
}

function toSrcPath(file: string): string {
	return path.relative(srcRoot, file).split(path.sep).join('/');
}

/** The layer entry a src path belongs to (the longest entry that is the path or a folder above it), and its rank. */
function layerOf(file: string): { readonly name: string; readonly rank: number } | undefined {
	let best: { name: string; rank: number } | undefined;
	layers.forEach((peers, rank) => {
		for (const name of peers) {
			if ((file === name || file.startsWith(`${name}/`)) && name.length > (best?.name.length ?? -1)) {
				best = { name, rank };
			}
		}
	});
	return best;
}

/** Every cycle's modules (strongly connected components with more than one module, or a module importing itself). */
function cycles(graph: Graph): string[][] {
	// Tarjan's strongly connected components (recursive: src/'s import chains are a few dozen deep at most).
	let index = 0;
	const indexOf = new Map<string, number>();
	const lowOf = new Map<string, number>();
	const stack: string[] = [];
	const onStack = new Set<string>();
	const found: string[][] = [];
	const visit = (node: string): void => {
		indexOf.set(node, index);
		lowOf.set(node, index);
		index++;
		stack.push(node);
		onStack.add(node);
		for (const next of graph.get(node) ?? []) {
			if (!indexOf.has(next)) {
				visit(next);
				lowOf.set(node, Math.min(lowOf.get(node)!, lowOf.get(next)!));
			} else if (onStack.has(next)) {
				lowOf.set(node, Math.min(lowOf.get(node)!, indexOf.get(next)!));
			}
		}

		if (lowOf.get(node) === indexOf.get(node)) {
			const component: string[] = [];
			let member: string;
			do {
				member = stack.pop()!;
				onStack.delete(member);
				component.push(member);
			} while (member !== node);
			if (component.length > 1 || (graph.get(node) ?? []).includes(node)) {
				found.push(component.sort());
			}
		}
	};

	for (const node of [...graph.keys()].sort()) {
		if (!indexOf.has(node)) {
			visit(node);
		}
	}

	return found;
}

const graph = importGraph();

test('the import reader finds static, type-only, re-exported, multi-line, side-effect and dynamic imports, not comments', t => {
	const source = [
		`import { a } from './a.ts';`,
		`import type { B } from '../b/b.ts';`,
		`export { c } from './c.ts';`,
		`export type * from './d.ts';`,
		`import {\n\te,\n\tf,\n} from './e.ts';`,
		`import './side-effect.ts';`,
		`const { g } = await import('./g.ts');`,
		`import { readFile } from 'node:fs/promises';`,
		`// import { h } from './commented.ts';`,
		` * import { i } from './in-a-doc-comment.ts';`,
	].join('\n');
	t.deepEqual(relativeImports(source).sort(), ['../b/b.ts', './a.ts', './c.ts', './d.ts', './e.ts', './g.ts', './side-effect.ts']);
});

test('the cycle finder finds a cycle, and none in a tree', t => {
	t.deepEqual(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]])), [['a.ts', 'b.ts', 'c.ts']]);
	t.deepEqual(cycles(new Map([['a.ts', ['b.ts', 'c.ts']], ['b.ts', ['c.ts']], ['c.ts', []]])), []);
});

test('src/ reads as a graph of many modules, every import resolving to a file of src/', t => {
	t.true(graph.size > 100, `only ${graph.size} modules found under ${srcRoot}`);
	const unresolved = [...graph].flatMap(([from, targets]) => targets.filter(target => !graph.has(target)).map(target => `${from} → ${target}`));
	t.deepEqual(unresolved, [], 'imports of files that are not in src/ (or a reader that misread one)');
});

test('src/ has no import cycle', t => {
	t.deepEqual(cycles(graph).map(cycle => cycle.join(' → ')), []);
});

test('every module of src/ is in a layer', t => {
	const outside = [...graph.keys()].filter(file => !layerOf(file));
	t.deepEqual(outside, [], 'add these paths (or their folder) to `layers` in test/architecture.test.ts and to README.md\'s Layout');
});

test('every import goes down the layer order (or is listed, with its reason, as allowed)', t => {
	const against: string[] = [];
	const used = new Set<string>();
	for (const [from, targets] of graph) {
		const source = layerOf(from);
		for (const to of targets) {
			const target = layerOf(to);
			if (!source || !target || source.name === target.name) {
				continue;
			}

			// Peers (same rank, other entry) may not import each other either.
			if (target.rank < source.rank) {
				continue;
			}

			const allowed = allowedAgainstOrder.find(entry => entry.from === from && entry.to === to);
			if (allowed) {
				used.add(`${allowed.from} → ${allowed.to}`);
				continue;
			}

			against.push(`${from} (${source.name}) → ${to} (${target.name})`);
		}
	}

	t.deepEqual(against, [], 'a lower layer imports a higher one (or a peer): move the shared part down, or invert the dependency');
	const stale = allowedAgainstOrder.map(entry => `${entry.from} → ${entry.to}`).filter(entry => !used.has(entry));
	t.deepEqual(stale, [], 'allowedAgainstOrder lists imports that are gone: remove them');
});

test('src/xds imports nothing of src/envoy, and the runtime contract nothing of a runtime', t => {
	// Named on their own (the layer order implies them) because they are what issue #24 item 8 asked for.
	const xdsOnRenderer = [...graph].filter(([from]) => from.startsWith('xds/')).flatMap(([from, targets]) => targets.filter(to => to.startsWith('envoy/')).map(to => `${from} → ${to}`));
	t.deepEqual(xdsOnRenderer, []);
	const contract = graph.get('runtime/types.ts') ?? [];
	t.true(contract.length > 0, 'runtime/types.ts was read');
	t.deepEqual(contract.filter(to => to.startsWith('runtime/local/') || to.startsWith('runtime/docker/')), []);
});
