/**
 * The names a Kubernetes cluster's DNS answers for a mesh's proxies, as the docker runtime gives them to each
 * proxy's container on the mesh network (./mesh.ts): the proxy's own name, and for a sidecar every Service it
 * backs in the three forms a pod in the cluster can use (`reviews`, `reviews.default`,
 * `reviews.default.svc.cluster.local`; Kubernetes' DNS spec, "Services": `<service>.<ns>.svc.<zone>`, reached
 * from the same namespace by the search path `<ns>.svc.<zone> svc.<zone> <zone>`).
 *
 * Pure (no dockerode): src/compose/mesh.ts builds `MeshPlacement.proxy` / `.aliases` with `meshDirectory`
 * whichever runtime runs the mesh; the local runtime ignores them.
 *
 * Where it departs from a cluster: a Service's name resolves to the addresses of every proxy behind it (Docker's
 * DNS answers an alias shared by several containers with all of them), not to one ClusterIP.
 */
import type { ProxyModel } from '../../config/model.ts';
import type { MeshModel, MeshService } from '../../istio/mesh/model.ts';
import type { MeshPlacement } from '../types.ts';

/** The Services' names that resolve to `proxy` (none for a gateway or a proxy behind no Service), without repeats. */
export function serviceDnsNames(services: readonly MeshService[], proxy: string): string[] {
	const names = services
		.filter(service => !service.external && service.endpoints.some(endpoint => endpoint.proxy === proxy))
		.flatMap(service => [service.name, `${service.name}.${service.namespace}`, service.hostname]);
	return [...new Set(names)];
}

/**
 * `MeshPlacement.proxy` and `.aliases` for a resolved mesh (src/istio/mesh): `current` gives the mesh as it
 * runs, so that a live update's new listeners are where the docker runtime's next push looks.
 */
export function meshDirectory(current: () => Pick<MeshModel, 'proxies' | 'services'>): Required<Pick<MeshPlacement, 'proxy' | 'aliases'>> {
	const proxyOf = (name: string): ProxyModel | undefined => current().proxies.find(entry => entry.name === name)?.sandbox.proxy;
	return {
		proxy: proxyOf,
		aliases: proxy => serviceDnsNames(current().services, proxy),
	};
}
