/**
 * Builds the proxy-wasm plugin fixtures in fixtures/plugins/<name>/ into
 * fixtures/plugins/<name>/<name>.wasm. The .wasm files are committed, so the
 * sandbox runs on machines without Rust; this script only rebuilds fixtures
 * whose sources (or toolchain) changed, tracked by a sha256 in
 * fixtures/plugins/<name>/.source-hash.
 *
 * Three kinds of fixture, told apart by their directory's content:
 *
 * - Rust (a Cargo.toml listed in fixtures/plugins/Cargo.toml's workspace): built
 *   with Debian's toolchain (/usr/bin/cargo, rustc 1.63), not rustup's: Debian
 *   ships the wasm32-unknown-unknown standard library as a package
 *   (libstd-rust-dev-wasm32), so every machine gets it from apt. The target is
 *   wasm32-unknown-unknown because wasm32-wasi pulls in getrandom, which fails
 *   there. Cargo.lock pins crates that build on rustc 1.63.
 * - Go (*.go files; one module, fixtures/plugins/go.mod, one main package per
 *   fixture directory): Go >= 1.24, `GOOS=wasip1 GOARCH=wasm go build
 *   -buildmode=c-shared` (a WASI reactor), with the proxy-wasm Go SDK pinned in
 *   go.mod/go.sum and fetched from the Go module proxy on first use.
 * - AssemblyScript (assembly/index.ts): the compiler and the SDK live in their own
 *   package, fixtures/plugins/assemblyscript (package.json + package-lock.json),
 *   installed here with `npm ci` whenever the lock file changes; compiled with
 *   fixtures/plugins/assemblyscript/asconfig.json, which extends
 *   @assemblyscript/wasi-shim's. (The SDK's README adds `--use abort=abort_proc_exit`;
 *   asc appends the extended config's `use` list after it, so wasi-shim's
 *   abort=wasi_abort wins anyway, and the option is left out.)
 *   fixtures/plugins/assemblyscript/lib/ holds helpers the fixtures share.
 *
 *   node --import tsx scripts/build-plugins.ts [--force] [name...]
 *
 * Env: MESHBOX_CARGO / MESHBOX_RUSTC / MESHBOX_GO / MESHBOX_NPM override the
 * toolchain paths.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PLUGINS_DIR = path.join(ROOT, 'fixtures', 'plugins');
const WASM_TARGET = 'wasm32-unknown-unknown';

/** Plugin kinds, each with a Builder in BUILDERS. */
type Kind = 'rust' | 'go' | 'assemblyscript';

interface Plugin {
	name: string;
	kind: Kind;
	dir: string;
	wasm: string;
	hashFile: string;
}

interface Builder {
	/** Recognises a fixture directory of this kind. */
	detect(dir: string): boolean;
	/** A string naming the toolchain; part of the staleness hash. Throws BuildError if it is missing. */
	toolchain(): Promise<string>;
	/** The files whose content decides the build output. */
	sources(plugin: Plugin): Promise<string[]>;
	/** Builds the plugin and returns the path of the module it produced. */
	build(plugin: Plugin): Promise<string>;
}

/** A failure reported as one line, without a stack trace. */
class BuildError extends Error {}

