/**
 * Which security policies attach to a proxy, as istiod decides: pilot/pkg/model/policyattachment.go
 * `ShouldAttachPolicy` (selector for sidecars and classic gateways; targetRefs for Gateway API gateways, whose pods
 * carry `gateway.networking.k8s.io/gateway-name`), looked up in the root namespace and the proxy's own
 * (pilot/pkg/model/authorization.go ListAuthorizationPolicies, authentication.go getConfigsForWorkload), each
 * namespace's policies by creation time (pilot/pkg/model/config.go sortConfigByCreationTime).
 */
import type { ConfigResource } from '../config-resources.ts';
import type { TargetRef } from '../resources.ts';
import type { WorkloadSelector } from './types.ts';

/** The proxy a policy may apply to (a sidecar of a workload, or a gateway's router). */
export type SecurityProxy = {
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly kind: 'sidecar' | 'gateway';
	/** Workload or gateway (Deployment) name, for notes. */
	readonly name: string;
};

export type Attachable = ConfigResource<string, { readonly selector?: WorkloadSelector; readonly targetRefs?: readonly TargetRef[] }>;

export type AttachOutcome<R> = { readonly resource: R; readonly applied: boolean; readonly reason: string };

/** policyattachment.go / label.IoK8sNetworkingGatewayGatewayName. */
export const gatewayNameLabel = 'gateway.networking.k8s.io/gateway-name';

/**
 * Every resource with its verdict; the applied ones in istiod's order (`namespaces` in lookup order, each sorted by
 * creation time then name; resources without creationTimestamp keep their file order).
 */
export function attachPolicies<R extends Attachable>(resources: readonly R[], proxy: SecurityProxy, rootNamespace: string, lookup: 'root-first' | 'workload-first'): AttachOutcome<R>[] {
	const namespaces = [...new Set(lookup === 'root-first' ? [rootNamespace, proxy.namespace] : [proxy.namespace, rootNamespace])];
	const outcomes: AttachOutcome<R>[] = [];
	for (const namespace of namespaces) {
		const inNamespace = resources.filter(resource => resource.namespace === namespace)
			.map((resource, index) => ({ resource, index }))
			.sort((a, b) => compareCreation(a.resource, b.resource) || a.index - b.index)
			.map(({ resource }) => resource);
		for (const resource of inNamespace) {
			const reason = whyNot(resource, proxy);
			outcomes.push({ resource, applied: reason === undefined, reason: reason ?? (resource.namespace === rootNamespace && proxy.namespace !== rootNamespace ? 'selected (root namespace: mesh-wide)' : 'selected') });
		}
	}

	for (const resource of resources.filter(candidate => !namespaces.includes(candidate.namespace))) {
		outcomes.push({ resource, applied: false, reason: `in namespace ${resource.namespace}: ${proxy.name} in ${proxy.namespace} only gets policies from its own namespace and the root namespace ${rootNamespace}` });
	}

	return outcomes;
}

function compareCreation(a: Attachable, b: Attachable): number {
	if (a.creationTimestamp === undefined || b.creationTimestamp === undefined) {
		return 0;
	}

	return (a.creationTimestamp - b.creationTimestamp) || a.name.localeCompare(b.name);
}

/** policyattachment.go ShouldAttachPolicy: undefined when it attaches, else why not. */
function whyNot(resource: Attachable, proxy: SecurityProxy): string | undefined {
	const gatewayName = proxy.labels[gatewayNameLabel];
	const targetRefs = resource.spec.targetRefs ?? [];
	if (gatewayName === undefined) {
		if (targetRefs.length > 0) {
			return `has targetRefs, which select Gateway API gateways (and Services for waypoints); ${proxy.kind === 'sidecar' ? 'a sidecar' : 'a gateway without the gateway-name label'} ignores it (use selector.matchLabels)`;
		}

		return selectorMismatch(resource.spec.selector, proxy);
	}

	// ENABLE_SELECTOR_BASED_K8S_GATEWAY_POLICY defaults to true (pilot/pkg/features/pilot.go): a selector still applies.
	if (targetRefs.length === 0) {
		return selectorMismatch(resource.spec.selector, proxy);
	}

	for (const ref of targetRefs) {
		if (resource.namespace !== proxy.namespace || (ref.namespace && ref.namespace !== proxy.namespace)) {
			continue;
		}

		if (ref.group === 'gateway.networking.k8s.io' && ref.kind === 'Gateway' && ref.name === gatewayName) {
			return undefined;
		}
	}

	return `targetRefs name ${targetRefs.map(ref => `${ref.kind}/${ref.name}`).join(', ')}, not this gateway (Gateway/${gatewayName} in ${proxy.namespace}); Service targetRefs apply to waypoints only`;
}

function selectorMismatch(selector: WorkloadSelector | undefined, proxy: SecurityProxy): string | undefined {
	const missing = Object.entries(selector?.matchLabels ?? {}).filter(([key, value]) => proxy.labels[key] !== value);
	if (missing.length === 0) {
		return undefined;
	}

	return `selector does not match: needs ${missing.map(([key, value]) => `${key}=${value}`).join(', ')}; ${proxy.name} has ${Object.entries(proxy.labels).map(([key, value]) => `${key}=${value}`).join(', ') || 'no labels'}`;
}
