/**
 * The mesh's service registry as istiod's Kubernetes and ServiceEntry registries would hold it: each Service
 * with the workloads its selector picks (pilot/pkg/serviceregistry/kube/controller/endpointslice.go: pods in the
 * Service's namespace whose labels contain the selector), and each ServiceEntry host
 * (pilot/pkg/serviceregistry/serviceentry/conversion.go).
 */
import type { ServiceEntryResource } from '../config-resources.ts';
import type { MeshService, MeshServiceEndpoint } from './model.ts';
import { serviceEntryServices } from '../networking/service-entries.ts';
import type { ResolvedMeshSpec } from './spec.ts';

export function buildRegistry(spec: ResolvedMeshSpec, serviceEntries: readonly ServiceEntryResource[], notes: string[]): MeshService[] {
	const services: MeshService[] = spec.services.map(service => ({
		name: service.name,
		namespace: service.namespace,
		hostname: `${service.name}.${service.namespace}.svc.cluster.local`,
		ports: service.ports,
		endpoints: spec.workloads
			.filter(workload => workload.namespace === service.namespace && Object.entries(service.selector).every(([key, value]) => workload.labels[key] === value))
			.map((workload): MeshServiceEndpoint => ({ proxy: workload.name, labels: workload.labels, namespace: workload.namespace, serviceAccount: workload.serviceAccount, sidecar: true })),
		external: false,
		selector: service.selector,
	}));
	for (const service of services.filter(entry => entry.endpoints.length === 0)) {
		notes.push(`meshbox: Service ${service.namespace}/${service.name} selects no workload of the mesh (selector ${Object.entries(service.selector).map(([key, value]) => `${key}=${value}`).join(', ')}): requests to it get 503`);
	}

	// ServiceEntry hosts (../networking/service-entries.ts); an external one is answered by the mesh's `external:` app.
	const fromEntries = serviceEntryServices(serviceEntries, services.flatMap(service => service.endpoints));
	notes.push(...fromEntries.notes);
	for (const service of fromEntries.services) {
		if (service.external && !spec.external.some(external => external.host === service.hostname)) {
			notes.push(`meshbox: ServiceEntry host ${service.hostname} has no app in the mesh spec: requests to it get 503; add { host: ${service.hostname}, app: {…} } to mesh.external`);
		}
	}

	services.push(...fromEntries.services);
	return services;
}
