/**
 * ServiceEntries → the Services of the mesh registry, as istiod's ServiceEntry registry converts them
 * (pilot/pkg/serviceregistry/serviceentry/conversion.go convertServices, convertPort): one Service per host, in
 * the ServiceEntry's namespace, `location` MESH_EXTERNAL unless said (the proto enum's zero value), ports with
 * protocol.Parse. A MESH_EXTERNAL host is served by the mesh's `external:` app of that host (MeshEndpointRef
 * `external`); a MESH_INTERNAL one with a workloadSelector by the mesh workloads it selects.
 */
import type { ServiceEntryResource } from '../config-resources.ts';
import type { MeshService, MeshServiceEndpoint, MeshServicePort } from '../mesh/model.ts';
import { protocolOf } from './validate.ts';

export type ServiceEntryServices = {
	readonly services: readonly MeshService[];
	/** `istiod: …` / `meshbox: …` lines for the mesh's notes. */
	readonly notes: readonly string[];
};

/**
 * The Services the ServiceEntries add. `workloads` are the mesh's workload endpoints (any Service's), which a
 * MESH_INTERNAL ServiceEntry's `workloadSelector` picks from in its own namespace.
 */
export function serviceEntryServices(entries: readonly ServiceEntryResource[], workloads: readonly MeshServiceEndpoint[]): ServiceEntryServices {
	const notes: string[] = [];
	const services: MeshService[] = [];
	for (const entry of entries) {
		const where = `ServiceEntry ${entry.namespace}/${entry.name} at ${entry.origin.file}:${entry.origin.line}:${entry.origin.col}`;
		const external = (entry.spec.location ?? 'MESH_EXTERNAL') === 'MESH_EXTERNAL';
		const ports = (entry.spec.ports ?? []).map(port => servicePort(port, where, notes));
		const selector = (entry.spec as { readonly workloadSelector?: { readonly labels?: Readonly<Record<string, string>> } }).workloadSelector?.labels;
		let endpoints: MeshServiceEndpoint[] = [];
		if (!external && selector) {
			const seen = new Set<string>();
			endpoints = workloads.filter(endpoint => endpoint.namespace === entry.namespace && Object.entries(selector).every(([key, value]) => endpoint.labels[key] === value)
				&& !seen.has(endpoint.proxy) && seen.add(endpoint.proxy) !== undefined);
		}

		if ((entry.spec.endpoints ?? []).length > 0) {
			notes.push(`meshbox: ${where}: endpoint addresses are not dialled; ${external ? 'the mesh\'s `external:` app for each host answers' : 'use workloadSelector to name mesh workloads'}`);
		}

		if (!external && !selector) {
			notes.push(`meshbox: ${where}: a MESH_INTERNAL ServiceEntry without workloadSelector has no workloads in the mesh; its clusters have no endpoints (503)`);
		}

		for (const host of entry.spec.hosts) {
			if (host.includes('*')) {
				notes.push(`meshbox: ${where}: wildcard host ${host} is not modelled (no app can answer for every name under it)`);
				continue;
			}

			services.push({ name: host, namespace: entry.namespace, hostname: host.toLowerCase(), ports, endpoints, external, selector: selector ?? {} });
		}
	}

	return { services, notes };
}

/** convertPort: protocol.Parse of the name given; an empty protocol is sniffed by the proxy. */
function servicePort(port: NonNullable<ServiceEntryResource['spec']['ports']>[number], where: string, notes: string[]): MeshServicePort {
	const known = port.protocol ? protocolOf(port.protocol) : undefined;
	const mapped: MeshServicePort['protocol'] | undefined = known === 'GRPC-Web' ? 'GRPC'
		: (['HTTP', 'HTTP2', 'GRPC', 'TCP', 'HTTPS', 'TLS'] as const).find(protocol => protocol === known);
	if (!mapped) {
		notes.push(port.protocol
			? `meshbox: ${where}: port ${port.number} protocol ${port.protocol} is treated as TCP`
			: `meshbox: ${where}: port ${port.number} has no protocol; the proxy would sniff it, meshbox treats it as HTTP`);
	}

	return { name: port.name, port: port.number, targetPort: port.targetPort ?? port.number, protocol: mapped ?? (port.protocol ? 'TCP' : 'HTTP') };
}
