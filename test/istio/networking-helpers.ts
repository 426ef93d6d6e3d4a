/**
 * Shared inputs for the networking translation tests: validated resources from YAML (as `meshbox check` reads
 * them) and a bookinfo-shaped service registry.
 */
import type { DestinationRuleResource, IstioConfigResource, VirtualServiceResource } from '../../src/istio/config-resources.ts';
import type { MeshService, MeshServiceEndpoint } from '../../src/istio/mesh/model.ts';
import { errors, parse } from './helpers.ts';

/** Resources from YAML documents (throws on any validation error, so inputs are what a cluster accepts). */
export function resources(yaml: string): IstioConfigResource[] {
	const parsed = parse(yaml);
	const found = errors(parsed);
	if (found.length > 0) {
		throw new Error(`invalid test input: ${found.join('; ')}`);
	}

	return [...parsed.config];
}

export function virtualServices(yaml: string): VirtualServiceResource[] {
	return resources(yaml).filter((resource): resource is VirtualServiceResource => resource.kind === 'VirtualService');
}

export function destinationRules(yaml: string): DestinationRuleResource[] {
	return resources(yaml).filter((resource): resource is DestinationRuleResource => resource.kind === 'DestinationRule');
}

export function doc(kind: string, name: string, spec: string, namespace = 'default'): string {
	return `apiVersion: networking.istio.io/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${spec.split('\n').map(line => `  ${line}`).join('\n')}\n---\n`;
}

const endpoint = (proxy: string, labels: Record<string, string>, serviceAccount: string, sidecar = true): MeshServiceEndpoint =>
	({ proxy, labels, namespace: 'default', serviceAccount, sidecar });

export function service(name: string, port: number, endpoints: MeshServiceEndpoint[], namespace = 'default'): MeshService {
	return {
		name, namespace, hostname: `${name}.${namespace}.svc.cluster.local`, ports: [{ name: 'http', port, targetPort: port, protocol: 'HTTP' }],
		endpoints, external: false, selector: { app: name },
	};
}

/** bookinfo: productpage, reviews v1/v2/v3, ratings; and an external host from a ServiceEntry. */
export const bookinfo: MeshService[] = [
	service('productpage', 9080, [endpoint('productpage-v1', { app: 'productpage', version: 'v1' }, 'bookinfo-productpage')]),
	service('reviews', 9080, [
		endpoint('reviews-v1', { app: 'reviews', version: 'v1' }, 'bookinfo-reviews'),
		endpoint('reviews-v2', { app: 'reviews', version: 'v2' }, 'bookinfo-reviews'),
		endpoint('reviews-v3', { app: 'reviews', version: 'v3' }, 'bookinfo-reviews'),
	]),
	service('ratings', 9080, [endpoint('ratings-v1', { app: 'ratings', version: 'v1' }, 'bookinfo-ratings', false)]),
	{ name: 'api.example.com', namespace: 'default', hostname: 'api.example.com', ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'HTTP' }], endpoints: [], external: true, selector: {} },
];
