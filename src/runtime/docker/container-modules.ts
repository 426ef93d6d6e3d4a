/**
 * Plugin modules inside the Envoy container when it is driven by xDS: each under its SHA-256
 * (`/etc/meshbox/modules/<sha256>.wasm`, see ./layout.ts), as the local runtime stages them in a directory
 * (../staged-modules.ts). The first ones go in with the container's creation; later ones (a live update) are
 * copied into the running container before the push that names them. Copied, not bind-mounted, so a remote
 * daemon works too. Each module is read once and checked against the hash the model was resolved with.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import type { PluginModel } from '../../config/model.ts';
import { MeshboxError } from '../../errors.ts';
import type { ModuleStage } from '../xds-session.ts';
import { moduleDirInContainer, modulePathInContainer } from './layout.ts';
import { tarStream, type TarEntry } from './tar.ts';

export type ModuleContent = { readonly content: Buffer; readonly target: string; readonly mode: number };

export class ContainerModules implements ModuleStage {
	private readonly staged = new Set<string>();
	private readonly initial: ModuleContent[] = [];
	private container: Dockerode.Container | undefined;

	/** What to copy into the container at creation (the modules staged before it exists). */
	get initialContent(): readonly ModuleContent[] {
		return this.initial;
	}

	/** From now on, modules are copied into this (running) container. */
	attach(container: Dockerode.Container): void {
		this.container = container;
	}

	async stage(plugins: readonly PluginModel[]): Promise<void> {
		const entries: TarEntry[] = [];
		const copied: string[] = [];
		for (const plugin of plugins) {
			const hash = plugin.module.sha256;
			if (this.staged.has(hash)) {
				continue;
			}

			const content = await readFile(plugin.wasmPath);
			if (createHash('sha256').update(content).digest('hex') !== hash) {
				throw new MeshboxError('PLUGIN_INVALID_WASM', `plugin "${plugin.name}": ${plugin.wasmPath} changed while meshbox read it`,
					'a build is probably still writing it; try again once the build finished');
			}

			const target = modulePathInContainer(plugin);
			if (this.container) {
				entries.push({ type: 'content', path: target.slice(1), content, mode: 0o644 });
				copied.push(hash);
			} else {
				this.initial.push({ content, target, mode: 0o644 });
				this.staged.add(hash);
			}
		}

		if (this.container && entries.length > 0) {
			const archive = tarStream([{ type: 'directory', path: moduleDirInContainer.slice(1), mode: 0o755 }, ...entries]);
			await this.container.putArchive(archive, { path: '/' });
			for (const hash of copied) {
				this.staged.add(hash);
			}
		}
	}
}
