/**
 * Pins: a listener that only keeps modules compiled. Envoy keeps a module's compiled code while some filter
 * uses it, and reuses it for a filter with another vm_id on the same module (measured on Envoy 1.40): a
 * filter per module on a listener of its own keeps that code alive, so the next filter on the module starts
 * without a compile. Warm Envoys pin the modules of their last sandboxes (src/runtime/local/warm-envoy.ts);
 * `meshbox up` pins the modules of its last run from the boot on (src/runtime/local/head-start.ts).
 *
 * A pin runs the plugin like any filter (its VM starts, its root context is configured) under a vm_id and
 * plugin name of its own, `meshbox-pin-<hash>`: its log lines carry that name, and nobody's sandbox sees them.
 */
import type { PluginModel } from '../config/model.ts';
import type { JsonObject } from '../util/json.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';
import { wasmFilter } from './wasm-config.ts';

/** The start of a pin's plugin name and vm_id: log lines that contain it are a pin's. */
export const pinPrefix = 'meshbox-pin-';

/** The pin of a plugin's module: the plugin under a name and vm_id of the module's own, failing open. */
export function pinOf(plugin: PluginModel): PluginModel {
	const name = `${pinPrefix}${plugin.module.sha256.slice(0, 16)}`;
	return { ...plugin, name, vmId: name, filterName: undefined, failurePolicy: undefined, failOpen: true };
}

/** The HTTP filter that pins `plugin`'s module (loaded from `wasmPath`). */
export function pinFilter(plugin: PluginModel, wasmPath: string): JsonObject {
	return wasmFilter(pinOf(plugin), wasmPath);
}

/**
 * The pins listener: `filters` (HTTP Wasm filters, one per module) before a router that answers 404.
 * On a Unix socket, never a TCP port: Envoy gives a listener of an address it already has (127.0.0.1:0, a
 * sandbox's listener draining) that listener's socket. On Envoy 1.38 the pins, updated at each release of a
 * warm Envoy, took the next sandbox's port, and its requests got the pins' 404 (found in the conformance matrix).
 */
export function pinsListener(filters: readonly JsonObject[], socketPath: string): JsonObject {
	return {
		name: 'meshbox_pins',
		address: { pipe: { path: socketPath } },
		filter_chains: [{
			filters: [{
				name: 'envoy.filters.network.http_connection_manager',
				typed_config: {
					'@type': typeUrls.hcm,
					stat_prefix: 'meshbox_pins',
					route_config: { virtual_hosts: [{ name: 'pins', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 404 } }] }] },
					http_filters: [...filters, { name: 'envoy.filters.http.router', typed_config: { '@type': typeUrls.router } }],
				},
			}],
		}],
	};
}

/** How a warm Envoy's pins listener refers to its pins: a fixed set of ECDS slots (see `pinSlotsListener`). */
export function pinSlotName(slot: number): string {
	return `meshbox_pin_slot_${slot}`;
}

/**
 * A warm Envoy's pins listener: `slots` filters, each an ECDS reference (`pinSlotName`), whose configs are a
 * pin (`pinSlotConfig`) or nothing (`emptySlotConfig`). The listener itself never changes: changing an inline
 * filter would drain the old filter chain for `--drain-time-s` (600 s, as on a fresh Envoy), holding the VMs of
 * a pin that was let go; an ECDS config that changes releases them once every thread took the new one.
 */
export function pinSlotsListener(slots: number, socketPath: string): JsonObject {
	const references = Array.from({ length: slots }, (_, slot) => ({
		name: pinSlotName(slot),
		config_discovery: { config_source: { ads: {}, resource_api_version: 'V3' }, type_urls: [typeUrls.httpWasm, typeUrls.httpRbac] },
	}));
	return pinsListener(references, socketPath);
}

/** The ECDS config of a slot that pins `plugin`'s module (loaded from `wasmPath`). */
export function pinSlotConfig(slot: number, plugin: PluginModel, wasmPath: string): JsonObject {
	return { name: pinSlotName(slot), typed_config: pinFilter(plugin, wasmPath).typed_config as JsonObject };
}

/** The ECDS config of a slot that pins nothing: an RBAC filter without rules (allows all, holds no VM). */
export function emptySlotConfig(slot: number): JsonObject {
	return { name: pinSlotName(slot), typed_config: { '@type': typeUrls.httpRbac } };
}
