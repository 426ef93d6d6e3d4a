/**
 * What every CLI command looks like. Each command lives in `commands/<name>.ts` and is listed (loaded on
 * demand) in main.ts.
 */
import type { HeadStart } from '../runtime/local/head-start.ts';

export type CommandContext = {
	/** Arguments after the command name. */
	readonly argv: readonly string[];
	/** Normal output (what a user may pipe somewhere). */
	readonly out: (text: string) => void;
	/** Progress and diagnostics. */
	readonly err: (text: string) => void;
	/** `meshbox up`'s Envoy, started ahead by bin/meshbox.js (src/runtime/local/head-start.ts). */
	readonly headStart?: HeadStart;
};

export type Command = {
	readonly name: string;
	readonly summary: string;
	readonly usage: string;
	/** Resolves with the process exit code. */
	run(context: CommandContext): Promise<number>;
};
