/**
 * A lean, honest package (issue #24): what `npm pack` ships, checked from the tarball's file list and the
 * staged build, without installing it (test/package/package.test.ts installs and runs it).
 * - at most 700 KB packed, with the LICENSE that package.json's `license` names;
 * - each piece of code once: every JavaScript file is tsc's output of one source module (no CLI bundle beside
 *   dist/), with its source map;
 * - type declarations only for what the entry point can reach (none of the generated Envoy API data);
 * - every package the shipped JavaScript imports is declared in `dependencies` (or an optional peer).
 */
import { builtinModules } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from '../helpers/paths.ts';
import { declarationClosure, importedSpecifiers } from '../../scripts/prune-declarations.ts';
import { packCheckout, type Packed } from './pack.ts';

type Manifest = {
	license: string;
	dependencies: Record<string, string>;
	peerDependencies?: Record<string, string>;
	peerDependenciesMeta?: Record<string, { optional?: boolean }>;
	keywords?: string[];
};

const maxPackedBytes = 700_000;

const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-lean-'));
test.after.always(async () => rm(dir, { recursive: true, force: true }));

let packing: Promise<{ packed: Packed; unpacked: string }> | undefined;
/** One `npm pack` for all tests of the file, unpacked into `dir/package`. */
async function packOnce(): Promise<{ packed: Packed; unpacked: string }> {
	packing ??= (async () => {
		const packed = await packCheckout(dir);
		await execa('tar', ['-xzf', packed.tarball, '-C', dir]);
		return { packed, unpacked: path.join(dir, 'package') };
	})();
	return packing;
}

/** The package name a specifier imports: `protobufjs/minimal.js` → protobufjs, `@scope/x/y` → @scope/x. */
function packageName(specifier: string): string {
	const parts = specifier.split('/');
	return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0] ?? specifier;
}

test('npm pack: at most 700 KB, with the LICENSE package.json names', async t => {
	t.timeout(5 * 60_000);
	const { packed, unpacked } = await packOnce();
	t.log(`${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${packed.files.length} files`);
	t.true(packed.size <= maxPackedBytes, `${packed.size} bytes packed (at most ${maxPackedBytes})`);
	const manifest = JSON.parse(await readFile(path.join(unpacked, 'package.json'), 'utf8')) as Manifest;
	t.is(manifest.license, 'Apache-2.0');
	t.true(packed.files.includes('LICENSE'));
	const license = await readFile(path.join(unpacked, 'LICENSE'), 'utf8');
	t.regex(license, /^\s*Apache License\s+Version 2\.0, January 2004/);
	t.regex(license, /END OF TERMS AND CONDITIONS/, 'the whole license text');
	t.true((manifest.keywords ?? []).includes('proxy-wasm'), 'keywords say what it is for');
});

test('each piece of code ships once: tsc\'s output of one source module per file, each with its source map', async t => {
	t.timeout(5 * 60_000);
	const { packed } = await packOnce();
	const code = packed.files.filter(file => /\.(?:[cm]?js)$/.test(file) && file.startsWith('dist/'));
	t.true(code.includes('dist/cli/main.js'), 'the CLI is dist/cli/main.js');
	const bin = await readFile(path.join(repoRoot, 'bin', 'meshbox.js'), 'utf8');
	t.regex(bin, /new URL\('\.\.\/dist\/cli\/main\.js', import\.meta\.url\)/, 'bin/meshbox.js runs dist/cli/main.js');
	const orphans = [];
	for (const file of code) {
		const source = path.join(repoRoot, 'src', file.slice('dist/'.length).replace(/\.js$/, '.ts'));
		if (!(await readFile(source).then(() => true, () => false))) {
			orphans.push(file);
		}
	}

	t.deepEqual(orphans, [], 'no JavaScript without its source module (a bundle would be code shipped twice)');
	// Generated data modules (Envoy's API schema, the Gateway API CRDs) are one string or object each: a map of them
	// maps nothing a reader would step through, and would ship their size again.
	t.deepEqual(code.filter(file => !file.endsWith('.generated.js') && !packed.files.includes(`${file}.map`)), [], 'every module of code has its source map');
});

