/**
 * Picks the runtime by name: the option, else `MESHBOX_RUNTIME`, else `local`. Either runtime waits for an
 * Envoy start slot (./start-slots.ts) right before it spawns Envoy and frees it at ready, so many sandboxes
 * starting at once on a small machine queue instead of timing out.
 */
import { MeshboxError } from '../errors.ts';
import { startLocal } from './local/local-runtime.ts';
import { runtimeNames, type RunningSandbox, type RuntimeName, type RuntimeStartOptions } from './types.ts';

function pickRuntime(requested: string | undefined): RuntimeName {
	const name = requested ?? process.env.MESHBOX_RUNTIME ?? 'local';
	if (!(runtimeNames as readonly string[]).includes(name)) {
		throw new MeshboxError('USAGE', `unknown runtime "${name}"`, `use one of: ${runtimeNames.join(', ')}`);
	}

	return name as RuntimeName;
}

export async function startRuntime(requested: string | undefined, options: RuntimeStartOptions): Promise<RunningSandbox> {
	const runtime = pickRuntime(requested);
	switch (runtime) {
		case 'local': {
			return startLocal(options);
		}

		case 'docker': {
			// `meshbox up`'s head start is a local Envoy (./local/head-start.ts).
			await options.headStart?.discard();
			// Loaded on demand: testcontainers and dockerode are heavy, and the local runtime needs neither.
			const { startDocker } = await import('./docker/docker-runtime.ts');
			return startDocker(options);
		}
	}
}
