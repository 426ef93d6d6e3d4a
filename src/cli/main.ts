/**
 * The `meshbox` command line: `meshbox <command> [options]`.
 *
 * Failures print one line saying what went wrong, then what to do, and exit non-zero; a stack trace is
 * printed only for bugs (errors that are not MeshboxErrors) or with MESHBOX_DEBUG=1.
 */
import { isMeshboxError } from '../errors.ts';
import type { Command } from './command.ts';
import { checkCommand } from './commands/check.ts';
import { composeCommand } from './commands/compose.ts';
import { downCommand } from './commands/down.ts';
import { envoyCommand } from './commands/envoy.ts';
import { imagesCommand } from './commands/images.ts';
import { initCommand } from './commands/init.ts';
import { renderCommand } from './commands/render.ts';
import { upCommand } from './commands/up.ts';

/** Write errors that mean "nobody reads this output any more". */
const outputGoneCodes = new Set(['EPIPE', 'EIO', 'ERR_STREAM_DESTROYED']);

const commands: readonly Command[] = [upCommand, renderCommand, envoyCommand, imagesCommand, downCommand, composeCommand, checkCommand, initCommand];

export async function main(argv: readonly string[]): Promise<number> {
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
		out(overview());
		return name === undefined ? 1 : 0;
	}

	const command = commands.find(candidate => candidate.name === name);
	if (!command) {
		err(`meshbox: unknown command "${name}"\n→ commands: ${commands.map(entry => entry.name).join(', ')} (meshbox help)`);
		return 2;
	}

	try {
		return await command.run({ argv: rest, out, err });
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

function overview(): string {
	return [
		'meshbox: a local service-mesh sandbox for proxy-wasm plugins (real Envoy + a hello-world upstream)',
		'',
		'usage: meshbox <command> [options]      (meshbox <command> --help for its options)',
		'',
		...commands.map(command => `  ${command.name.padEnd(8)} ${command.summary}`),
	].join('\n');
}
