/**
 * More listeners (issue #10): TCP listeners with network plugins in front of a tcp_proxy to a recording TCP
 * app, and singleton wasm services (bootstrap extensions). Spec → model; src/envoy/listeners.ts renders it.
 *
 * STUB: owned by the engineer building issue #10 part C.
 */
import type { Locator } from './fields.ts';

export type ListenersSpec = Record<never, never>;

export type ListenersModel = Record<never, never>;

/** The top-level fields this module reads. */
export const listenersFields: readonly string[] = [];

export function resolveListeners(_spec: Readonly<Record<string, unknown>>, _locate: Locator, _baseDir: string): ListenersModel | undefined {
	return undefined;
}
