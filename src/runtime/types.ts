/**
 * The contract between the sandbox and whatever runs Envoy and the upstream (a local process, a container).
 */
import type { MeshEndpointRef, ProxyListenerModel, ProxyModel, SandboxModel } from '../config/model.ts';
import type { SocketAddress } from '../envoy/placement.ts';
import type { MeshboxError } from '../errors.ts';
import type { EnvoyAdmin } from '../envoy-admin/admin.ts';
import type { UpstreamRecordings } from '../upstream/recordings.ts';
import type { PushRejection, PushResult } from '../xds/control-plane.ts';
import type { LogBuffer } from './log-buffer.ts';
import type { TcpEndpoints } from './tcp-apps.ts';
import type { EnvoyHeadStart, PreloadKind } from './head-start-contract.ts';
import type { EnvoyUsage } from './envoy-usage.ts';

export type RuntimeName = 'local' | 'docker';
export const runtimeNames: readonly RuntimeName[] = ['local', 'docker'];

export type RuntimeStartOptions = {
	readonly model: SandboxModel;
	/** `--envoy-bin`: an Envoy binary to use instead of the one meshbox finds or installs. */
	readonly envoyBin?: string;
	/** Progress lines (Envoy install, which Envoy is used). */
	readonly onProgress?: (line: string) => void;
	/** Milliseconds to wait for Envoy's /ready. */
	readonly readyTimeoutMs?: number;
	/**
	 * local runtime: run on a warm Envoy this process keeps between sandboxes (./local/warm-envoy.ts) rather
	 * than a dedicated one, when the model allows it; docker runtime: take this process's spare network and
	 * upstream, and prepare one for the next start (./docker/spares.ts). Default: false (the scenario API asks
	 * for it; `meshbox up`, one sandbox per process, does not).
	 */
	readonly warm?: boolean;
	/**
	 * `meshbox up`'s head start (./local/head-start.ts): the Envoy it started ahead is adopted by the local
	 * runtime's dedicated start when it is the one that start would spawn, and stopped otherwise; the start is
	 * recorded under its key for the next `up`.
	 */
	readonly headStart?: EnvoyHeadStart;
	/** How the next `up`'s head start preloads this one's plugins (./local/head-start.ts); default `modules`. */
	readonly headStartPreload?: PreloadKind;
	/** docker runtime: `--envoy-image`, the image to run Envoy from (default: MESHBOX_ENVOY_IMAGE, the official image, or meshbox/envoy). */
	readonly envoyImage?: string;
	/** When the model is one proxy of a mesh (`model.proxy`): how it reaches the others (src/compose/mesh.ts). */
	readonly mesh?: MeshPlacement;
};

/**
 * What a proxy of a mesh needs from the mesh around it, through whichever runtime runs it: where the other
 * proxies' listeners and the external hosts are, as this proxy's Envoy reaches them. Filled as the proxies come
 * up (a local Envoy binds port 0, so an address is known only after it started): unknown → undefined, and
 * src/compose/mesh.ts pushes again once every proxy is up.
 */
export type MeshPlacement = {
	/** The runtime's handle for the mesh as a whole (docker: the one network every proxy joins). */
	readonly id: string;
	endpoint(ref: Exclude<MeshEndpointRef, { kind: 'app' }>): SocketAddress | undefined;
	/**
	 * The mesh's proxies by name. A runtime that places every listener at a fixed port (docker: Istio's ports on
	 * the proxy's own container) resolves `{kind:'proxy'}` refs from it up front, without `endpoint` (no second push).
	 */
	proxy?(name: string): ProxyModel | undefined;
	/**
	 * The names a cluster's DNS answers with a proxy's address besides its own name: for a sidecar the Services
	 * it backs (`reviews`, `reviews.default`, `reviews.default.svc.cluster.local`); the docker runtime gives them to
	 * the proxy's container on the mesh network (./docker/mesh.ts).
	 */
	aliases?(proxy: string): readonly string[];
};

/** Where a client on this machine reaches one listener of a mesh proxy. */
export type ListenerAddress = { readonly listener: ProxyListenerModel; readonly url: string; readonly address: SocketAddress };

export type RunningSandbox = {
	/** `http://127.0.0.1:<port>`: where clients send requests. */
	readonly url: string;
	/**
	 * The address Envoy sees this machine's requests come from (`source.address` without the port), when it
	 * is not 127.0.0.1: the docker runtime's network gateway, since Docker forwards published ports.
	 */
	readonly clientAddress?: string;
	readonly admin: EnvoyAdmin;
	/** The bootstrap Envoy was started with. */
	readonly bootstrapYaml: string;
	readonly envoyVersion: string;
	readonly logs: LogBuffer;
	readonly upstream: UpstreamRecordings;
	/** The named apps' recordings (`apps:`, ./apps.ts), by name; absent or empty when the spec has none. */
	readonly apps?: Readonly<Record<string, UpstreamRecordings>>;
	/** TCP listeners (`listeners:`): where clients connect, and what each listener's TCP app recorded. */
	readonly tcp?: TcpEndpoints;
	/** Resolves when Envoy exits on its own (not after stop()). */
	readonly exited: Promise<{ exitCode: number | undefined; signal: string | undefined }>;
	/** What Envoy refused of the first push (an Istio sidecar serves on without it; a plain sandbox fails to start instead). */
	readonly rejectedAtStart?: readonly PushRejection[];
	/** The version of the config Envoy runs (the xDS control plane's; 1 after start). */
	configVersion?(): number;
	/**
	 * Serves `model` to the running Envoy over xDS (plugins, clusters, the app's answer) and resolves with what
	 * Envoy did: accepted, or rejected with its reason (the last accepted config then keeps serving).
	 */
	reconfigure?(model: SandboxModel): Promise<PushResult>;
	/**
	 * A request through this sandbox got no response in time (`timeout`, code REQUEST_TIMEOUT): the error to throw
	 * instead, when the runtime can say why (a plugin that never returned: PLUGIN_STUCK, ./stuck-worker.ts). The
	 * runtime takes note too: a warm Envoy that timed out a request is retired when the sandbox stops.
	 */
	explainTimeout?(timeout: MeshboxError): Promise<MeshboxError>;

	/**
	 * The Envoy's memory and CPU time so far (./envoy-usage.ts): present when the Envoy is the sandbox's own
	 * (a dedicated local Envoy, a container), absent on a warm Envoy shared with other sandboxes.
	 */
	envoyUsage?(): Promise<EnvoyUsage>;
	/**
	 * A mesh proxy's listeners (`model.proxy`): where this machine reaches each, and where other proxies of the
	 * mesh reach it (as `MeshPlacement.endpoint` answers for them). Absent for other sandboxes.
	 */
	proxyListeners?(): Promise<{ readonly fromHost: readonly ListenerAddress[]; readonly fromMesh: Readonly<Record<string, SocketAddress>> }>;
	/** Stops Envoy and the upstream and removes every temporary file. Safe to call twice. */
	stop(): Promise<void>;
};
