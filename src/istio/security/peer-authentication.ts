/**
 * The mTLS mode of a workload's inbound port, as istiod composes PeerAuthentications:
 * pilot/pkg/security/authn/policy_applier.go `ComposePeerAuthentication` (mesh-wide policy in the root namespace
 * → namespace policy → workload policy → its port-level mode; the oldest policy wins at each level; UNSET inherits)
 * and `GetMutualTLSModeForPort`, with the candidates of pilot/pkg/model/authentication.go getConfigsForWorkload
 * (the workload's namespace and the root namespace, selector ⊆ labels). Identical in 1.25–1.30.
 */
import type { PeerAuthenticationResource } from '../config-resources.ts';
import type { MtlsMode } from './types.ts';

export type EffectiveMtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export type PeerAuthenticationInput = {
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	/** The workload (container) port. */
	readonly port: number;
	readonly resources: readonly PeerAuthenticationResource[];
	readonly rootNamespace: string;
};

const modeOf = (mode: MtlsMode | undefined): EffectiveMtlsMode | undefined => (mode === undefined || mode === 'UNSET' ? undefined : mode);

/** Older first (creationTimestamp), as `cfg.CreationTimestamp.Before(...)`; without timestamps the first in file order. */
function oldest(resources: readonly PeerAuthenticationResource[]): PeerAuthenticationResource | undefined {
	let chosen: PeerAuthenticationResource | undefined;
	for (const resource of resources) {
		if (!chosen || (resource.creationTimestamp !== undefined && chosen.creationTimestamp !== undefined && resource.creationTimestamp < chosen.creationTimestamp)) {
			chosen = resource;
		}
	}

	return chosen;
}

export function composePeerAuthentication(input: PeerAuthenticationInput): EffectiveMtlsMode {
	const candidates = input.resources.filter(resource => (resource.namespace === input.namespace || resource.namespace === input.rootNamespace)
		&& Object.entries(resource.spec.selector?.matchLabels ?? {}).every(([key, value]) => input.labels[key] === value));
	const unselected = (resource: PeerAuthenticationResource) => Object.keys(resource.spec.selector?.matchLabels ?? {}).length === 0;
	const mesh = oldest(candidates.filter(resource => unselected(resource) && resource.namespace === input.rootNamespace));
	const namespace = oldest(candidates.filter(resource => unselected(resource) && resource.namespace !== input.rootNamespace));
	// A selector in the root namespace is not a workload policy (ComposePeerAuthentication's `else if`).
	const workload = oldest(candidates.filter(resource => !unselected(resource) && resource.namespace !== input.rootNamespace));
	let mode: EffectiveMtlsMode = 'PERMISSIVE';
	for (const level of [mesh, namespace, workload]) {
		mode = modeOf(level?.spec.mtls?.mode) ?? mode;
	}

	const portLevel = workload?.spec.portLevelMtls?.[String(input.port)];
	if (portLevel) {
		return modeOf(portLevel.mode) ?? mode;
	}

	return mode;
}
