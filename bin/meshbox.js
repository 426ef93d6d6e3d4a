#!/usr/bin/env node
// meshbox's command line, run as compiled JavaScript (dist/): Node starts it without a TypeScript loader.
// An installed package has only dist/. A source checkout builds dist/ at `npm install` (the `prepare` script);
// when a source file is newer than the build (you edited it), this runs the TypeScript sources through tsx
// instead, so the code you run is always the code you see.
//
// The CLI runs tsc's output (dist/cli/main.js), the same modules the library ships: the package holds each
// piece of code once (an esbuild bundle of the CLI beside dist/ doubled the package, issue #24). Node then reads
// more files than from a bundle; `module.enableCompileCache` below keeps their compiled code on Node ≥ 22.1.
import { readdirSync, statSync } from 'node:fs';
import module from 'node:module';

// Node ≥ 22.1 keeps V8's compiled code of the bundle on disk (its own cache dir in the temp dir): compiling the
// bundle is about half of the import's ≈50 ms. Node 20 has no such cache; the call is then skipped.
module.enableCompileCache?.();

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const sources = new URL('../src/', import.meta.url);

/** The newest modification time under `directory` (0 when it does not exist). */
function newest(directory) {
	let latest = 0;
	let entries;
	try {
		entries = readdirSync(directory, { withFileTypes: true });
	} catch {
		return 0;
	}

	for (const entry of entries) {
		const child = new URL(entry.name + (entry.isDirectory() ? '/' : ''), directory);
		latest = Math.max(latest, entry.isDirectory() ? newest(child) : statSync(child).mtimeMs);
	}

	return latest;
}

function builtAt() {
	try {
		return statSync(compiled).mtimeMs;
	} catch {
		return 0;
	}
}

const argv = process.argv.slice(2);
let main;
let headStart;
const sourceTime = newest(sources);
// `meshbox up` starts Envoy before it loads the rest of its code, as the last run of this command did
// (src/runtime/local/head-start.ts); `up` adopts that Envoy, or stops it when the config changed.
if (sourceTime > 0 && sourceTime > builtAt()) {
	const { register } = await import('tsx/esm/api');
	register();
	if (argv[0] === 'up') {
		const { HeadStart } = await import(new URL('cli/head-start.ts', sources).href);
		headStart = await HeadStart.launch(argv);
	}

	({ main } = await import(new URL('cli/main.ts', sources).href));
} else {
	if (argv[0] === 'up') {
		const { HeadStart } = await import(new URL('../dist/cli/head-start.js', import.meta.url).href);
		headStart = await HeadStart.launch(argv);
	}

	({ main } = await import(compiled.href));
}

process.exitCode = await main(argv, { headStart });
