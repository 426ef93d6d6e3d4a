/**
 * The `meshbox` command line: `meshbox <command> [options]`.
 *
 * Failures print one line saying what went wrong, then what to do, and exit non-zero; a stack trace is
 * printed only for bugs (errors that are not MeshboxErrors) or with MESHBOX_DEBUG=1.
 */
import { isMeshboxError } from '../errors.ts';
import type { Command } from './command.ts';
import type { HeadStart } from '../runtime/local/head-start.ts';

/**
 * The commands, each loaded only when run: `meshbox up` does not pay for the Istio, Docker or image-building
 * code other commands use (Node spends most of a short command's time importing modules).
 */
const commands: Readonly<Record<string, () => Promise<Command>>> = {
	up: async () => (await import('./commands/up.ts')).upCommand,
	render: async () => (await import('./commands/render.ts')).renderCommand,
	envoy: async () => (await import('./commands/envoy.ts')).envoyCommand,
	images: async () => (await import('./commands/images.ts')).imagesCommand,
	down: async () => (await import('./commands/down.ts')).downCommand,
	compose: async () => (await import('./commands/compose.ts')).composeCommand,
	check: async () => (await import('./commands/check.ts')).checkCommand,
	init: async () => (await import('./commands/init.ts')).initCommand,
	measure: async () => (await import('./commands/measure.ts')).measureCommand,
};

/** Write errors that mean "nobody reads this output any more". */
const outputGoneCodes = new Set(['EPIPE', 'EIO', 'ERR_STREAM_DESTROYED']);

/**
 * Runs `argv` (the arguments after `meshbox`). `headStart`: `meshbox up`'s Envoy, started by bin/meshbox.js before
 * this code loaded (src/runtime/local/head-start.ts); whatever the command does with it, none is left behind.
 */
export async function main(argv: readonly string[], { headStart }: { headStart?: HeadStart } = {}): Promise<number> {
	try {
		return await run(argv, headStart);
	} finally {
		await headStart?.discard();
	}
}

async function run(argv: readonly string[], headStart: HeadStart | undefined): Promise<number> {
	// Once the terminal is closed (SIGHUP) or a pipe's reader is gone (`| head`), writes fail with EIO or EPIPE.
	// Unhandled, that error would end meshbox on the spot, in the middle of `up`'s cleanup; output that has
	// nowhere to go is dropped instead.
	for (const stream of [process.stdout, process.stderr]) {
		stream.on('error', (error: NodeJS.ErrnoException) => {
			if (!outputGoneCodes.has(error.code ?? '')) {
				throw error;
			}
		});
	}

	const out = (text: string) => process.stdout.write(`${text}\n`);
	const err = (text: string) => process.stderr.write(`${text}\n`);
	const [name, ...rest] = argv;
	if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
		out(await overview());
		return name === undefined ? 1 : 0;
	}

	const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
	if (!load) {
		err(`meshbox: unknown command "${name}"\n→ commands: ${Object.keys(commands).join(', ')} (meshbox help)`);
		return 2;
	}

	const command = await load();
	try {
		return await command.run({ argv: rest, out, err, headStart });
	} catch (error) {
		if (isMeshboxError(error)) {
			err(`meshbox ${command.name}: ${error.describe()}`);
			if (process.env.MESHBOX_DEBUG) {
				err(error.stack ?? '');
			}

			return error.code === 'USAGE' ? 2 : 1;
		}

		err(`meshbox ${command.name}: unexpected error (a bug in meshbox; please report it): ${(error as Error).stack ?? String(error)}`);
		return 70;
	}
}

async function overview(): Promise<string> {
	const all = await Promise.all(Object.values(commands).map(async load => load()));
	return [
		'meshbox: a local service-mesh sandbox for proxy-wasm plugins (real Envoy + a hello-world upstream)',
		'',
		'usage: meshbox <command> [options]      (meshbox <command> --help for its options)',
		'',
		...all.map(command => `  ${command.name.padEnd(8)} ${command.summary}`),
	].join('\n');
}
