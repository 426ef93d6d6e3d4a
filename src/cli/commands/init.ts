/**
 * `meshbox init [dir] --sdk rust|go|assemblyscript`: a plugin project that builds and passes its tests at once:
 * the seed's plugin in that SDK, its build command (`npm run build`), meshbox.yaml with `build:` (so
 * `meshbox up --watch` rebuilds it), one scenario told with stories(), package.json scripts and a GitHub Actions
 * workflow. The files come from the package's templates/ directory (templates/common plus templates/<sdk>);
 * path segments spelled `dot-x` become `.x` (npm pack leaves out some dotfiles, e.g. .gitignore).
 */
import { constants, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fileURLToPath } from 'node:url';
import { MeshboxError } from '../../errors.ts';
import type { Command } from '../command.ts';
import { usageError } from '../usage.ts';

export const sdkNames = ['rust', 'go', 'assemblyscript'] as const;
export type SdkName = typeof sdkNames[number];

/** The package root: templates/ and package.json sit there, next to src/ (a checkout) or dist/ (the package). */
const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));
const templatesDir = path.join(packageRoot, 'templates');

type SdkTemplate = {
	readonly title: string;
	/** The built module, relative to the project. */
	readonly wasm: (crate: string) => string;
	/** `npm run build` (npm runs it with sh, so `VAR=value cmd` works). */
	readonly build: (crate: string) => string;
	readonly source: string;
	/** What the build reads (meshbox.yaml's `build.watch`): `up --watch` rebuilds when one of them changes. */
	readonly watch: readonly string[];
	/** AssemblyScript selects its root context by root id. */
	readonly rootId: (name: string) => string;
	readonly devDependencies: Readonly<Record<string, string>>;
	/** Workflow steps (YAML, indented for the steps list) that install the toolchain. */
	readonly setup: string;
	readonly notes: string;
};

const sdks: Readonly<Record<SdkName, SdkTemplate>> = {
	rust: {
		title: 'Rust, proxy-wasm 0.2.2',
		wasm: crate => `target/wasm32-unknown-unknown/release/${crate}.wasm`,
		build: () => 'cargo build --release --target wasm32-unknown-unknown --locked',
		source: 'src/lib.rs',
		watch: ['src', 'Cargo.toml', 'Cargo.lock'],
		rootId: () => '',
		devDependencies: {},
		setup: [
			'      - name: Rust with the wasm32-unknown-unknown target',
			'        uses: dtolnay/rust-toolchain@stable',
			'        with:',
			'          targets: wasm32-unknown-unknown',
		].join('\n'),
		notes: '\nNeeds Rust with the `wasm32-unknown-unknown` target (rustup: `rustup target add wasm32-unknown-unknown`; Debian:\n'
			+ '`apt-get install cargo libstd-rust-dev-wasm32`). Cargo.lock pins crates that build with rustc 1.63. Cargo older than\n'
			+ '1.68 (Debian 12\'s) reaches crates.io only with `RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_SPARSE_REGISTRY=true` in the environment.\n',
	},
	go: {
		title: 'Go, proxy-wasm-go-sdk',
		wasm: () => 'build/plugin.wasm',
		build: () => 'GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/plugin.wasm .',
		source: 'main.go',
		// Go packages are directories of .go files: the project's root and the directories below it (`up --watch`
		// leaves out node_modules, build/ and dot-directories).
		watch: ['.'],
		rootId: () => '',
		devDependencies: {},
		setup: [
			'      - uses: actions/setup-go@v7',
			'        with:',
			'          go-version: stable',
		].join('\n'),
		notes: '\nNeeds Go 1.24 or newer (its wasip1 port builds the reactor module the SDK needs).\n',
	},
	assemblyscript: {
		title: 'AssemblyScript, @gcoredev/proxy-wasm-sdk-as',
		wasm: () => 'build/plugin.wasm',
		build: () => 'asc assembly/index.ts --config asconfig.json --outFile build/plugin.wasm',
		source: 'assembly/index.ts',
		watch: ['assembly', 'asconfig.json'],
		rootId: name => name,
		// The versions meshbox's own AssemblyScript fixtures build with (fixtures/plugins/assemblyscript).
		devDependencies: { '@assemblyscript/wasi-shim': '0.1.0', '@gcoredev/proxy-wasm-sdk-as': '1.2.3', assemblyscript: '0.28.9' },
		setup: '',
		notes: '\nThe toolchain comes from npm (`assemblyscript`, in devDependencies). The plugin registers its root context\n'
			+ 'under its own name, which meshbox.yaml passes as `rootId`.\n',
	},
};

