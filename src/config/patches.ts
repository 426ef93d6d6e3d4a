/**
 * `envoy.patches` (issue #10): changes to the generated Envoy config with the semantics of Istio's EnvoyFilter
 * configPatches. Spec → model; src/envoy/patches.ts applies them (the same engine serves Istio EnvoyFilters).
 *
 * STUB: owned by the engineer building issue #10 part B.
 */
import type { Locator } from './fields.ts';

export type PatchSpec = Record<string, unknown>;

export type PatchModel = Record<never, never>;

export function resolvePatches(_value: unknown, _locate: Locator): readonly PatchModel[] | undefined {
	return undefined;
}
