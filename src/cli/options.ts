/**
 * The options `up` and `render` share: where the sandbox spec comes from and what overrides it.
 */
import { access } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultConfigFile } from '../config/load-file.ts';
import { modelFromFile, modelFromSpec, type SandboxSession } from '../compose/model.ts';
import type { SandboxModel } from '../config/model.ts';
import { isUsablePluginName, type PluginOverride } from '../config/resolve.ts';
import { MeshboxError } from '../errors.ts';
import { usageError } from './usage.ts';

export const sandboxOptionSpec = {
	config: { type: 'string', short: 'c' },
	plugin: { type: 'string', short: 'p', multiple: true },
	port: { type: 'string' },
	'admin-port': { type: 'string' },
	runtime: { type: 'string' },
	'envoy-bin': { type: 'string' },
	'envoy-image': { type: 'string' },
	'envoy-version': { type: 'string' },
	help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const sandboxOptionsHelp = [
	'  -c, --config FILE     sandbox spec (default: ./meshbox.yaml)',
	'  -p, --plugin FILE     a plugin .wasm, or NAME=FILE to name it; repeat for a chain (replaces the spec\'s plugins)',
	'      --port N          listener port on 127.0.0.1 (default 10000; 0 = any free port)',
	'      --admin-port N    admin port on 127.0.0.1 (default: any free port)',
	'      --runtime NAME    local (default) or docker (Envoy and the upstream in containers)',
	'      --envoy-bin FILE  the Envoy binary to use (default: ENVOY_BIN, PATH, cache, or install)',
	'      --envoy-image IMG docker runtime: the Envoy image (default: MESHBOX_ENVOY_IMAGE, envoyproxy/envoy, or meshbox/envoy)',
	'      --envoy-version V the Envoy release, e.g. 1.38 (newest 1.38.x) or 1.38.3 (default: envoy.version, MESHBOX_ENVOY_VERSION, 1.40.0)',
];

// The return type is spelled out so that the package's .d.ts can name it (node:util does not export ParsedResults).
type CommandArgs<T extends ParseArgsConfig['options']> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: false; strict: true }>>;

export function parseCommandArgs<T extends ParseArgsConfig['options']>(argv: readonly string[], options: T, usage: string): CommandArgs<T> {
	try {
		return parseArgs({ args: [...argv], options, allowPositionals: false, strict: true });
	} catch (error) {
		throw usageError(error, options, usage);
	}
}

function parsePortFlag(value: string | undefined, flag: string): number | undefined {
	if (value === undefined) {
		return undefined;
	}

	const port = Number(value);
	if (!/^\d+$/.test(value) || port > 65_535) {
		throw new MeshboxError('USAGE', `${flag} ${value}: expected a port number from 0 to 65535`, `e.g. ${flag} 10000`);
	}

	return port;
}

type SandboxFlags = {
	config?: string;
	plugin?: string[];
	port?: string;
	'admin-port'?: string;
	'envoy-version'?: string;
};

/**
 * The model for `up` and `render`: from --config, else ./meshbox.yaml, else (with --plugin) from the flags
 * alone. `defaultPort` is the listener port when neither the flags nor the spec set one (an explicit
 * `port: 0` in the spec keeps its meaning: any free port).
 */
/** `session`: the sandbox's state across reloads (`up --watch` loads the config again and again). */
export async function loadSandboxModel(flags: SandboxFlags, defaultPort: number, session?: SandboxSession): Promise<SandboxModel> {
	const overrides = {
		port: parsePortFlag(flags.port, '--port'),
		adminPort: parsePortFlag(flags['admin-port'], '--admin-port'),
		plugins: flags.plugin ? await parsePluginFlags(flags.plugin) : undefined,
		envoyVersion: flags['envoy-version'],
	};
	const defaults = { port: defaultPort };
	const [configFile] = await configFileOf(flags);
	if (configFile) {
		return modelFromFile(configFile, { overrides, defaults, session });
	}

	if (flags.plugin) {
		return modelFromSpec({}, { baseDir: process.cwd(), overrides, defaults, session });
	}

	throw new MeshboxError('CONFIG_NOT_FOUND', `no ${defaultConfigFile} in ${process.cwd()} and no --plugin given`,
		`run from a directory with a ${defaultConfigFile}, pass --config FILE, or pass --plugin FILE.wasm`);
}

/** The config file the flags name: --config, else ./meshbox.yaml when there is one (a list: none or one). */
export async function configFileOf(flags: Pick<SandboxFlags, 'config'>): Promise<string[]> {
	if (flags.config) {
		return [flags.config];
	}

	return (await exists(defaultConfigFile)) ? [defaultConfigFile] : [];
}

/**
 * `--plugin FILE` or `--plugin NAME=FILE` (two builds both called main.wasm need names of their own).
 * A path may itself contain `=`, so an argument is NAME=FILE only when the part before the first `=` is a
 * usable plugin name and the whole argument is not an existing file; otherwise all of it is the path.
 */
async function parsePluginFlags(values: readonly string[]): Promise<PluginOverride[]> {
	return Promise.all(values.map(async (argument, index) => {
		const source = `--plugin #${index + 1} (${argument})`;
		const separator = argument.indexOf('=');
		const name = argument.slice(0, separator);
		const wasm = argument.slice(separator + 1);
		if (separator > 0 && wasm !== '' && isUsablePluginName(name) && !(await exists(argument))) {
			return { name, wasm, source };
		}

		return { wasm: argument, source };
	}));
}

async function exists(file: string): Promise<boolean> {
	return access(file).then(() => true, () => false);
}
