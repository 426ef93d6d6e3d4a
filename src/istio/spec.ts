/**
 * The Istio part of a sandbox spec (`workload:` and `istio:` in meshbox.yaml, or startSandbox options):
 * which workload the sandbox's Envoy is the sidecar of, which Istio release to emulate, and the Istio files.
 */
import { readInteger, readObject, readOneOf, readPort, readString, readStringMap, configError, type Locator } from '../config/fields.ts';
import { readMeshConfig } from './security/mesh-config.ts';
import type { MeshConfigSpec } from './security/types.ts';
import { defaultIstioVersion, istioVersions, latestPatches, parseIstioRelease, type IstioVersion } from './version.ts';

export type WorkloadSpec = {
	/** Workload (Deployment) name. Default: `my-app`. */
	name?: string;
	/** Default: `default`. */
	namespace?: string;
	/** Pod labels; WasmPlugin selectors match these. Default: `{ app: <name> }`. */
	labels?: Record<string, string>;
	/** The container port the app listens on (inbound: the target port Istio names listeners and clusters after). Default 8080. */
	port?: number;
	/** Pod name. Default: `<name>-meshbox`. */
	podName?: string;
	/** Pod IP in the node id and INSTANCE_IPS. Default 127.0.0.1 (where the sandbox really listens). */
	ip?: string;
	/** Default: `default`. */
	serviceAccount?: string;
};

export type DestinationSpec = {
	/** Service host. Default: `<workload name>.<namespace>.svc.cluster.local`. */
	host?: string;
	/** Service port (outbound listener, cluster and match.ports use it). Default 80. */
	port?: number;
};

export type IstioSpec = {
	/**
	 * The Istio release emulated: names, placement and failure handling follow it. A release (`'1.29'`, its
	 * latest known patch: 1.29.6) or a patch (`'1.29.0'`; patches differ in istio-agent's registry realm check).
	 * Default '1.29'.
	 */
	version?: IstioVersion | `${IstioVersion}.${number}`;
	/** Files with WasmPlugin (and, 1.30+, TrafficExtension) documents; relative to meshbox.yaml / baseDir. */
	files?: string[];
	/**
	 * Resources given inline (startSandbox): objects as `kubectl apply` would read them, or YAML text (one or
	 * more documents, read as Istio files are). Later ones replace earlier ones of the same kind/namespace/name.
	 */
	resources?: unknown[];
	/** `inbound` (default): the sandbox is the app's sidecar, traffic class SERVER. `outbound`: CLIENT, requests go to `destination`. */
	direction?: 'inbound' | 'outbound';
	destination?: DestinationSpec;
	/** meshConfig.rootNamespace. Default `istio-system`. */
	rootNamespace?: string;
	/** CLUSTER_ID. Default `Kubernetes`. */
	clusterId?: string;
	/** MESH_ID (and trust domain). Default `cluster.local`. */
	meshId?: string;
	/** The istio-proxy container's environment, for `valueFrom: HOST` (wins over the synthesized sidecar env and meshbox's own env). */
	env?: Record<string, string>;
	/** imagePullSecret name → docker config JSON file (a kubernetes.io/dockerconfigjson Secret's `.dockerconfigjson`). */
	pullSecrets?: Record<string, string>;
	/** `istio`: Envoy at Istio's default levels (warning, misc:error): plugin info/debug logs hidden, as in a cluster. Default `meshbox` (info, wasm:debug). */
	proxyLogLevel?: 'istio' | 'meshbox';
	/** meshbox's content cache (OCI layers by digest) and the modules Envoy loads. Default `<meshbox cache>/istio-wasm`. */
	cacheDir?: string;
	/** WASM_INSECURE_REGISTRIES: hosts as written in the URL (`host:port`), or `*`, fetched over HTTPS without certificate checks. */
	insecureRegistries?: string[];
	/** Per-fetch time limit (istiod's HttpUri timeout). Default 30 s. */
	fetchTimeoutMs?: number;
	/**
	 * MeshConfig fields meshbox reads: `extensionProviders` (envoyExtAuthzHttp / envoyExtAuthzGrpc, for CUSTOM
	 * AuthorizationPolicies) and `trustDomain`.
	 */
	meshConfig?: { extensionProviders?: unknown[]; trustDomain?: string };
};

export type ResolvedWorkload = {
	readonly name: string;
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly port: number;
	readonly podName: string;
	readonly ip: string;
	readonly serviceAccount: string;
};

export type ResolvedIstioSpec = {
	readonly version: IstioVersion;
	/** The patch of `version` (version.ts latestPatches when only the release was given). */
	readonly patch: number;
	readonly files: readonly string[];
	readonly resources: readonly unknown[];
	readonly direction: 'inbound' | 'outbound';
	readonly destination: { readonly host: string; readonly port: number };
	readonly rootNamespace: string;
	readonly clusterId: string;
	readonly meshId: string;
	readonly env: Readonly<Record<string, string>>;
	readonly pullSecrets: Readonly<Record<string, string>>;
	readonly proxyLogLevel: 'istio' | 'meshbox';
	readonly cacheDir: string | undefined;
	readonly insecureRegistries: readonly string[];
	readonly fetchTimeoutMs: number;
	readonly meshConfig: MeshConfigSpec;
};

