/**
 * Plugin modules as Envoy loads them when driven by xDS: a copy of each .wasm named by its SHA-256, in a
 * directory of the sandbox's own. Two reasons: a rebuilt file is a different module with a different
 * name, so a changed plugin always makes a changed resource to push (the original path alone would not);
 * and a build that rewrites the file while Envoy reads it cannot hand Envoy half a module. istio-agent does
 * the same with the modules it fetches (a cache keyed by checksum, pkg/wasm/cache.go).
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { PluginModel } from '../config/model.ts';
import { MeshboxError } from '../errors.ts';

export class StagedModules {
	/** Copies done or under way, by hash: two sandboxes staging one module at once share one copy. */
	private readonly staged = new Map<string, Promise<void>>();

	constructor(readonly directory: string) {}

	/** Where Envoy finds the plugin's module (once staged). */
	pathOf(plugin: PluginModel): string {
		return path.join(this.directory, `${plugin.module.sha256}.wasm`);
	}

	/** Copies the modules not staged yet; the copy must still hash to what the model checked. */
	async stage(plugins: readonly PluginModel[]): Promise<void> {
		await mkdir(this.directory, { recursive: true });
		for (const plugin of plugins) {
			const hash = plugin.module.sha256;
			let copy = this.staged.get(hash);
			if (!copy) {
				copy = this.copy(plugin);
				this.staged.set(hash, copy);
				// A failed copy is not staged: the next sandbox tries again.
				copy.catch(() => this.staged.delete(hash));
			}

			await copy;
		}
	}

	private async copy(plugin: PluginModel): Promise<void> {
		const target = this.pathOf(plugin);
		const partial = `${target}.partial`;
		await copyFile(plugin.wasmPath, partial);
		const copied = createHash('sha256').update(await readFile(partial)).digest('hex');
		if (copied !== plugin.module.sha256) {
			await rm(partial, { force: true });
			throw new MeshboxError('PLUGIN_INVALID_WASM', `plugin "${plugin.name}": ${plugin.wasmPath} changed while meshbox read it`,
				'a build is probably still writing it; try again once the build finished');
		}

		await rename(partial, target);
	}
}