async function listFiles(dir: string): Promise<string[]> {
	if (!existsSync(dir)) return [];
	const entries = await readdir(dir, { withFileTypes: true, recursive: true });
	return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

// ---------------------------------------------------------------- Rust

function rustBuilder(): Builder {
	const cargo = process.env['MESHBOX_CARGO'] ?? '/usr/bin/cargo';
	const rustc = process.env['MESHBOX_RUSTC'] ?? '/usr/bin/rustc';
	const workspaceToml = path.join(PLUGINS_DIR, 'Cargo.toml');
	const targetDir = path.join(PLUGINS_DIR, 'target');
	const vendorDir = path.join(targetDir, 'vendor');
	// Put the chosen toolchain first so nothing falls through to rustup's proxies.
	const binDirs = [cargo, rustc].filter((p) => path.isAbsolute(p)).map((p) => path.dirname(p));
	const env = {
		RUSTC: rustc,
		CARGO_TARGET_DIR: targetDir,
		PATH: [...new Set(binDirs), process.env['PATH'] ?? ''].join(path.delimiter),
	};
	let members: Set<string> | undefined;
	let vendored = false;

	async function run(file: string, args: string[]): Promise<string> {
		const result = await execa(file, args, { env, reject: false });
		if (result.code === 'ENOENT' || result.code === 'EACCES') {
			throw new BuildError(
				`Debian's Rust toolchain is missing (${file}). Install it: apt-get install rustc cargo libstd-rust-dev-wasm32`,
			);
		}
		if (result.failed) throw new BuildError(`${file} ${args.join(' ')} failed: ${result.shortMessage}`);
		return result.stdout;
	}

	/**
   * Downloads the locked crates into target/vendor. Cargo before 1.68 (Debian
   * ships 1.65) reaches crates.io only through its git index on github.com;
   * the sparse index needs `-Z sparse-registry`, allowed by RUSTC_BOOTSTRAP=1.
   * Vendoring keeps that unstable switch to this download step: the compile
   * itself is plain stable cargo, offline, reading target/vendor.
   */
	async function vendor(): Promise<void> {
		const version = /^cargo (\d+)\.(\d+)/.exec(await run(cargo, ['--version']));
		const oldCargo = version !== null && Number(version[1]) === 1 && Number(version[2]) < 68;
		const args = [...(oldCargo ? ['-Z', 'sparse-registry'] : []), 'vendor', '--quiet', '--locked', '--versioned-dirs', vendorDir];
		const result = await execa(cargo, args, {
			cwd: PLUGINS_DIR,
			env: oldCargo ? { ...env, RUSTC_BOOTSTRAP: '1' } : env,
			stdin: 'ignore',
			stdout: 'ignore',
			stderr: 'inherit',
			reject: false,
		});
		if (result.failed) throw new BuildError(`could not download the Rust crates (cargo vendor failed: ${result.shortMessage})`);
	}

	return {
		detect(dir) {
			if (!existsSync(path.join(dir, 'Cargo.toml'))) return false;
			if (members === undefined) {
				// A literal `members = [...]` list (no globs) in the workspace manifest.
				const list = /^\s*members\s*=\s*\[([^\]]*)\]/m.exec(existsSync(workspaceToml) ? readFileSync(workspaceToml, 'utf8') : '');
				members = new Set([...(list?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => path.join(PLUGINS_DIR, m[1] ?? '')));
			}
			if (members.has(dir)) return true;
			console.error(`build-plugins: skipping ${path.relative(ROOT, dir)}: not a member of ${path.relative(ROOT, workspaceToml)}`);
			return false;
		},

		async toolchain() {
			await run(cargo, ['--version']);
			const version = (await run(rustc, ['--version'])).trim();
			const libdir = (await run(rustc, ['--print', 'target-libdir', '--target', WASM_TARGET])).trim();
			const hasStd = existsSync(libdir) && (await readdir(libdir)).some((f) => f.startsWith('libstd-'));
			if (!hasStd) {
				throw new BuildError(
					`the ${WASM_TARGET} standard library is missing (${libdir}). Install it: apt-get install libstd-rust-dev-wasm32`,
				);
			}
			return version;
		},

		async sources(plugin) {
			const files = [path.join(plugin.dir, 'Cargo.toml'), path.join(plugin.dir, 'build.rs'), workspaceToml];
			files.push(path.join(PLUGINS_DIR, 'Cargo.lock'));
			return [...files.filter((f) => existsSync(f)), ...(await listFiles(path.join(plugin.dir, 'src')))];
		},

		async build(plugin) {
			if (!vendored) {
				await vendor();
				vendored = true;
			}
			const manifest = path.join(plugin.dir, 'Cargo.toml');
			const args = [
				'build',
				'--release',
				'--target',
				WASM_TARGET,
				'--offline',
				'--locked',
				'--config',
				'source.crates-io.replace-with="vendored-sources"',
				'--config',
				`source.vendored-sources.directory=${JSON.stringify(vendorDir)}`,
				// Keep this checkout's absolute paths out of the committed binaries (panic locations).
				'--config',
				`build.rustflags=${JSON.stringify([
					`--remap-path-prefix=${PLUGINS_DIR}=/meshbox/fixtures/plugins`,
					`--remap-path-prefix=${vendorDir}=/cargo/vendor`,
				])}`,
				'--manifest-path',
				manifest,
				'--message-format',
				'json-render-diagnostics',
			];
			// Progress and diagnostics go to stderr; stdout carries JSON messages naming the artifacts.
			const result = await execa(cargo, args, { cwd: PLUGINS_DIR, env, stdin: 'ignore', stderr: 'inherit', reject: false });
			if (result.failed) throw new BuildError(`${plugin.name}: cargo build failed (exit code ${result.exitCode ?? result.code ?? '?'})`);
			for (const line of result.stdout.split('\n')) {
				const msg: unknown = line.startsWith('{') ? JSON.parse(line) : undefined;
				if (!isArtifact(msg) || path.resolve(msg.manifest_path) !== manifest) continue;
				const wasm = msg.filenames.find((f) => f.endsWith('.wasm'));
				if (wasm !== undefined) return wasm;
			}
			throw new BuildError(`${plugin.name}: cargo produced no .wasm (is it a cdylib?)`);
		},
	};
}

interface CargoArtifact {
	reason: 'compiler-artifact';
	manifest_path: string;
	filenames: string[];
}

function isArtifact(msg: unknown): msg is CargoArtifact {
	if (typeof msg !== 'object' || msg === null) return false;
	const m = msg as Record<string, unknown>;
	return (
		m['reason'] === 'compiler-artifact' &&
		typeof m['manifest_path'] === 'string' &&
		Array.isArray(m['filenames']) &&
		m['filenames'].every((f) => typeof f === 'string')
	);
}

// ---------------------------------------------------------------- Go

/** The oldest Go whose wasip1 port builds reactors (-buildmode=c-shared), which the SDK needs. */
const MIN_GO = [1, 24] as const;

function goBuilder(): Builder {
	const go = process.env['MESHBOX_GO'] ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go');
	const goMod = path.join(PLUGINS_DIR, 'go.mod');
	const goSum = path.join(PLUGINS_DIR, 'go.sum');
	const outDir = path.join(PLUGINS_DIR, 'target', 'go');
	const env = {
		GOOS: 'wasip1',
		GOARCH: 'wasm',
		CGO_ENABLED: '0',
		// Never download another toolchain; go.mod's `go` line is a minimum, not a pin.
		GOTOOLCHAIN: 'local',
		// go.sum is committed: fail rather than edit it; no VCS stamping (the output must not depend on git state).
		GOFLAGS: '-mod=readonly -buildvcs=false',
	};

	return {
		detect(dir) {
			if (!existsSync(goMod)) return false;
			return readdirSync(dir).some((f) => f.endsWith('.go'));
		},

		async toolchain() {
			const result = await execa(go, ['version'], { env, reject: false });
			if (result.code === 'ENOENT' || result.code === 'EACCES' || result.failed) {
				throw new BuildError(`Go ${MIN_GO.join('.')}+ is missing (${go}). Install it from go.dev/dl or set MESHBOX_GO`);
			}
			const version = /go(\d+)\.(\d+)/.exec(result.stdout);
			const [major, minor] = [Number(version?.[1] ?? 0), Number(version?.[2] ?? 0)];
			if (major < MIN_GO[0] || (major === MIN_GO[0] && minor < MIN_GO[1])) {
				throw new BuildError(`${result.stdout.trim()} is too old: the proxy-wasm Go SDK needs Go ${MIN_GO.join('.')}+ (wasip1 reactors)`);
			}
			return result.stdout.trim();
		},

		async sources(plugin) {
			const files = (await listFiles(plugin.dir)).filter((f) => f.endsWith('.go'));
			return [goMod, goSum, ...files].filter((f) => existsSync(f));
		},

		async build(plugin) {
			await mkdir(outDir, { recursive: true });
			const out = path.join(outDir, `${plugin.name}.wasm`);
			const args = ['build', '-buildmode=c-shared', '-trimpath', '-o', out, `./${plugin.name}`];
			const result = await execa(go, args, { cwd: PLUGINS_DIR, env, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit', reject: false });
			if (result.failed) throw new BuildError(`${plugin.name}: go build failed (exit code ${result.exitCode ?? result.code ?? '?'})`);
			return out;
		},
	};
}

// ---------------------------------------------------------------- AssemblyScript

function assemblyScriptBuilder(): Builder {
	const npm = process.env['MESHBOX_NPM'] ?? 'npm';
	const toolDir = path.join(PLUGINS_DIR, 'assemblyscript');
	const lockFile = path.join(toolDir, 'package-lock.json');
	const modules = path.join(toolDir, 'node_modules');
	const stamp = path.join(modules, '.meshbox-lock-sha256');
	const libDir = path.join(toolDir, 'lib');
	const asconfig = path.join(toolDir, 'asconfig.json');
	const outDir = path.join(PLUGINS_DIR, 'target', 'assemblyscript');

	/** Installs the locked compiler and SDK unless node_modules already matches the lock file. */
	async function install(): Promise<void> {
		const lockHash = createHash('sha256').update(await readFile(lockFile)).digest('hex');
		if ((await readHash(stamp)) === lockHash) return;
		const result = await execa(npm, ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
			cwd: toolDir,
			stdin: 'ignore',
			stdout: 'ignore',
			stderr: 'inherit',
			reject: false,
		});
		if (result.code === 'ENOENT') throw new BuildError(`npm is missing (${npm}); it comes with Node.js`);
		if (result.failed) throw new BuildError(`could not install the AssemblyScript toolchain (npm ci in ${path.relative(ROOT, toolDir)} failed)`);
		await writeFile(stamp, `${lockHash}\n`);
	}

	let installed = false;

	return {
		detect(dir) {
			return existsSync(path.join(dir, 'assembly', 'index.ts'));
		},

		/** Read from the lock file, so checking whether fixtures are up to date needs no install. */
		async toolchain() {
			if (!existsSync(lockFile)) throw new BuildError(`${path.relative(ROOT, lockFile)} is missing`);
			const lock = JSON.parse(await readFile(lockFile, 'utf8')) as { packages?: Record<string, { version?: string }> };
			const names = ['assemblyscript', '@assemblyscript/wasi-shim', '@gcoredev/proxy-wasm-sdk-as'];
			return names.map((n) => `${n}@${lock.packages?.[`node_modules/${n}`]?.version ?? '?'}`).join(' ');
		},

		async sources(plugin) {
			return [lockFile, asconfig, ...(await listFiles(path.join(plugin.dir, 'assembly'))), ...(await listFiles(libDir))];
		},

		async build(plugin) {
			if (!installed) {
				await install();
				installed = true;
			}
			await mkdir(outDir, { recursive: true });
			const out = path.join(outDir, `${plugin.name}.wasm`);
			const args = [
				path.join(modules, 'assemblyscript', 'bin', 'asc.js'),
				path.join('assembly', 'index.ts'),
				// wasi-shim's asconfig (WASI console/process/Date/abort; the SDK logs through it), optimisation,
				// and the name section (Envoy's in-VM backtraces print function names).
				// Relative paths: asc mis-resolves the config's `lib` and `extends` when given an absolute path.
				'--config',
				path.relative(plugin.dir, asconfig),
				// Resolve the SDK from the toolchain package (the fixture has no node_modules of its own).
				'--path',
				path.relative(plugin.dir, modules),
				'--outFile',
				out,
			];
			const result = await execa(process.execPath, args, { cwd: plugin.dir, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit', reject: false });
			if (result.failed) throw new BuildError(`${plugin.name}: asc failed (exit code ${result.exitCode ?? result.code ?? '?'})`);
			return out;
		},
	};
}

// ---------------------------------------------------------------- main

const BUILDERS: Record<Kind, Builder> = { rust: rustBuilder(), go: goBuilder(), assemblyscript: assemblyScriptBuilder() };

async function discover(): Promise<Plugin[]> {
	const entries = await readdir(PLUGINS_DIR, { withFileTypes: true });
	const plugins: Plugin[] = [];
	// `target` holds build output; `assemblyscript` is the AssemblyScript toolchain package, not a fixture.
	const skip = new Set(['target', 'assemblyscript']);
	for (const entry of entries.filter((e) => e.isDirectory() && !skip.has(e.name)).sort((a, b) => a.name.localeCompare(b.name))) {
		const dir = path.join(PLUGINS_DIR, entry.name);
		const kind = (Object.keys(BUILDERS) as Kind[]).find((k) => BUILDERS[k].detect(dir));
		if (kind === undefined) continue;
		const name = entry.name;
		plugins.push({ name, kind, dir, wasm: path.join(dir, `${name}.wasm`), hashFile: path.join(dir, '.source-hash') });
	}
	return plugins;
}

async function sourceHash(plugin: Plugin, toolchain: string): Promise<string> {
	const files = (await BUILDERS[plugin.kind].sources(plugin)).map((f) => ({
		file: f,
		rel: path.relative(PLUGINS_DIR, f).split(path.sep).join('/'),
	}));
	files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
	const hash = createHash('sha256');
	for (const { file, rel } of files) hash.update(`${rel}\0`).update(await readFile(file)).update('\0');
	return hash.update(`toolchain\0${toolchain}`).digest('hex');
}

async function readHash(file: string): Promise<string | undefined> {
	return existsSync(file) ? (await readFile(file, 'utf8')).trim() : undefined;
}

// The WebAssembly global exists in Node, but the project's lib settings do not declare it.
declare const WebAssembly: {
	Module: { new (bytes: Uint8Array): object; exports(module: object): Array<{ name: string }> };
};

/**
 * Guards against copying the wrong artifact: a proxy-wasm module Envoy can load exports an ABI
 * version it knows (0.2.x) and an allocator for the host (`malloc` or `proxy_on_memory_allocate`).
 */
async function checkModule(plugin: Plugin, wasm: string): Promise<void> {
	const exports = WebAssembly.Module.exports(new WebAssembly.Module(await readFile(wasm))).map((e) => e.name);
	if (!exports.some((e) => /^proxy_abi_version_0_2_\d+$/.test(e))) {
		throw new BuildError(`${plugin.name}: ${wasm} does not export proxy_abi_version_0_2_* (not a proxy-wasm 0.2 module)`);
	}
	if (!exports.includes('malloc') && !exports.includes('proxy_on_memory_allocate')) {
		throw new BuildError(`${plugin.name}: ${wasm} exports neither malloc nor proxy_on_memory_allocate`);
	}
}

async function main(): Promise<void> {
	const { values, positionals } = parseArgs({ options: { force: { type: 'boolean', default: false } }, allowPositionals: true });
	const all = await discover();
	const unknown = positionals.filter((n) => !all.some((p) => p.name === n));
	if (unknown.length > 0) {
		throw new BuildError(`unknown plugin ${unknown.join(', ')} (known: ${all.map((p) => p.name).join(', ')})`);
	}
	const selected = positionals.length > 0 ? all.filter((p) => positionals.includes(p.name)) : all;
	const toolchains = new Map<Kind, string>();
	for (const plugin of selected) {
		let toolchain = toolchains.get(plugin.kind);
		if (toolchain === undefined) {
			toolchain = await BUILDERS[plugin.kind].toolchain();
			toolchains.set(plugin.kind, toolchain);
		}
		const hash = await sourceHash(plugin, toolchain);
		if (!values.force && existsSync(plugin.wasm) && (await readHash(plugin.hashFile)) === hash) {
			await checkModule(plugin, plugin.wasm);
			console.log(`${plugin.name}: up to date`);
			continue;
		}
		const started = performance.now();
		const built = await BUILDERS[plugin.kind].build(plugin);
		await checkModule(plugin, built);
		await copyFile(built, plugin.wasm);
		await chmod(plugin.wasm, 0o644);
		await writeFile(plugin.hashFile, `${hash}\n`);
		const seconds = ((performance.now() - started) / 1000).toFixed(1);
		const kib = Math.round((await stat(plugin.wasm)).size / 1024);
		console.log(`${plugin.name}: built in ${seconds}s (${kib} KiB)`);
	}
}

main().catch((err: unknown) => {
	if (err instanceof BuildError) {
		console.error(`build-plugins: ${err.message}`);
	} else {
		console.error(err);
	}
	process.exit(1);
});
