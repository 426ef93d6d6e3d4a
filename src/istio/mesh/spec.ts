/**
 * The `mesh:` part of a spec (meshbox.yaml, `startMesh()`): the gateways, the workloads (each with its own
 * sidecar and recording app), the Kubernetes Services that select them, and the hosts outside the mesh that
 * ServiceEntries name. Read with every error at its file:line:col.
 */
import { configError, readInteger, readObject, readPort, readString, readStringMap, type FieldPath, type Locator } from '../../config/fields.ts';
import type { UpstreamModel } from '../../config/model.ts';
import { resolveUpstream } from '../../config/resolve.ts';
import type { MeshServicePort } from './model.ts';

/** A Service port as written: `9080`, or `{ port, targetPort, name, appProtocol }`. */
export type ServicePortSpec = number | { port: number; targetPort?: number; name?: string; appProtocol?: string };

export type GatewayDeploymentSpec = {
	/** Deployment / proxy name. Default `istio-ingressgateway`. */
	name?: string;
	/** Default `istio-system`. */
	namespace?: string;
	/** Default `{ istio: ingressgateway, app: istio-ingressgateway }` (the default's; others: `{ istio: <name> }`). */
	labels?: Record<string, string>;
	/** Service ports → container ports. Default Istio's chart: 80 → 8080 (http2), 443 → 8443 (https). */
	ports?: ServicePortSpec[];
	/** Default `<name>-service-account`, as Istio's gateway chart. */
	serviceAccount?: string;
	/** Where `meshbox up` binds the first port's listener on this machine (0: any free port). Default 0. */
	hostPort?: number;
	/** Gateway TLS: `credentialName` → PEM files (a kubernetes.io/tls Secret); absent ones get a mesh-CA certificate. */
	credentials?: Record<string, { cert: string; key: string; ca?: string }>;
};

/** The recording app's answer: as `upstream:` of a plain sandbox. */
export type AppSpec = { status?: number; headers?: Record<string, string>; body?: string; trailers?: Record<string, string>; delayMs?: number };

export type WorkloadDeploymentSpec = {
	name: string;
	/** Default `default`. */
	namespace?: string;
	/** Pod labels. Default `{ app: <name> }`. */
	labels?: Record<string, string>;
	/** Default `default`. */
	serviceAccount?: string;
	/** The app's container port. Default 8080. */
	port?: number;
	/** A Service selecting this workload's labels: its name (ports: the container port), or the Service in full. */
	service?: string | { name: string; ports?: ServicePortSpec[] };
	app?: AppSpec;
};

export type ServiceSpec = {
	name: string;
	/** Default `default`. */
	namespace?: string;
	/** Pods with these labels (in the namespace) are its endpoints. */
	selector: Record<string, string>;
	ports: ServicePortSpec[];
};

export type ExternalSpec = { host: string; port?: number; app?: AppSpec };

export type MeshSpec = {
	/** Default: one `istio-ingressgateway` in istio-system. `[]`: none. */
	gateways?: GatewayDeploymentSpec[];
	workloads?: WorkloadDeploymentSpec[];
	services?: ServiceSpec[];
	external?: ExternalSpec[];
};

export type ResolvedGatewayDeployment = {
	readonly name: string;
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly ports: readonly MeshServicePort[];
	readonly serviceAccount: string;
	readonly hostPort: number;
	readonly credentials: Readonly<Record<string, { readonly cert: string; readonly key: string; readonly ca?: string }>>;
	/** Set for a gateway istiod deploys for a Gateway API Gateway (its `gateway.networking.k8s.io/gateway-name`). */
	readonly gatewayApiName?: string;
};

export type ResolvedWorkloadDeployment = {
	readonly name: string;
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly serviceAccount: string;
	readonly port: number;
	readonly app: UpstreamModel;
};

export type ResolvedServiceSpec = {
	readonly name: string;
	readonly namespace: string;
	readonly selector: Readonly<Record<string, string>>;
	readonly ports: readonly MeshServicePort[];
};

export type ResolvedMeshSpec = {
	readonly gateways: readonly ResolvedGatewayDeployment[];
	readonly workloads: readonly ResolvedWorkloadDeployment[];
	readonly services: readonly ResolvedServiceSpec[];
	readonly external: ReadonlyArray<{ readonly host: string; readonly port: number; readonly app: UpstreamModel }>;
};

const meshFields = ['gateways', 'workloads', 'services', 'external'] as const;
const gatewayFields = ['name', 'namespace', 'labels', 'ports', 'serviceAccount', 'hostPort', 'credentials'] as const;
const workloadFields = ['name', 'namespace', 'labels', 'serviceAccount', 'port', 'service', 'app'] as const;
const serviceFields = ['name', 'namespace', 'selector', 'ports'] as const;
const externalFields = ['host', 'port', 'app'] as const;

