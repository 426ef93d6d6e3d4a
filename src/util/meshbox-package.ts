/**
 * meshbox's own package.json, found upwards from this module: src/util/ in a checkout, dist/util/ in the
 * package. Searched rather than fixed, so that a bundler moving this module (the docker runtime bundles the
 * upstream) cannot make it read another package's manifest.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type MeshboxManifest = { readonly root: string; readonly version: string };

let found: Promise<MeshboxManifest | undefined> | undefined;

/** The package root and version, or undefined when no package.json named meshbox is above this module. */
export async function meshboxPackage(): Promise<MeshboxManifest | undefined> {
	found ??= findUpwards(path.dirname(fileURLToPath(import.meta.url)));
	return found;
}

/** meshbox's version ('0.0.0' when its package.json cannot be found, as in a copied-out module). */
export async function meshboxVersion(): Promise<string> {
	return (await meshboxPackage())?.version ?? '0.0.0';
}

async function findUpwards(start: string): Promise<MeshboxManifest | undefined> {
	for (let directory = start; ; directory = path.dirname(directory)) {
		const manifest = await readFile(path.join(directory, 'package.json'), 'utf8')
			.then(text => JSON.parse(text) as { name?: unknown; version?: unknown }, () => undefined);
		if (manifest?.name === 'meshbox') {
			return { root: directory, version: typeof manifest.version === 'string' ? manifest.version : '0.0.0' };
		}

		if (path.dirname(directory) === directory) {
			return undefined;
		}
	}
}
