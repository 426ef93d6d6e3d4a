/**
 * Model → running sandbox, the one way both front ends start one: the runtime (local or docker) starts Envoy
 * driven by xDS; for an Istio sidecar, what Envoy refused of the first push is marked on the model (a sidecar
 * NACKs that plugin and serves on without its config), so render, notes and the start output say so.
 */
import type { SandboxModel } from '../config/model.ts';
import { startRuntime } from '../runtime/start.ts';
import type { RunningSandbox, RuntimeStartOptions } from '../runtime/types.ts';

export type StartOptions = Omit<RuntimeStartOptions, 'model'> & {
	/** `local` (default: MESHBOX_RUNTIME, else local) or `docker`. */
	readonly runtime?: string;
};

export type StartedSandbox = {
	readonly running: RunningSandbox;
	/** The model Envoy runs: for a sidecar, with the plugins Envoy refused marked as such. */
	readonly model: SandboxModel;
};

export async function startComposed(model: SandboxModel, options: StartOptions = {}): Promise<StartedSandbox> {
	const { runtime, ...runtimeOptions } = options;
	const running = await startRuntime(runtime, { ...runtimeOptions, model });
	const rejected = running.rejectedAtStart ?? [];
	if (!model.sidecar || rejected.length === 0) {
		return { running, model };
	}

	// Loaded only for sidecars.
	const { markRejectedAtStart } = await import('../istio/start.ts');
	return { running, model: markRejectedAtStart(model, rejected) };
}
