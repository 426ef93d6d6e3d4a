/**
 * Where things are inside the containers, shared by the docker runtime and the compose file so that both
 * run exactly the same Envoy configuration: Envoy listens on fixed ports on all interfaces of its
 * container (only published on the host's 127.0.0.1), finds its bootstrap and plugins under /etc/meshbox,
 * and reaches the upstream by its network alias.
 */
import type { ClusterModel, PluginModel, SandboxModel } from '../../config/model.ts';
import type { Placement, SocketAddress } from '../../envoy/bootstrap.ts';
import { envoyArguments } from '../../envoy-binary/command-line.ts';
import { appPortInContainer } from '../apps.ts';
import { wasmModulesOf } from '../../config/listeners.ts';
import { upstreamAppPort, upstreamControlPort } from '../../upstream/control.ts';

export const containerListenerPort = 10_000;
export const containerAdminPort = 9901;
export const upstreamAlias = 'upstream';
export { upstreamAppPort, upstreamControlPort };

export const bootstrapPathInContainer = '/etc/meshbox/envoy.yaml';
/** The Envoy binary in every supported image (official envoyproxy/envoy, istio/proxyv2, meshbox/envoy). */
export const envoyPathInContainer = '/usr/local/bin/envoy';

/**
 * `/etc/meshbox/plugins/<n>-<name>.wasm`: the position in the model keeps plugins apart (names are unique, but
 * `a/b` and `a_b` would be one file name), the name is for humans. Found by name: Istio sidecar models refer
 * to their plugins with copies of the model's entries.
 */
export function wasmPathInContainer(plugin: PluginModel, model: SandboxModel): string {
	// Network plugins and services too (src/config/listeners.ts): names are unique across all of them.
	const index = wasmModulesOf(model).findIndex(entry => entry.name === plugin.name);
	return `/etc/meshbox/plugins/${index}-${plugin.name.replaceAll(/[^\w.-]/g, '_')}.wasm`;
}

/** Over xDS, modules are staged by content (see ../staged-modules.ts): `<dir>/<sha256>.wasm`. */
export const moduleDirInContainer = '/etc/meshbox/modules';

export function modulePathInContainer(plugin: PluginModel): string {
	return `${moduleDirInContainer}/${plugin.module.sha256}.wasm`;
}

/** A TCP listener's port in the container (src/config/listeners.ts): after the HTTP listener's, in the model's order. */
export function containerTcpListenerPort(model: SandboxModel, listenerName: string): number {
	return containerListenerPort + 1 + (model.listeners?.tcp ?? []).findIndex(listener => listener.name === listenerName);
}

/**
 * `clusterAddress`: how Envoy in the container reaches an extra cluster (default: the model's address);
 * `tcpApp`: how it reaches a TCP listener's app (./tcp-relays.ts).
 */
export function containerPlacement(model: SandboxModel, clusterAddress?: (cluster: ClusterModel) => SocketAddress, tcpApp?: (listenerName: string) => SocketAddress): Placement {
	return {
		listener: { address: '0.0.0.0', port: containerListenerPort },
		admin: { address: '0.0.0.0', port: containerAdminPort },
		upstream: { address: upstreamAlias, port: upstreamAppPort },
		wasmPath: plugin => wasmPathInContainer(plugin, model),
		// Named apps (`apps:`): the upstream container serves each on a port of its own (../apps.ts).
		appAddress: app => ({ address: upstreamAlias, port: appPortInContainer(model, app) }),
		...(clusterAddress ? { clusterAddress } : {}),
		extraListener: name => ({ address: '0.0.0.0', port: containerTcpListenerPort(model, name) }),
		...(tcpApp ? { tcpApp } : {}),
	};
}

/** Envoy's arguments in the container (the entrypoint is the Envoy binary itself). */
export function containerEnvoyArguments(model: SandboxModel): string[] {
	return envoyArguments(model.envoy, bootstrapPathInContainer);
}
