/**
 * The pieces of Envoy config every wasm extension shares, HTTP or network filter or singleton service:
 * PluginConfig (api/envoy/extensions/wasm/v3/wasm.proto), and the small value shapes around it.
 */
import type { PluginModel } from '../config/model.ts';
import type { JsonObject } from '../util/json.ts';
import type { SocketAddress } from './placement.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';

const wasmRuntime = 'envoy.wasm.runtime.v8';

/** PluginConfig for `plugin`, its module at `wasmPath` as Envoy opens it. */
export function pluginConfig(plugin: PluginModel, wasmPath: string): JsonObject {
	const vmConfig: JsonObject = {
		...(plugin.vmId ? { vm_id: plugin.vmId } : {}),
		runtime: wasmRuntime,
		code: { local: { filename: wasmPath } },
		...(plugin.vmConfiguration === undefined ? {} : { configuration: stringValue(plugin.vmConfiguration) }),
	};
	if (Object.keys(plugin.env).length > 0 || plugin.hostEnv.length > 0) {
		vmConfig.environment_variables = {
			...(plugin.hostEnv.length > 0 ? { host_env_keys: [...plugin.hostEnv] } : {}),
			...(Object.keys(plugin.env).length > 0 ? { key_values: { ...plugin.env } } : {}),
		};
	}

	return {
		name: plugin.name,
		...(plugin.rootId ? { root_id: plugin.rootId } : {}),
		vm_config: vmConfig,
		// StringValue is handed to the plugin unwrapped: the plugin reads exactly these bytes.
		...(plugin.configuration === undefined ? {} : { configuration: stringValue(plugin.configuration) }),
		// Istio sidecars (src/istio) set failure_policy; Envoy refuses fail_open: true together with it.
		...(plugin.failurePolicy ? { failure_policy: plugin.failurePolicy } : { fail_open: plugin.failOpen }),
	};
}

/** The `envoy.filters.http.wasm` entry for one plugin. */
export function wasmFilter(plugin: PluginModel, wasmPath: string): JsonObject {
	return { name: plugin.filterName ?? plugin.name, typed_config: { '@type': typeUrls.httpWasm, config: pluginConfig(plugin, wasmPath) } };
}

/** A google.protobuf.StringValue in an Any: the bytes exactly as given. */
export function stringValue(value: string): JsonObject {
	return { '@type': typeUrls.stringValue, value };
}

export function socketAddress({ address, port }: SocketAddress): JsonObject {
	return { socket_address: { address, port_value: port } };
}
