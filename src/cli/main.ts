/**
 * The `meshbox` command line: `meshbox <command> [options]`.
 *
 * Failures print one line saying what went wrong, then what to do, and exit non-zero; a stack trace is
 * printed only for bugs (errors that are not MeshboxErrors) or with MESHBOX_DEBUG=1.
 */
import { isMeshboxError } from '../errors.ts';
import type { Command } from './command.ts';
import type { HeadStart } from '../runtime/local/head-start.ts';
import { meshboxVersion } from '../util/meshbox-package.ts';
import { closestMatch } from './suggest.ts';

/**
 * The process exit codes (docs/cli.md and `meshbox --help` list them). 70 is sysexits.h's
 * EX_SOFTWARE; 130 is the shell's 128 + SIGINT, for the second Ctrl+C that abandons `up`'s start.
 */
export const exitCodes = { ok: 0, failed: 1, usage: 2, bug: 70, interrupted: 130 } as const;

const exitCodeHelp: ReadonlyArray<readonly [number, string]> = [
	[exitCodes.ok, 'success (`up`: stopped by Ctrl+C, SIGTERM or SIGHUP)'],
	[exitCodes.failed, 'failure: the error says what and what to do (`check`: a finding; `measure`: a leak or a budget exceeded)'],
	[exitCodes.usage, 'usage error: unknown command or option, a bad flag value, no command'],
	[exitCodes.bug, 'a bug in meshbox (an unexpected error; its stack trace is printed)'],
	[exitCodes.interrupted, 'a second Ctrl+C while `up` was still starting'],
];

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
	junit: async () => (await import('./commands/junit.ts')).junitCommand,
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
		// No command at all is a usage error (exit 2): a script that forgot its command must not pass.
		(name === undefined ? err : out)(await overview());
		return name === undefined ? exitCodes.usage : exitCodes.ok;
	}

	if (name === '--version' || name === '-v' || name === 'version') {
		out(`meshbox ${await meshboxVersion()}`);
		return exitCodes.ok;
	}

	const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
	if (!load) {
		err(unknownCommand(name));
		return exitCodes.usage;
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

			return error.code === 'USAGE' ? exitCodes.usage : exitCodes.failed;
		}

		err(`meshbox ${command.name}: unexpected error (a bug in meshbox; please report it): ${(error as Error).stack ?? String(error)}`);
		return exitCodes.bug;
	}
}

/** `meshbox: unknown command "rendr"`, with the command meant when one is close ("did you mean render?"). */
function unknownCommand(name: string): string {
	const meant = closestMatch(name, Object.keys(commands));
	const hint = meant === undefined ? `commands: ${Object.keys(commands).join(', ')} (meshbox help)` : `meshbox ${meant} (meshbox help lists all commands)`;
	return `meshbox: unknown command "${name}"${meant === undefined ? '' : `: did you mean ${meant}?`}\n→ ${hint}`;
}

async function overview(): Promise<string> {
	const all = await Promise.all(Object.values(commands).map(async load => load()));
	return [
		'meshbox: a local service-mesh sandbox for proxy-wasm plugins (real Envoy + a hello-world upstream)',
		'',
		'usage: meshbox <command> [options]      (meshbox <command> --help for its options)',
		'       meshbox --version                (also -v)',
		'',
		...all.map(command => `  ${command.name.padEnd(8)} ${command.summary}`),
		'',
		'exit codes:',
		...exitCodeHelp.map(([code, meaning]) => `  ${String(code).padEnd(8)} ${meaning}`),
	].join('\n');
}
