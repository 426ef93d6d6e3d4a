/**
 * A mesh as istiod and istio-agent would serve it: every proxy (gateways, then the workloads' sidecars) as a
 * sandbox model of its own (SandboxModel with `proxy`), the Services they reach, and what else the mesh needs
 * started (hosts outside the mesh that ServiceEntries name). src/compose starts it; src/envoy renders each proxy.
 */
import type { SandboxModel, UpstreamModel } from '../../config/model.ts';

export type MeshServicePort = {
	readonly name: string;
	/** The Service port (what callers use: `reviews:9080`). */
	readonly port: number;
	/** The container port behind it. */
	readonly targetPort: number;
	/** From the port name / appProtocol as Istio infers it (pilot/pkg/serviceregistry/kube/conversion.go). */
	readonly protocol: 'HTTP' | 'HTTP2' | 'GRPC' | 'TCP' | 'HTTPS' | 'TLS';
};

/** One workload behind a Service: which proxy, with its labels (for subsets) and identity (for SANs). */
export type MeshServiceEndpoint = {
	/** The proxy's name (a workload's). */
	readonly proxy: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly namespace: string;
	readonly serviceAccount: string;
	/** Whether it has a sidecar (auto mTLS sends mTLS only to those: `security.istio.io/tlsMode: istio`). */
	readonly sidecar: boolean;
};

/** A Kubernetes Service of the mesh, or a host a ServiceEntry adds. */
export type MeshService = {
	readonly name: string;
	readonly namespace: string;
	/** `reviews.default.svc.cluster.local`, or a ServiceEntry host. */
	readonly hostname: string;
	readonly ports: readonly MeshServicePort[];
	readonly endpoints: readonly MeshServiceEndpoint[];
	/** ServiceEntry MESH_EXTERNAL (its endpoints are `external` refs, served by the mesh's `external:` apps). */
	readonly external: boolean;
	/** Kubernetes Service labels / selector, for `targetRefs` to a Service. */
	readonly selector: Readonly<Record<string, string>>;
};

export type MeshProxyModel = {
	/** The workload's or gateway's name: unique in the mesh. */
	readonly name: string;
	readonly kind: 'gateway' | 'sidecar';
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly serviceAccount: string;
	/** `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`. */
	readonly principal: string;
	/** What the runtime starts: `proxy` set; `upstream` is the workload's app (a gateway's is never reached). */
	readonly sandbox: SandboxModel;
};

/** A host outside the mesh (ServiceEntry) that the mesh serves with a recording app. */
export type MeshExternalModel = { readonly host: string; readonly port: number; readonly upstream: UpstreamModel };

export type MeshModel = {
	/** The emulated Istio release, e.g. `1.29.6`. */
	readonly istioVersion: string;
	readonly trustDomain: string;
	/** Gateways first (the first one is the one `meshbox up` prints and `mesh.request()` uses), then sidecars. */
	readonly proxies: readonly MeshProxyModel[];
	readonly services: readonly MeshService[];
	readonly externals: readonly MeshExternalModel[];
	/** Mesh-wide notes (each proxy has its own in `sandbox.proxy.notes`). */
	readonly notes: readonly string[];
	/** Istio files and local modules (`up --watch` watches them). */
	readonly sources: readonly string[];
};