export type InitOptions = {
	readonly dir: string;
	readonly sdk: SdkName;
	/** package.json's dependency on meshbox (a version range, `file:…tgz`, …). Default `^<this meshbox's version>`. */
	readonly meshbox?: string;
	/** The plugin's name. Default: the directory's name. */
	readonly name?: string;
};

/** Writes the project; returns the files written (relative to `dir`). */
export async function scaffold(options: InitOptions): Promise<string[]> {
	const dir = path.resolve(options.dir);
	if (existsSync(dir) && (await readdir(dir)).length > 0) {
		throw new MeshboxError('USAGE', `${options.dir} is not empty: meshbox init writes a new project and overwrites nothing`,
			'name a new or empty directory: meshbox init my-plugin --sdk ' + options.sdk);
	}

	const name = pluginName(options.name ?? path.basename(dir));
	const crate = name.replaceAll('-', '_');
	const sdk = sdks[options.sdk];
	const manifest = JSON.parse(await readFile(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
	const values: Record<string, string> = {
		__NAME__: name,
		__CRATE__: crate,
		__WASM__: sdk.wasm(crate),
		__ROOT_ID__: sdk.rootId(name),
		__SDK__: sdk.title,
		__SOURCE__: sdk.source,
		__WATCH__: `[${sdk.watch.join(', ')}]`,
		__SETUP__: sdk.setup,
		__NOTES__: sdk.notes,
	};

	const written: string[] = [];
	const meshbox = await meshboxDependency(options.meshbox, dir, manifest.version);
	if (meshbox.vendored) {
		written.push(meshbox.vendored);
	}

	for (const templateDir of [path.join(templatesDir, 'common'), path.join(templatesDir, options.sdk)]) {
		for (const file of await listFiles(templateDir)) {
			const target = file.split('/').map(segment => segment.replace(/^dot-/, '.')).join('/');
			const text = await readFile(path.join(templateDir, file), 'utf8');
			await writeProjectFile(dir, target, fill(text, values));
			written.push(target);
		}
	}

	const packageJson = {
		name,
		version: '0.1.0',
		private: true,
		type: 'module',
		scripts: {
			build: sdk.build(crate),
			sandbox: 'npm run build && meshbox up --watch',
			test: 'npm run build && ava',
			typecheck: 'tsc',
		},
		devDependencies: {
			...sdk.devDependencies,
			// tsc checks the scenarios (tsconfig.json) with node's types, as meshbox's own are checked.
			'@types/node': manifest.devDependencies?.['@types/node'] ?? '^20.19.0',
			ava: '^7.0.0',
			meshbox: meshbox.spec,
			// Runs the TypeScript scenarios (ava's nodeArguments).
			tsx: manifest.dependencies?.tsx ?? '^4.0.0',
			typescript: manifest.devDependencies?.typescript ?? '^5.9.0',
		},
		ava: {
			extensions: { ts: 'module' },
			nodeArguments: ['--import=tsx'],
			workerThreads: false,
			files: ['test/**/*.test.ts'],
			timeout: '2m',
		},
	};
	await writeProjectFile(dir, 'package.json', `${JSON.stringify(packageJson, undefined, 2)}\n`);
	written.push('package.json');
	return written.sort();
}

/**
 * package.json's dependency on meshbox, written so that the project installs on any machine, CI included:
 * - none given: this meshbox's version from the registry (`^0.1.0`);
 * - a version, range or tag (`0.1.0`, `^0.1`, `latest`) or another npm spec (`github:…`): as given;
 * - a packed tarball (`meshbox-0.1.0.tgz`, `file:…/meshbox-0.1.0.tgz`): copied into the project
 *   (`tarballs/meshbox-0.1.0.tgz`, to commit with it) and named relatively, `file:tarballs/meshbox-0.1.0.tgz`: an
 *   absolute path, or one outside the project, exists only on the machine that ran init;
 * - a directory (a meshbox checkout): `file:` and its path relative to the project, with `/` separators.
 */
export async function meshboxDependency(given: string | undefined, projectDir: string, version: string): Promise<{ spec: string; vendored?: string }> {
	if (given === undefined || given === '') {
		return { spec: `^${version}` };
	}

	const local = given.startsWith('file:') ? given.slice('file:'.length) : given;
	const looksLocal = given.startsWith('file:') || local.endsWith('.tgz') || local.startsWith('.') || path.isAbsolute(local) || local.includes(path.sep);
	if (!looksLocal) {
		return { spec: given };
	}

	const source = path.resolve(local);
	const stat = await statOrUndefined(source);
	if (stat === undefined) {
		throw new MeshboxError('USAGE', `--meshbox ${given}: no such file or directory (${source})`,
			'pass a meshbox tarball (npm pack), a meshbox checkout, or a version from the registry, e.g. --meshbox ^' + version);
	}

	if (stat.isDirectory()) {
		return { spec: `file:${toPosix(path.relative(projectDir, source)) || '.'}` };
	}

	// Not vendor/: Go takes a vendor/ directory for its own vendored modules, and then fails to build.
	const vendored = `tarballs/${path.basename(source)}`;
	await mkdir(path.join(projectDir, 'tarballs'), { recursive: true });
	await copyFile(source, path.join(projectDir, vendored), constants.COPYFILE_EXCL);
	return { spec: `file:${vendored}`, vendored };
}

function toPosix(relative: string): string {
	return relative.split(path.sep).join('/');
}

async function statOrUndefined(file: string) {
	return stat(file).catch(() => undefined);
}

/** `text` as one word for a POSIX shell: as is when it is safe so, else in single quotes. */
export function shellQuote(text: string): string {
	return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A plugin (and npm package, Go module, crate) name from a directory name: lower-case letters, digits and dashes. */
export function pluginName(raw: string): string {
	const name = raw.toLowerCase().replaceAll(/[^a-z0-9-]+/g, '-').replaceAll(/^[^a-z]+|-+$/g, '');
	if (!name) {
		throw new MeshboxError('USAGE', `cannot make a plugin name from "${raw}"`, 'pass --name NAME (letters, digits and dashes, starting with a letter)');
	}

	return name;
}

function fill(text: string, values: Readonly<Record<string, string>>): string {
	// A placeholder alone on its line with nothing to put there (the AssemblyScript workflow has no toolchain
	// step) takes its line with it.
	return text
		.replaceAll(/^__([A-Z_]+?)__\n/gm, (line, name: string) => values[`__${name}__`] === '' ? '' : line)
		.replaceAll(/__[A-Z_]+?__/g, placeholder => values[placeholder] ?? placeholder);
}

async function writeProjectFile(dir: string, file: string, text: string): Promise<void> {
	const target = path.join(dir, file);
	await mkdir(path.dirname(target), { recursive: true });
	// `wx`: never overwrite (the directory was empty; this guards against a race with another writer).
	await writeFile(target, text, { flag: 'wx' });
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
	const files: string[] = [];
	for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
		const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
		if (entry.isDirectory()) {
			files.push(...await listFiles(dir, relative));
		} else {
			files.push(relative);
		}
	}

	return files;
}

const initOptions = {
	sdk: { type: 'string' },
	name: { type: 'string' },
	meshbox: { type: 'string' },
	help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const usage = 'meshbox init [DIR] [--sdk rust|go|assemblyscript] [--name NAME] [--meshbox SPEC]';

export const initCommand: Command = {
	name: 'init',
	summary: 'start a plugin project: the seed plugin in Rust, Go or AssemblyScript, meshbox.yaml, a scenario, CI',
	usage: [
		usage,
		'',
		'  DIR                 a new or empty directory (default: the current one)',
		'  --sdk NAME          rust (default), go or assemblyscript',
		'  --name NAME         the plugin\'s name (default: DIR\'s name)',
		'  --meshbox SPEC      package.json\'s dependency on meshbox: a version (default: ^this version), a tarball',
		'                      (copied to tarballs/ and named relatively, so CI installs it too) or a checkout\'s path',
	].join('\n'),
	async run({ argv, out }) {
		let parsed;
		try {
			parsed = parseArgs({ args: [...argv], options: initOptions, allowPositionals: true, strict: true });
		} catch (error) {
			throw usageError(error, initOptions, usage);
		}

		const { values, positionals } = parsed;
		if (values.help) {
			out(this.usage);
			return 0;
		}

		if (positionals.length > 1) {
			throw new MeshboxError('USAGE', `one directory, not ${positionals.length}: ${positionals.join(' ')}`, `usage: ${usage}`);
		}

		const sdk = values.sdk ?? 'rust';
		if (!(sdkNames as readonly string[]).includes(sdk)) {
			throw new MeshboxError('USAGE', `--sdk ${sdk}: no such template`, `use one of: ${sdkNames.join(', ')}`);
		}

		const dir = positionals[0] ?? '.';
		const files = await scaffold({ dir, sdk: sdk as SdkName, meshbox: values.meshbox, name: values.name });
		out(`meshbox: a ${sdks[sdk as SdkName].title} plugin project in ${path.resolve(dir)}:`);
		for (const file of files) {
			out(`  ${file}`);
		}

		out(`next: ${dir === '.' ? '' : `cd ${shellQuote(dir)} && `}npm install && npm test      (then npm run sandbox)`);
		return 0;
	},
};
