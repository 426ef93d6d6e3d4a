/**
 * Applies patches (src/config/patches.ts; Istio EnvoyFilter configPatches semantics) to generated resources.
 * One engine serves `envoy.patches` and Istio's EnvoyFilter.
 *
 * STUB: owned by the engineer building issue #10 part B.
 */
import type { PatchModel } from '../config/patches.ts';
import type { SandboxResources } from './placement.ts';

export function applyPatches(resources: SandboxResources, _patches: readonly PatchModel[]): SandboxResources {
	return resources;
}