/** Istio's gateway chart (manifests/charts/gateway): 80 → 8080 (http2), 443 → 8443 (https), status 15021. */
export const defaultGatewayPorts: readonly MeshServicePort[] = [
	{ name: 'http2', port: 80, targetPort: 8080, protocol: 'HTTP2' },
	{ name: 'https', port: 443, targetPort: 8443, protocol: 'HTTPS' },
];

export function readMeshSpec(value: unknown, locate: Locator): ResolvedMeshSpec {
	const at: FieldPath = ['mesh'];
	const fields = readObject(value, at, locate, meshFields);
	const gateways = fields.gateways === undefined
		? [defaultGateway()]
		: readList(fields.gateways, [...at, 'gateways'], locate).map((entry, index) => readGateway(entry, [...at, 'gateways', index], locate));
	const workloads = fields.workloads === undefined ? [] : readList(fields.workloads, [...at, 'workloads'], locate).map((entry, index) => readWorkload(entry, [...at, 'workloads', index], locate));
	const services = fields.services === undefined ? [] : readList(fields.services, [...at, 'services'], locate).map((entry, index) => readService(entry, [...at, 'services', index], locate));
	// `service:` on a workload: a Service selecting exactly its labels.
	for (const [index, entry] of (fields.workloads === undefined ? [] : readList(fields.workloads, [...at, 'workloads'], locate)).entries()) {
		const workload = workloads[index]!;
		const service = (entry as Record<string, unknown>).service;
		if (service !== undefined) {
			services.push(readWorkloadService(service, workload, [...at, 'workloads', index, 'service'], locate));
		}
	}

	const external = fields.external === undefined ? [] : readList(fields.external, [...at, 'external'], locate).map((entry, index) => {
		const path = [...at, 'external', index];
		const external = readObject(entry, path, locate, externalFields);
		return {
			host: readString(external.host, [...path, 'host'], locate),
			port: external.port === undefined ? 80 : readPort(external.port, [...path, 'port'], locate),
			app: resolveUpstream(external.app, locate, [...path, 'app']),
		};
	});
	checkUnique([...gateways, ...workloads].map(entry => entry.name), index => index < gateways.length ? [...at, 'gateways', index, 'name'] : [...at, 'workloads', index - gateways.length, 'name'], locate, 'proxy');
	checkUnique(services.map(service => `${service.namespace}/${service.name}`), index => [...at, 'services', index, 'name'], locate, 'Service');
	return { gateways, workloads, services, external };
}

function defaultGateway(): ResolvedGatewayDeployment {
	return { name: 'istio-ingressgateway', namespace: 'istio-system', labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' }, ports: defaultGatewayPorts,
		serviceAccount: 'istio-ingressgateway-service-account', hostPort: 0, credentials: {} };
}

function readGateway(value: unknown, path: FieldPath, locate: Locator): ResolvedGatewayDeployment {
	const fields = readObject(value, path, locate, gatewayFields);
	const base = defaultGateway();
	const name = fields.name === undefined ? base.name : readString(fields.name, [...path, 'name'], locate);
	const credentials: Record<string, { cert: string; key: string; ca?: string }> = {};
	if (fields.credentials !== undefined) {
		for (const [credentialName, entry] of Object.entries(readObject(fields.credentials, [...path, 'credentials'], locate, []))) {
			const file = readObject(entry, [...path, 'credentials', credentialName], locate, ['cert', 'key', 'ca']);
			credentials[credentialName] = {
				cert: readString(file.cert, [...path, 'credentials', credentialName, 'cert'], locate),
				key: readString(file.key, [...path, 'credentials', credentialName, 'key'], locate),
				...(file.ca === undefined ? {} : { ca: readString(file.ca, [...path, 'credentials', credentialName, 'ca'], locate) }),
			};
		}
	}

	return {
		name,
		namespace: fields.namespace === undefined ? base.namespace : readString(fields.namespace, [...path, 'namespace'], locate),
		labels: fields.labels === undefined ? (name === base.name ? base.labels : { app: name, istio: name }) : readStringMap(fields.labels, [...path, 'labels'], locate),
		ports: fields.ports === undefined ? base.ports : readList(fields.ports, [...path, 'ports'], locate).map((entry, index) => readServicePort(entry, [...path, 'ports', index], locate)),
		serviceAccount: fields.serviceAccount === undefined ? `${name}-service-account` : readString(fields.serviceAccount, [...path, 'serviceAccount'], locate),
		hostPort: fields.hostPort === undefined ? 0 : readPort(fields.hostPort, [...path, 'hostPort'], locate),
		credentials,
	};
}

