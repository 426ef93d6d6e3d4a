/**
 * The options `up` and `render` share: where the sandbox spec comes from and what overrides it.
 */
import { access } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultConfigFile, loadConfigFile } from '../config/load-file.ts';
import type { SandboxModel } from '../config/model.ts';
import { resolveSpec } from '../config/resolve.ts';
import { MeshboxError } from '../errors.ts';

export const sandboxOptionSpec = {
	config: { type: 'string', short: 'c' },
	plugin: { type: 'string', short: 'p', multiple: true },
	port: { type: 'string' },
	'admin-port': { type: 'string' },
	runtime: { type: 'string' },
	'envoy-bin': { type: 'string' },
	'envoy-image': { type: 'string' },
	help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const sandboxOptionsHelp = [
	'  -c, --config FILE     sandbox spec (default: ./meshbox.yaml)',
	'  -p, --plugin FILE     a plugin .wasm; repeat for a chain (replaces the spec\'s plugins)',
	'      --port N          listener port on 127.0.0.1 (default 10000; 0 = any free port)',
	'      --admin-port N    admin port on 127.0.0.1 (default: any free port)',
	'      --runtime NAME    local (default) or docker (Envoy and the upstream in containers)',
	'      --envoy-bin FILE  the Envoy binary to use (default: ENVOY_BIN, PATH, cache, or install)',
	'      --envoy-image IMG docker runtime: the Envoy image (default: MESHBOX_ENVOY_IMAGE, envoyproxy/envoy, or meshbox/envoy)',
];

export function parseCommandArgs<T extends ParseArgsConfig['options']>(argv: readonly string[], options: T, usage: string) {
	try {
		return parseArgs({ args: [...argv], options, allowPositionals: false, strict: true });
	} catch (error) {
		throw new MeshboxError('USAGE', (error as Error).message, `usage: ${usage}`);
	}
}

export function parsePortFlag(value: string | undefined, flag: string): number | undefined {
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
};

/**
 * The model for `up` and `render`: from --config, else ./meshbox.yaml, else (with --plugin) from the flags
 * alone. `defaultPort` applies when neither the flags nor the spec set the listener port.
 */
export async function loadSandboxModel(flags: SandboxFlags, defaultPort: number): Promise<SandboxModel> {
	const overrides = {
		port: parsePortFlag(flags.port, '--port'),
		adminPort: parsePortFlag(flags['admin-port'], '--admin-port'),
		pluginFiles: flags.plugin,
	};
	let model: SandboxModel;
	if (flags.config) {
		model = await loadConfigFile(flags.config, overrides);
	} else if (await exists(defaultConfigFile)) {
		model = await loadConfigFile(defaultConfigFile, overrides);
	} else if (flags.plugin) {
		model = await resolveSpec({}, { baseDir: process.cwd(), overrides });
	} else {
		throw new MeshboxError('CONFIG_NOT_FOUND', `no ${defaultConfigFile} in ${process.cwd()} and no --plugin given`,
			`run from a directory with a ${defaultConfigFile}, pass --config FILE, or pass --plugin FILE.wasm`);
	}

	const portFromSpec = !flags.port && model.port !== 0;
	return portFromSpec || overrides.port !== undefined ? model : { ...model, port: defaultPort };
}

async function exists(file: string): Promise<boolean> {
	return access(file).then(() => true, () => false);
}
