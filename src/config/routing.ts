/**
 * The HTTP side of the Envoy around the plugins (issue #10): named recording apps, virtual hosts and routes
 * (with route metadata and per-route plugin overrides), other HTTP filters around the plugins, and Envoy's
 * stats_config. Spec → model; src/envoy/routing.ts renders it.
 *
 * STUB: owned by the engineer building issue #10 part A.
 */
import type { Locator } from './fields.ts';

export type RoutingSpec = Record<never, never>;

export type RoutingModel = Record<never, never>;

/** The top-level fields this module reads. */
export const routingFields: readonly string[] = [];

export function resolveRouting(_spec: Readonly<Record<string, unknown>>, _locate: Locator, _baseDir: string): RoutingModel | undefined {
	return undefined;
}