function readWorkload(value: unknown, path: FieldPath, locate: Locator): ResolvedWorkloadDeployment {
	const fields = readObject(value, path, locate, workloadFields);
	if (fields.name === undefined) {
		throw configError(locate, [...path, 'name'], 'a workload needs a name', 'name it as its Deployment, e.g. name: reviews-v1');
	}

	const name = readString(fields.name, [...path, 'name'], locate);
	const port = fields.port === undefined ? 8080 : readPort(fields.port, [...path, 'port'], locate);
	if (port === 0) {
		throw configError(locate, [...path, 'port'], 'the app port must be 1..65535', 'it is the container port the sidecar forwards to, e.g. 8080');
	}

	return {
		name,
		namespace: fields.namespace === undefined ? 'default' : readString(fields.namespace, [...path, 'namespace'], locate),
		labels: fields.labels === undefined ? { app: name } : readStringMap(fields.labels, [...path, 'labels'], locate),
		serviceAccount: fields.serviceAccount === undefined ? 'default' : readString(fields.serviceAccount, [...path, 'serviceAccount'], locate),
		port,
		app: resolveUpstream(fields.app, locate, [...path, 'app']),
	};
}

function readWorkloadService(value: unknown, workload: ResolvedWorkloadDeployment, path: FieldPath, locate: Locator): ResolvedServiceSpec {
	const defaultPorts: MeshServicePort[] = [{ name: 'http', port: workload.port, targetPort: workload.port, protocol: 'HTTP' }];
	if (typeof value === 'string') {
		return { name: value, namespace: workload.namespace, selector: workload.labels, ports: defaultPorts };
	}

	const fields = readObject(value, path, locate, ['name', 'ports']);
	return {
		name: readString(fields.name, [...path, 'name'], locate),
		namespace: workload.namespace,
		selector: workload.labels,
		ports: fields.ports === undefined ? defaultPorts : readList(fields.ports, [...path, 'ports'], locate).map((entry, index) => readServicePort(entry, [...path, 'ports', index], locate, workload.port)),
	};
}

function readService(value: unknown, path: FieldPath, locate: Locator): ResolvedServiceSpec {
	const fields = readObject(value, path, locate, serviceFields);
	if (fields.selector === undefined || fields.ports === undefined) {
		throw configError(locate, path, 'a Service needs `selector` and `ports`', 'e.g. { name: reviews, selector: { app: reviews }, ports: [9080] }');
	}

	return {
		name: readString(fields.name, [...path, 'name'], locate),
		namespace: fields.namespace === undefined ? 'default' : readString(fields.namespace, [...path, 'namespace'], locate),
		selector: readStringMap(fields.selector, [...path, 'selector'], locate),
		ports: readList(fields.ports, [...path, 'ports'], locate).map((entry, index) => readServicePort(entry, [...path, 'ports', index], locate)),
	};
}

function readServicePort(value: unknown, path: FieldPath, locate: Locator, defaultTarget?: number): MeshServicePort {
	if (typeof value === 'number') {
		const port = readPort(value, path, locate);
		return { name: 'http', port, targetPort: defaultTarget ?? port, protocol: 'HTTP' };
	}

	const fields = readObject(value, path, locate, ['port', 'targetPort', 'name', 'appProtocol']);
	const port = readInteger(fields.port, [...path, 'port'], locate, 1, 65_535);
	const name = fields.name === undefined ? '' : readString(fields.name, [...path, 'name'], locate);
	const appProtocol = fields.appProtocol === undefined ? undefined : readString(fields.appProtocol, [...path, 'appProtocol'], locate);
	return {
		name,
		port,
		targetPort: fields.targetPort === undefined ? (defaultTarget ?? port) : readInteger(fields.targetPort, [...path, 'targetPort'], locate, 1, 65_535),
		protocol: protocolOf(name, appProtocol),
	};
}

/**
 * pkg/config/protocol/instance.go + pilot/pkg/serviceregistry/kube/conversion.go: appProtocol first, then the
 * port name's prefix before `-` (`http`, `http2`, `grpc`, `https`, `tls`, `tcp`, …); an unnamed port is sniffed.
 */
export function protocolOf(name: string, appProtocol: string | undefined): MeshServicePort['protocol'] {
	const word = (appProtocol ?? name.split('-')[0] ?? '').toLowerCase();
	switch (word) {
		case 'http': case 'http1.1': case '': {
			// An unnamed port: istiod sniffs the protocol (outbound and inbound), so HTTP traffic is HTTP.
			return 'HTTP';
		}

		case 'http2': case 'h2c': case 'kubernetes.io/h2c': {
			return 'HTTP2';
		}

		case 'grpc': case 'grpc-web': {
			return 'GRPC';
		}

		case 'https': {
			return 'HTTPS';
		}

		case 'tls': {
			return 'TLS';
		}

		default: {
			return 'TCP';
		}
	}
}

function readList(value: unknown, path: FieldPath, locate: Locator): unknown[] {
	if (!Array.isArray(value)) {
		throw configError(locate, path, 'expected a list');
	}

	return value;
}

function checkUnique(names: readonly string[], pathOf: (index: number) => FieldPath, locate: Locator, what: string): void {
	const seen = new Set<string>();
	for (const [index, name] of names.entries()) {
		if (seen.has(name)) {
			throw configError(locate, pathOf(index), `two of the mesh's ${what}s are named ${name}`, `give each ${what} its own name`);
		}

		seen.add(name);
	}
}
