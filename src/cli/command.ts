/**
 * What every CLI command looks like. Each command lives in `commands/<name>.ts` and is listed (loaded on
 * demand) in main.ts.
 */
export type CommandContext = {
	/** Arguments after the command name. */
	readonly argv: readonly string[];
	/** Normal output (what a user may pipe somewhere). */
	readonly out: (text: string) => void;
	/** Progress and diagnostics. */
	readonly err: (text: string) => void;
};

export type Command = {
	readonly name: string;
	readonly summary: string;
	readonly usage: string;
	/** Resolves with the process exit code. */
	run(context: CommandContext): Promise<number>;
};
