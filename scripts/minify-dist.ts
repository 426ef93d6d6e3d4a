/**
 * `npm run build`, after tsc: each compiled module of dist/ rewritten without whitespace and with simpler
 * syntax (esbuild, one module in, one out: no bundle, identifiers kept so stack traces read as the source), its
 * source map composed with tsc's so it still points into src/ (without the sources' text: the package ships the
 * code once). The package is about a third smaller (issue #24: ≤ 700 KB packed).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const dist = path.resolve(process.argv[2] ?? 'dist');
const modules: string[] = [];
(function collect(dir: string) {
	for (const entry of readdirSync(dir, { withFileTypes: true })) {
		const file = path.join(dir, entry.name);
		if (entry.isDirectory()) {
			collect(file);
		} else if (file.endsWith('.js')) {
			modules.push(file);
		}
	}
})(dist);

await build({
	entryPoints: modules,
	outdir: dist,
	outbase: dist,
	allowOverwrite: true,
	bundle: false,
	format: 'esm',
	platform: 'node',
	target: 'node20',
	minifyWhitespace: true,
	minifySyntax: true,
	// esbuild reads tsc's `//# sourceMappingURL` of each module and maps back through it, to src/.
	sourcemap: 'linked',
	sourcesContent: false,
	legalComments: 'none',
	logLevel: 'warning',
});
process.stdout.write(`minify-dist: ${modules.length} modules\n`);
