#!/usr/bin/env node
// meshbox's command line, run as compiled JavaScript (dist/): Node starts it without a TypeScript loader.
// An installed package has only dist/. A source checkout builds dist/ at `npm install` (the `prepare` script);
// when a source file is newer than the build (you edited it), this runs the TypeScript sources through tsx
// instead, so the code you run is always the code you see.
//
// The CLI runs from a bundle (dist/cli/bundle/, `npm run build:cli`: esbuild, ES modules, one chunk per
// on-demand part such as the docker runtime or Istio): Node then reads a handful of files instead of hundreds,
// which took most of `meshbox up`'s time before Envoy even started. Its chunks sit three directories below the
// package root, as the tsc-built modules do, so the paths modules find templates/ and package.json by hold in
// both. The library (dist/index.js) stays tsc's output.
import { readdirSync, statSync } from 'node:fs';
import module from 'node:module';

// Node ≥ 22.1 keeps V8's compiled code of the bundle on disk (its own cache dir in the temp dir): compiling the
// bundle is about half of the import's ≈50 ms. Node 20 has no such cache; the call is then skipped.
module.enableCompileCache?.();

const compiled = new URL('../dist/cli/bundle/main.js', import.meta.url);
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
		// CommonJS: require() of one file takes less than an ES module's import (≈7 vs 9 ms, Node 20).
		const { HeadStart } = module.createRequire(import.meta.url)('../dist/cli/head-start.cjs');
		headStart = await HeadStart.launch(argv);
	}

	({ main } = await import(compiled.href));
}

process.exitCode = await main(argv, { headStart });
