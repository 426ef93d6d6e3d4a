/**
 * Patches are applied when resources are built (at start, by the runtime); this applies them once beforehand,
 * while the model is made, so a patch that matches nothing stops `startSandbox` / `meshbox up` before anything
 * starts (nothing to clean up), and an Istio sidecar's notes can name the EnvoyFilter patches istiod would ignore.
 * Where things are does not change what a patch matches (the names do), except a plain sandbox listener's
 * bound port, taken here from the model's `port`.
 */
import type { PluginModel, SandboxModel } from '../config/model.ts';
import type { PatchModel } from '../config/patches.ts';
import { buildResources, istiodEcdsFilters } from './bootstrap.ts';
import { patchResources, type PatchResult } from './patches.ts';
import type { Placement } from './placement.ts';

function dryRunPlacement(model: SandboxModel): Placement {
	return {
		listener: { address: '127.0.0.1', port: model.port },
		admin: { address: '127.0.0.1', port: model.adminPort },
		upstream: { address: '127.0.0.1', port: 0 },
		wasmPath: (plugin: PluginModel) => plugin.wasmPath,
	};
}

/** Throws the CONFIG_INVALID error of src/envoy/patches.ts for a patch of meshbox.yaml / startSandbox that matches nothing. */
export function checkPatches(model: SandboxModel): SandboxModel {
	if ((model.patches ?? []).some(patch => patch.ifUnmatched === 'error')) {
		buildResources(model, dryRunPlacement(model));
	}

	return model;
}

/** The patches that match nothing in the model's config (all of them, whatever `ifUnmatched` says). */
export function unmatchedPatches(model: SandboxModel): readonly PatchModel[] {
	return dryRunPatches(model).unmatched;
}

/** The patches applied to the model's config without judging (./patches.ts patchResources): unmatched ones and events. */
export function dryRunPatches(model: SandboxModel): Pick<PatchResult, 'unmatched' | 'events'> {
	const patches = model.patches ?? [];
	return patches.length === 0 ? { unmatched: [], events: [] }
		: patchResources(buildResources({ ...model, patches: [] }, dryRunPlacement(model)), patches, { istiodEcds: istiodEcdsFilters(model), gateway: model.proxy?.role === 'router' });
}