const workloadFields = ['name', 'namespace', 'labels', 'port', 'podName', 'ip', 'serviceAccount'] as const;
const istioFields = ['version', 'files', 'resources', 'direction', 'destination', 'rootNamespace', 'clusterId', 'meshId', 'env', 'pullSecrets',
	'proxyLogLevel', 'cacheDir', 'insecureRegistries', 'fetchTimeoutMs', 'meshConfig'] as const;

export function readWorkload(value: unknown, locate: Locator): ResolvedWorkload {
	const fields = value === undefined ? {} : readObject(value, ['workload'], locate, workloadFields);
	const name = fields.name === undefined ? 'my-app' : readString(fields.name, ['workload', 'name'], locate);
	const namespace = fields.namespace === undefined ? 'default' : readString(fields.namespace, ['workload', 'namespace'], locate);
	const port = fields.port === undefined ? 8080 : readPort(fields.port, ['workload', 'port'], locate);
	if (port === 0) {
		throw configError(locate, ['workload', 'port'], 'the app port must be 1..65535', 'it is the container port the sidecar forwards to, e.g. 8080');
	}

	return {
		name,
		namespace,
		labels: fields.labels === undefined ? { app: name } : readStringMap(fields.labels, ['workload', 'labels'], locate),
		port,
		podName: fields.podName === undefined ? `${name}-meshbox` : readString(fields.podName, ['workload', 'podName'], locate),
		ip: fields.ip === undefined ? '127.0.0.1' : readString(fields.ip, ['workload', 'ip'], locate),
		serviceAccount: fields.serviceAccount === undefined ? 'default' : readString(fields.serviceAccount, ['workload', 'serviceAccount'], locate),
	};
}

/** `istio: [files]` is short for `istio: { files: [...] }`. */
export function readIstio(value: unknown, locate: Locator, workload: ResolvedWorkload): ResolvedIstioSpec {
	const fields = Array.isArray(value) ? { files: value } : (value === undefined ? {} : readObject(value, ['istio'], locate, istioFields));
	const files = fields.files === undefined ? [] : readList(fields.files, ['istio', 'files'], locate).map((file, index) => readString(file, ['istio', 'files', index], locate));
	const destination = fields.destination === undefined ? {} : readObject(fields.destination, ['istio', 'destination'], locate, ['host', 'port']);
	const destinationPort = destination.port === undefined ? 80 : readPort(destination.port, ['istio', 'destination', 'port'], locate);
	const release = fields.version === undefined ? { version: defaultIstioVersion, patch: latestPatches[defaultIstioVersion] } : parseIstioRelease(fields.version);
	if (!release) {
		throw configError(locate, ['istio', 'version'], `${JSON.stringify(fields.version)} is not an Istio release meshbox emulates`,
			`use one of ${istioVersions.join(', ')} (its latest patch), or a patch such as ${defaultIstioVersion}.0; quote it in YAML: version: '1.30'`);
	}

	return {
		version: release.version,
		patch: release.patch,
		files,
		resources: fields.resources === undefined ? [] : readList(fields.resources, ['istio', 'resources'], locate),
		direction: fields.direction === undefined ? 'inbound' : readOneOf(fields.direction, ['istio', 'direction'], locate, ['inbound', 'outbound'] as const),
		destination: {
			host: destination.host === undefined ? `${workload.name}.${workload.namespace}.svc.cluster.local` : readString(destination.host, ['istio', 'destination', 'host'], locate),
			port: destinationPort === 0 ? 80 : destinationPort,
		},
		rootNamespace: fields.rootNamespace === undefined ? 'istio-system' : readString(fields.rootNamespace, ['istio', 'rootNamespace'], locate),
		clusterId: fields.clusterId === undefined ? 'Kubernetes' : readString(fields.clusterId, ['istio', 'clusterId'], locate),
		meshId: fields.meshId === undefined ? 'cluster.local' : readString(fields.meshId, ['istio', 'meshId'], locate),
		env: fields.env === undefined ? {} : readStringMap(fields.env, ['istio', 'env'], locate),
		pullSecrets: fields.pullSecrets === undefined ? {} : readStringMap(fields.pullSecrets, ['istio', 'pullSecrets'], locate),
		proxyLogLevel: fields.proxyLogLevel === undefined ? 'meshbox' : readOneOf(fields.proxyLogLevel, ['istio', 'proxyLogLevel'], locate, ['istio', 'meshbox'] as const),
		cacheDir: fields.cacheDir === undefined ? undefined : readString(fields.cacheDir, ['istio', 'cacheDir'], locate),
		insecureRegistries: fields.insecureRegistries === undefined ? [] : readList(fields.insecureRegistries, ['istio', 'insecureRegistries'], locate)
			.map((entry, index) => readString(entry, ['istio', 'insecureRegistries', index], locate)),
		fetchTimeoutMs: fields.fetchTimeoutMs === undefined ? 30_000 : readInteger(fields.fetchTimeoutMs, ['istio', 'fetchTimeoutMs'], locate, 100, 600_000),
		meshConfig: readMeshConfig(fields.meshConfig, ['istio', 'meshConfig'], locate),
	};
}

function readList(value: unknown, path: ReadonlyArray<string | number>, locate: Locator): unknown[] {
	if (!Array.isArray(value)) {
		throw configError(locate, path, 'expected a list');
	}

	return value;
}
