#!/usr/bin/env node
// meshbox's command line. An installed package runs its compiled JavaScript (dist/); a source checkout (src/ is
// next to this file, and is not in the package) runs the TypeScript sources through tsx, so a stale dist/ left
// by `npm pack` never shadows the code being edited.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
	const { register } = await import('tsx/esm/api');
	register();
	({ main } = await import(source.href));
} else {
	({ main } = await import('../dist/cli/main.js'));
}

process.exitCode = await main(process.argv.slice(2));
