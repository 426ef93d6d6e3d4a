/**
 * Usage errors of the command line: what node:util's parseArgs rejected, as a MeshboxError (exit 2) with the
 * command's usage. A module of its own (not options.ts) so that `init` and `check` do not load the sandbox's
 * config code to report a typo.
 */
import type { ParseArgsConfig } from 'node:util';
import { MeshboxError } from '../errors.ts';
import { closestMatch } from './suggest.ts';

/**
 * A USAGE error for what node:util's parseArgs rejected. An unknown flag close to a known one names it
 * (`--prot` → "did you mean --port?"); `--prot=1` and `-x` are read as parseArgs reports them.
 */
export function usageError(error: unknown, options: ParseArgsConfig['options'], usage: string): MeshboxError {
	const message = error instanceof Error ? error.message : String(error);
	const unknown = (error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
		? /^Unknown option '(--?[^'=]+)'/.exec(message)?.[1]
		: undefined;
	const flags = Object.keys(options ?? {}).map(name => `--${name}`);
	const suggestion = unknown?.startsWith('--') ? closestMatch(unknown, flags) : undefined;
	if (unknown !== undefined) {
		// parseArgs' own advice (put a positional that starts with '-' after '--') is no help to a typo.
		return new MeshboxError('USAGE', `Unknown option '${unknown}'${suggestion ? `: did you mean ${suggestion}?` : ''}`, `usage: ${usage}`);
	}

	return new MeshboxError('USAGE', message, `usage: ${usage}`);
}
