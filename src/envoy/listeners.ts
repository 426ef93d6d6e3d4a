/**
 * Renders ListenersModel (src/config/listeners.ts): more listeners (TCP: network plugins, tcp_proxy) and
 * their clusters; singleton wasm services as bootstrap extensions.
 *
 * A TCP listener is `envoy.filters.network.wasm` per plugin, in order, then `envoy.filters.network.tcp_proxy`
 * (a terminal filter: it must be last) to the cluster of the listener's recording TCP app. Over xDS each network
 * plugin is its own extension config (ECDS), as HTTP plugins are. Field names follow
 * api/envoy/extensions/filters/network/wasm/v3/wasm.proto, api/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto
 * and api/envoy/extensions/wasm/v3/wasm.proto (WasmService).
 */
import type { TcpListenerModel } from '../config/listeners.ts';
import type { PluginModel, SandboxModel } from '../config/model.ts';
import type { JsonObject } from '../util/json.ts';
import type { Placement, SandboxResources, SocketAddress } from './placement.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';
import { pluginConfig, socketAddress } from './wasm-config.ts';

/** A plain sandbox's plugins come over the ADS stream (as in ./bootstrap.ts). */
const ecdsSource: JsonObject = { ads: {}, resource_api_version: 'V3' };
/**
 * Where `meshbox render` points a TCP listener's app when no runtime runs one: port 7, the echo service
 * (RFC 862), which is what the app does by default.
 */
const renderedTcpApp: SocketAddress = { address: '127.0.0.1', port: 7 };

/**
 * A sandbox listener's address fields. Envoy sets SO_REUSEPORT on listeners by default (`enable_reuse_port`), and
 * Linux then lets a second Envoy bind the same fixed port: two sandboxes (two `meshbox up`, two test files) would
 * each say "listening on" it and take turns answering its requests. Without it the second Envoy cannot bind
 * ("cannot bind", reported as PORT_IN_USE), as a port held by any other program already is. meshbox's Envoys run
 * one worker thread by default, for which reuse_port gains nothing.
 */
export function listenerAddress(at: SocketAddress): JsonObject {
	return { address: socketAddress(at), enable_reuse_port: false };
}

/** The cluster of a TCP listener's recording app. */
export function tcpAppClusterName(listenerName: string): string {
	return `meshbox_tcp_${listenerName}`;
}

/** The tcp_proxy's stat prefix: its stats are `tcp.<prefix>.*` (e.g. `tcp.tcp_tcp.downstream_cx_total`). */
export function tcpStatPrefix(listenerName: string): string {
	return `tcp_${listenerName}`;
}

/** The sandbox's resources with its extra listeners (and their clusters) added. */
export function withListeners(resources: SandboxResources, model: SandboxModel, placement: Placement, options: { ecds: boolean }): SandboxResources {
	const tcp = model.listeners?.tcp ?? [];
	if (tcp.length === 0) {
		return resources;
	}

	const listeners: JsonObject[] = [];
	const clusters: JsonObject[] = [];
	const extensionConfigs: JsonObject[] = [];
	for (const listener of tcp) {
		const plugins = listener.plugins.map(plugin => networkWasmFilter(plugin, placement.wasmPath(plugin)));
		const filters = options.ecds
			// RBAC too: see the HTTP plugins' references in ./bootstrap.ts (plainResources).
			? plugins.map(filter => ({ name: String(filter.name), config_discovery: { config_source: ecdsSource, type_urls: [typeUrls.networkWasm, typeUrls.networkRbac] } }))
			: plugins;
		if (options.ecds) {
			extensionConfigs.push(...plugins);
		}

		listeners.push({
			name: listener.name,
			...listenerAddress(placement.extraListener?.(listener.name, listener.port) ?? { address: placement.listener.address, port: listener.port }),
			filter_chains: [{ filters: [...filters, tcpProxy(listener)] }],
		});
		clusters.push(tcpCluster(tcpAppClusterName(listener.name), placement.tcpApp?.(listener.name) ?? renderedTcpApp));
	}

	return {
		listeners: [...resources.listeners, ...listeners],
		clusters: [...resources.clusters, ...clusters],
		extensionConfigs: [...resources.extensionConfigs, ...extensionConfigs],
		...(resources.secrets ? { secrets: resources.secrets } : {}),
	};
}

/**
 * Bootstrap fields for singleton services (`bootstrap_extensions`): they cannot come over xDS. Each is an
 * `envoy.bootstrap.wasm` WasmService with `singleton: true`: one VM on the main thread, whose root context
 * lives as long as Envoy (ticks, shared queues), as in source/extensions/bootstrap/wasm/config.cc.
 */
export function serviceBootstrap(model: SandboxModel, placement: Placement): JsonObject {
	const services = model.listeners?.services ?? [];
	if (services.length === 0) {
		return {};
	}

	return {
		bootstrap_extensions: services.map(service => ({
			name: 'envoy.bootstrap.wasm',
			typed_config: { '@type': typeUrls.wasmService, singleton: true, config: pluginConfig(service, placement.wasmPath(service)) },
		})),
	};
}

function networkWasmFilter(plugin: PluginModel, wasmPath: string): JsonObject {
	return { name: plugin.name, typed_config: { '@type': typeUrls.networkWasm, config: pluginConfig(plugin, wasmPath) } };
}

function tcpProxy(listener: TcpListenerModel): JsonObject {
	return {
		name: 'envoy.filters.network.tcp_proxy',
		typed_config: { '@type': typeUrls.tcpProxy, stat_prefix: tcpStatPrefix(listener.name), cluster: tcpAppClusterName(listener.name) },
	};
}

/** A plain TCP cluster of one endpoint (no HTTP protocol options: tcp_proxy forwards bytes). */
function tcpCluster(name: string, endpoint: SocketAddress): JsonObject {
	const isIp = /^[\d.]+$|:/.test(endpoint.address);
	return {
		name,
		type: isIp ? 'STATIC' : 'STRICT_DNS',
		connect_timeout: '2s',
		load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(endpoint) } }] }] },
	};
}
