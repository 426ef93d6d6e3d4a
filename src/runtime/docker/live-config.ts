/**
 * The docker runtime over xDS: the control plane on this machine's loopback (../xds-session.ts), a relay to it
 * on the sandbox network's gateway that admits the sandbox's containers only, the modules staged into the
 * Envoy container by content (./container-modules.ts), and the ADS bootstrap that points Envoy at the relay.
 * The app's answer (the upstream container) follows each accepted change.
 */
import type { ClusterModel, SandboxModel } from '../../config/model.ts';
import { buildAdsBootstrap, type JsonObject, type Placement, type SocketAddress } from '../../envoy/bootstrap.ts';
import { setUpstreamResponse } from '../../upstream/control-client.ts';
import type { LogBuffer } from '../log-buffer.ts';
import { XdsSession } from '../xds-session.ts';
import { ContainerModules } from './container-modules.ts';
import { startRelay, type RelayAdmission } from './host-relay.ts';
import { containerPlacement, modulePathInContainer } from './layout.ts';
import type { ProxyPlacement } from './mesh.ts';

export type LiveConfig = { xds: XdsSession; modules: ContainerModules; bootstrap: JsonObject; stop(): Promise<void> };

type LiveConfigInput = {
	model: SandboxModel;
	logs: LogBuffer;
	gateway: string;
	admit: RelayAdmission;
	clusterAddress: (cluster: ClusterModel) => SocketAddress;
	/** How Envoy reaches the TCP listeners' apps (./tcp-relays.ts). */
	tcpApp: (listenerName: string) => SocketAddress;
	/** The upstream's control API, once its container runs: the app's answer follows accepted updates. */
	controlUrl: Promise<string>;
	/** A mesh proxy's listeners and endpoints (./mesh.ts). */
	proxy?: ProxyPlacement;
};

/** The control plane, its relay into the sandbox's network, and the ADS bootstrap that points Envoy at it. */
export async function startLiveConfig({ model, logs, gateway, admit, clusterAddress, tcpApp, controlUrl, proxy }: LiveConfigInput): Promise<LiveConfig> {
	const modules = new ContainerModules();
	const placement: Placement = { ...containerPlacement(model, clusterAddress, tcpApp), wasmPath: modulePathInContainer, ...proxy };
	let answer = JSON.stringify(model.upstream);
	const xds = await XdsSession.start({
		model,
		placement,
		modules,
		logs,
		onAccepted: async next => {
			if (JSON.stringify(next.upstream) !== answer) {
				await setUpstreamResponse(await controlUrl, next.upstream);
				answer = JSON.stringify(next.upstream);
			}
		},
	});
	try {
		const relay = await startRelay(gateway, { host: '127.0.0.1', port: xds.port }, admit);
		return {
			xds,
			modules,
			bootstrap: buildAdsBootstrap(model, placement, { address: gateway, port: relay.port }),
			stop: async () => {
				await Promise.allSettled([relay.stop(), xds.stop()]);
			},
		};
	} catch (error) {
		await xds.stop();
		throw error;
	}
}
