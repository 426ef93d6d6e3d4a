/**
 * Renders ListenersModel (src/config/listeners.ts): more listeners (TCP: network plugins, tcp_proxy) and
 * their clusters; singleton wasm services as bootstrap extensions.
 *
 * STUB: owned by the engineer building issue #10 part C.
 */
import type { SandboxModel } from '../config/model.ts';
import type { JsonObject } from '../util/json.ts';
import type { Placement, SandboxResources } from './placement.ts';

/** The sandbox's resources with its extra listeners (and their clusters) added. */
export function withListeners(resources: SandboxResources, _model: SandboxModel, _placement: Placement, _options: { ecds: boolean }): SandboxResources {
	return resources;
}

/** Bootstrap fields for singleton services (`bootstrap_extensions`): they cannot come over xDS. */
export function serviceBootstrap(_model: SandboxModel, _placement: Placement): JsonObject {
	return {};
}
