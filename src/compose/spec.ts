/**
 * The sandbox spec as users write it (meshbox.yaml, `startSandbox()`): the plain sandbox that src/config
 * reads, plus the Istio sidecar fields that src/istio reads.
 */
import type { PlainSandboxSpec } from '../config/spec.ts';
import type { IstioSpec, WorkloadSpec } from '../istio/spec.ts';

export type SandboxSpec = PlainSandboxSpec & {
	// --- Istio sidecar emulation (src/istio; see src/istio/README.md) ---
	/** The workload whose sidecar the sandbox is (with `istio`). */
	workload?: WorkloadSpec;
	/** WasmPlugin files (`istio: [file, …]`), or the full Istio settings. With it, `plugins` must be empty. */
	istio?: string[] | IstioSpec;
};

/** The top-level fields src/istio reads (src/config hands them on as written). */
export const istioFields = ['workload', 'istio'] as const;