test('type declarations: only those dist/index.d.ts reaches, none of generated internal data', async t => {
	t.timeout(5 * 60_000);
	const { packed, unpacked } = await packOnce();
	const declarations = packed.files.filter(file => file.endsWith('.d.ts'));
	t.deepEqual(declarations.filter(file => file.includes('.generated.')), []);
	const closure = await declarationClosure(path.join(unpacked, 'dist', 'index.d.ts'));
	const reachable = new Set([...closure.files].map(file => path.relative(unpacked, file)));
	t.deepEqual(declarations.filter(file => !reachable.has(file)), [], 'no declaration the entry point cannot reach');
	t.deepEqual([...reachable].filter(file => !declarations.includes(file)), [], 'every reachable declaration is shipped');
});

// dist/runtime/envoy-usage.d.ts is reachable (EnvoyUsage, runtime/types.ts, scenario/sandbox.ts): its Docker
// client is a structural type, so a user's `tsc` needs neither @types/dockerode nor testcontainers.
test('public types pull neither dockerode\'s nor testcontainers\' types', async t => {
	t.timeout(5 * 60_000);
	const { unpacked } = await packOnce();
	const closure = await declarationClosure(path.join(unpacked, 'dist', 'index.d.ts'));
	const docker = [...closure.packages].filter(([name]) => ['dockerode', 'testcontainers'].includes(packageName(name)));
	t.deepEqual(docker.map(([name, file]) => `${name} ← ${path.relative(unpacked, file)}`), []);
});

// sandboxFor(), the assertions and stories() take a runner-neutral test (src/scenario/test-context.ts).
test('public types need no ava', async t => {
	t.timeout(5 * 60_000);
	const { unpacked } = await packOnce();
	const closure = await declarationClosure(path.join(unpacked, 'dist', 'index.d.ts'));
	const ava = [...closure.packages].filter(([name]) => packageName(name) === 'ava');
	t.deepEqual(ava.map(([name, file]) => `${name} ← ${path.relative(unpacked, file)}`), []);
});

test('ava is an optional peer, not a dependency', async t => {
	const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as Manifest;
	t.false('ava' in manifest.dependencies);
	t.truthy(manifest.peerDependencies?.ava);
	t.true(manifest.peerDependenciesMeta?.ava?.optional);
});

test('every package the shipped JavaScript imports is declared', async t => {
	t.timeout(5 * 60_000);
	const { packed, unpacked } = await packOnce();
	const manifest = JSON.parse(await readFile(path.join(unpacked, 'package.json'), 'utf8')) as Manifest;
	const declared = new Set([...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies ?? {})]);
	const builtins = new Set(builtinModules);
	const undeclared = new Map<string, string>();
	for (const file of packed.files.filter(name => /\.(?:[cm]?js)$/.test(name))) {
		const text = await readFile(path.join(unpacked, file), 'utf8');
		const requires = [...text.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)].map(match => match[1] ?? '');
		for (const specifier of [...importedSpecifiers(text), ...requires]) {
			const name = packageName(specifier);
			if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(name) || !/^(?:@[\w.-]+\/)?[\w.-]+$/.test(name)) {
				continue;
			}

			if (!declared.has(name) && !undeclared.has(name)) {
				undeclared.set(name, file);
			}
		}
	}

	t.deepEqual([...undeclared].map(([name, file]) => `${name} (imported by ${file})`), []);
	t.true(declared.has('esbuild'), 'esbuild, which the docker runtime imports to bundle the upstream');
});

test('one Docker client: package-lock.json installs dockerode once (testcontainers uses meshbox\'s)', async t => {
	const lock = JSON.parse(await readFile(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
	const copies = Object.entries(lock.packages).filter(([key]) => key === 'node_modules/dockerode' || key.endsWith('/node_modules/dockerode'));
	t.deepEqual(copies.map(([key]) => key), ['node_modules/dockerode'], copies.map(([key, entry]) => `${key}@${entry.version ?? '?'}`).join(', '));
});
