/**
 * `npm pack` of this checkout as users get it, without touching the checkout: the files the package is made
 * of are staged in a temp directory (with a link to this checkout's node_modules for the build's tsc), and
 * `npm pack` runs there, so its prepack build writes dist/ in the stage. Two test files packing at once then
 * never delete each other's dist/.
 */
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../helpers/paths.ts';

export type Packed = { readonly tarball: string; readonly filename: string; readonly size: number; readonly unpackedSize: number; readonly files: readonly string[] };

/** What the build and package.json's `files` need (everything else is left out of the stage). */
const staged = ['package.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.types.json', 'scripts/prune-declarations.ts', 'scripts/minify-dist.ts', 'bin', 'src', 'templates', 'fixtures/plugins/seed-rust'];

export async function packCheckout(destination: string): Promise<Packed> {
	const stage = await mkdtemp(path.join(destination, 'stage-'));
	try {
		for (const entry of staged) {
			// cp creates the parent directories of a single file (scripts/) as needed.
			await cp(path.join(repoRoot, entry), path.join(stage, entry), { recursive: true });
		}

		await symlink(path.join(repoRoot, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
		const { stdout } = await execa('npm', ['pack', '--json', '--pack-destination', destination], { cwd: stage });
		const [result] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>;
		if (!result) {
			throw new Error(`npm pack said nothing: ${stdout}`);
		}

		return { ...result, tarball: path.join(destination, result.filename), files: result.files.map(file => file.path) };
	} finally {
		await rm(stage, { recursive: true, force: true });
	}
}
