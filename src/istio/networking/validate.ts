/**
 * networking.istio.io Gateway, VirtualService, DestinationRule, ServiceEntry, validated in the order a cluster
 * applies them: the API server's CRD schema (./schema.ts; manifests/charts/base/files/crd-all.gen.yaml), then
 * istiod's validating webhook: pkg/config/validation/validation.go ValidateGateway, ValidateDestinationRule,
 * ValidateServiceEntry, ValidateVirtualService, pkg/config/validation/virtualservice.go validateHTTPRoute and
 * pkg/config/validation/agent/validation.go (hosts, ports, durations, retries). Messages are Istio's own.
 * The webhook reports an error without a field; meshbox points at the field it is about.
 */
import { isRecord, type FieldPath } from '../../config/fields.ts';
import type { ConfigValidationContext, DestinationRuleResource, GatewayResource, ServiceEntryResource, VirtualServiceResource } from '../config-resources.ts';
import { configResource, readEnvelope } from '../config-envelope.ts';
import type { FindingCollector } from '../findings.ts';
import { compileGoRegexp } from '../go-regexp.ts';
import { checkSchema, s } from './schema.ts';
import type {
	ClientTls, DestinationRuleSpec, GatewaySpec, HeaderOperations, Headers, HttpMatchRequest, HttpRoute, ServiceEntrySpec, StringMatch,
	TrafficPolicy, VirtualServiceSpec,
} from './types.ts';

const group = 'networking.istio.io';

// --- CRD schemas (istio/api networking/v1alpha3/*.proto, JSON names) ----------------------------------------

const stringMatch = s.object({ exact: s.string, prefix: s.string, regex: s.string }, { oneOf: ['exact', 'prefix', 'regex'] });
const portSelector = s.object({ number: s.uint32 });
const destination = s.object({ host: s.string, subset: s.string, port: portSelector }, { required: ['host'] });
const headerOperations = s.object({ set: s.map(s.string), add: s.map(s.string), remove: s.list(s.string) });
const headers = s.object({ request: headerOperations, response: headerOperations });
const percent = s.object({ value: s.number });
const labelMap = s.map(s.string);

const httpMatch = s.object({
	name: s.string, uri: stringMatch, scheme: stringMatch, method: stringMatch, authority: stringMatch, headers: s.map(stringMatch),
	port: s.uint32, sourceLabels: labelMap, gateways: s.list(s.string), queryParams: s.map(stringMatch), ignoreUriCase: s.bool,
	withoutHeaders: s.map(stringMatch), sourceNamespace: s.string, statPrefix: s.string,
});

const httpRoute = s.object({
	name: s.string,
	match: s.list(httpMatch),
	route: s.list(s.object({ destination, weight: s.int32, headers }, { required: ['destination'] })),
	redirect: s.object({
		uri: s.string, authority: s.string, port: s.uint32, derivePort: s.enumOf(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']),
		scheme: s.string, redirectCode: s.uint32, prefixRewrite: s.string,
	}, { oneOf: ['port', 'derivePort'] }),
	directResponse: s.object({ status: s.uint32, body: s.object({ string: s.string, bytes: s.string }, { oneOf: ['string', 'bytes'] }) }, { required: ['status'] }),
	delegate: s.object({ name: s.string, namespace: s.string }),
	rewrite: s.object({ uri: s.string, authority: s.string, uriRegexRewrite: s.object({ match: s.string, rewrite: s.string }) }),
	timeout: s.duration,
	retries: s.object({ attempts: s.int32, perTryTimeout: s.duration, retryOn: s.string, retryRemoteLocalities: s.bool, retryIgnorePreviousHosts: s.bool, backoff: s.duration }),
	fault: s.object({
		delay: s.object({ fixedDelay: s.duration, exponentialDelay: s.duration, percentage: percent, percent: s.int32 }, { oneOf: ['fixedDelay', 'exponentialDelay'] }),
		abort: s.object({ httpStatus: s.int32, grpcStatus: s.string, http2Error: s.string, percentage: percent }, { oneOf: ['httpStatus', 'grpcStatus', 'http2Error'] }),
	}),
	mirror: destination,
	mirrors: s.list(s.object({ destination, percentage: percent }, { required: ['destination'] })),
	mirrorPercentage: percent,
	mirrorPercent: s.uint32,
	mirror_percent: s.uint32,
	corsPolicy: s.object({
		allowOrigin: s.list(s.string), allowOrigins: s.list(stringMatch), allowMethods: s.list(s.string), allowHeaders: s.list(s.string),
		exposeHeaders: s.list(s.string), maxAge: s.duration, allowCredentials: s.bool, unmatchedPreflights: s.enumOf(['UNSPECIFIED', 'FORWARD', 'IGNORE']),
	}),
	headers,
});

const l4Route = s.object({ destination, weight: s.int32 }, { required: ['destination'] });
const virtualServiceSpec = s.object({
	hosts: s.list(s.string),
	gateways: s.list(s.string),
	http: s.list(httpRoute),
	tls: s.list(s.object({
		match: s.list(s.object({ sniHosts: s.list(s.string), destinationSubnets: s.list(s.string), port: s.uint32, sourceLabels: labelMap, gateways: s.list(s.string), sourceNamespace: s.string })),
		route: s.list(l4Route),
	})),
	tcp: s.list(s.object({
		match: s.list(s.object({ destinationSubnets: s.list(s.string), port: s.uint32, sourceLabels: labelMap, gateways: s.list(s.string), sourceNamespace: s.string, sourceSubnet: s.string })),
		route: s.list(l4Route),
	})),
	exportTo: s.list(s.string),
});

const clientTls = s.object({
	mode: s.enumOf(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']), clientCertificate: s.string, privateKey: s.string, caCertificates: s.string,
	credentialName: s.string, subjectAltNames: s.list(s.string), sni: s.string, insecureSkipVerify: s.bool, caCrl: s.string,
});
const connectionPool = s.object({
	tcp: s.object({
		maxConnections: s.int32, connectTimeout: s.duration, tcpKeepalive: s.object({ probes: s.uint32, time: s.duration, interval: s.duration }),
		maxConnectionDuration: s.duration, idleTimeout: s.duration,
	}),
	http: s.object({
		http1MaxPendingRequests: s.int32, http2MaxRequests: s.int32, maxRequestsPerConnection: s.int32, maxRetries: s.int32, idleTimeout: s.duration,
		h2UpgradePolicy: s.enumOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']), useClientProtocol: s.bool, maxConcurrentStreams: s.int32,
		http2KeepAlive: s.object({ interval: s.duration, timeout: s.duration }),
	}),
});
const loadBalancer = s.object({
	simple: s.enumOf(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']),
	consistentHash: s.any, localityLbSetting: s.any, zoneAwareLbSetting: s.any, warmupDurationSecs: s.duration, warmup: s.any, backendUtilization: s.any,
}, { oneOf: ['simple', 'consistentHash', 'backendUtilization'] });
const outlierDetection = s.object({
	splitExternalLocalOriginErrors: s.bool, consecutiveLocalOriginFailures: s.uint32, consecutiveGatewayErrors: s.uint32, consecutive5xxErrors: s.uint32,
	interval: s.duration, baseEjectionTime: s.duration, maxEjectionPercent: s.int32, minHealthPercent: s.int32, consecutiveErrors: s.int32,
	outlierDetectionHttpErrorCodes: s.list({ t: 'int', min: 100, max: 599 }),
});
const portTrafficPolicy = s.object({ port: portSelector, loadBalancer, connectionPool, outlierDetection, tls: clientTls });
const trafficPolicy = s.object({
	loadBalancer, connectionPool, outlierDetection, tls: clientTls, portLevelSettings: s.list(portTrafficPolicy),
	tunnel: s.object({ protocol: s.string, targetHost: s.string, targetPort: s.uint32 }, { required: ['targetHost', 'targetPort'] }),
	proxyProtocol: s.object({ version: s.enumOf(['V1', 'V2']) }),
	retryBudget: s.object({ percent: s.number, minRetryConcurrency: s.uint32, budgetInterval: s.duration }),
});
const destinationRuleSpec = s.object({
	host: s.string, trafficPolicy,
	subsets: s.list(s.object({ name: s.string, labels: labelMap, trafficPolicy }, { required: ['name'] })),
	exportTo: s.list(s.string),
	workloadSelector: s.object({ matchLabels: labelMap }),
}, { required: ['host'] });

const serviceEntrySpec = s.object({
	hosts: s.list(s.string), addresses: s.list(s.string),
	ports: s.list(s.object({ number: s.uint32, protocol: s.string, name: s.string, targetPort: s.uint32 }, { required: ['number', 'name'] })),
	location: s.enumOf(['MESH_EXTERNAL', 'MESH_INTERNAL']),
	resolution: s.enumOf(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']),
	endpoints: s.list(s.object({
		address: s.string, ports: s.map(s.uint32), labels: labelMap, network: s.string, locality: s.string, weight: s.uint32, serviceAccount: s.string,
	})),
	workloadSelector: s.object({ labels: labelMap }),
	exportTo: s.list(s.string),
	subjectAltNames: s.list(s.string),
}, { required: ['hosts'] });

const serverTls = s.object({
	httpsRedirect: s.bool, mode: s.enumOf(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']),
	serverCertificate: s.string, privateKey: s.string, caCertificates: s.string, caCrl: s.string, credentialName: s.string,
	credentialNames: s.list(s.string), caCertCredentialName: s.string, tlsCertificates: s.list(s.object({ serverCertificate: s.string, privateKey: s.string, caCertificates: s.string })),
	subjectAltNames: s.list(s.string), verifyCertificateSpki: s.list(s.string), verifyCertificateHash: s.list(s.string),
	minProtocolVersion: s.enumOf(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']), maxProtocolVersion: s.enumOf(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3']),
	cipherSuites: s.list(s.string), ecdhCurves: s.list(s.string), insecureSkipVerify: s.bool,
});
const gatewaySpec = s.object({
	selector: labelMap,
	servers: s.list(s.object({
		port: s.object({ number: s.uint32, protocol: s.string, name: s.string, targetPort: s.uint32 }, { required: ['number', 'protocol', 'name'] }),
		bind: s.string, hosts: s.list(s.string), tls: serverTls, name: s.string, defaultEndpoint: s.string,
	}, { required: ['port', 'hosts'] })),
});

// --- The validators (config-kinds.ts registers them) ---------------------------------------------------------

export function validateGateway(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): GatewayResource | undefined {
	const envelope = readEnvelope(document, 'Gateway', context);
	const checked = checkSchema(envelope.spec, gatewaySpec, ['spec'], { collector: context.collector }) as Partial<GatewaySpec> | undefined;
	const spec: GatewaySpec | undefined = checked && { selector: checked.selector ?? {}, servers: checked.servers ?? [] };
	if (spec && !context.collector.hasErrors) {
		checkGateway(envelope.name, spec, context.collector);
	}

	return context.collector.hasErrors || !spec ? undefined : configResource('Gateway', group, envelope, spec, context);
}

export function validateVirtualService(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): VirtualServiceResource | undefined {
	const envelope = readEnvelope(document, 'VirtualService', context);
	// not-api.ts checkVirtualService already explained `spec.http[].wasm` (the seed article's): not reported twice.
	const skipUnknown = (path: FieldPath): boolean => path.length === 4 && path[0] === 'spec' && path[1] === 'http' && path[3] === 'wasm';
	const spec = checkSchema(envelope.spec, virtualServiceSpec, ['spec'], { collector: context.collector, skipUnknown }) as VirtualServiceSpec | undefined;
	if (spec && !context.collector.hasErrors) {
		checkVirtualService({ ...spec, hosts: spec.hosts ?? [] }, context.collector);
	}

	return context.collector.hasErrors || !spec ? undefined : configResource('VirtualService', group, envelope, { ...spec, hosts: spec.hosts ?? [] }, context);
}

export function validateDestinationRule(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): DestinationRuleResource | undefined {
	const envelope = readEnvelope(document, 'DestinationRule', context);
	const spec = checkSchema(envelope.spec, destinationRuleSpec, ['spec'], { collector: context.collector }) as DestinationRuleSpec | undefined;
	if (spec && !context.collector.hasErrors) {
		checkDestinationRule(spec, envelope.namespace, context.collector);
	}

	return context.collector.hasErrors || !spec ? undefined : configResource('DestinationRule', group, envelope, spec, context);
}

export function validateServiceEntry(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): ServiceEntryResource | undefined {
	const envelope = readEnvelope(document, 'ServiceEntry', context);
	const spec = checkSchema(envelope.spec, serviceEntrySpec, ['spec'], { collector: context.collector }) as ServiceEntrySpec | undefined;
	if (spec && !context.collector.hasErrors) {
		checkServiceEntry(spec, context.collector);
	}

	return context.collector.hasErrors || !spec ? undefined : configResource('ServiceEntry', group, envelope, spec, context);
}

// --- Shared helpers (pkg/config/validation/agent/validation.go, pkg/config/labels) ---------------------------

const dns1123Label = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const wildcardLabel = /^(\*|(\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;
const labelValue = /^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelKey = /^(?:[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*\/)?((?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;

export function isDns1123Label(value: string): boolean {
	return value.length <= 63 && dns1123Label.test(value);
}

export function isIpAddress(value: string): boolean {
	return /^(\d{1,3})(\.\d{1,3}){3}$/.test(value) && value.split('.').every(part => Number(part) <= 255) || (value.includes(':') && /^[0-9a-fA-F:.]+$/.test(value));
}

function checkDns1123Preconditions(name: string): string | undefined {
	if (name.length > 255) {
		return `domain name ${JSON.stringify(name)} too long (max 255)`;
	}

	return name.length === 0 ? 'empty domain name not allowed' : undefined;
}

function validateDns1123Labels(domain: string): string | undefined {
	const parts = domain.split('.');
	const top = parts.at(-1) ?? '';
	if (/^[+-]?\d+$/.test(top)) {
		return `domain name ${JSON.stringify(domain)} invalid (top level domain ${JSON.stringify(top)} cannot be all-numeric)`;
	}

	for (const [index, label] of parts.entries()) {
		if (index === parts.length - 1 && label === '') {
			return undefined;
		}

		if (!isDns1123Label(label)) {
			return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(label)} invalid)`;
		}
	}

	return undefined;
}

/** agent.ValidateWildcardDomain. */
export function wildcardDomainError(domain: string): string | undefined {
	const pre = checkDns1123Preconditions(domain);
	if (pre) {
		return pre;
	}

	const dot = domain.indexOf('.');
	const first = dot < 0 ? domain : domain.slice(0, dot);
	if (first.length > 63 || !wildcardLabel.test(first)) {
		return `domain name ${JSON.stringify(domain)} invalid (label ${JSON.stringify(first)} invalid)`;
	}

	return dot < 0 ? undefined : validateDns1123Labels(domain.slice(dot + 1));
}

/** agent.ValidateFQDN. */
function fqdnError(fqdn: string): string | undefined {
	return checkDns1123Preconditions(fqdn) ?? validateDns1123Labels(fqdn);
}

function portError(port: number): string | undefined {
	return port >= 1 && port <= 65535 ? undefined : `port number ${port} must be in the range 1..65535`;
}

/** agent.ValidateDuration (the schema already refused what is below 1ms or not a duration). */
function checkDurationPrecision(text: string | undefined, path: FieldPath, collector: FindingCollector): void {
	if (text !== undefined && /\d+(\.\d+)?(ns|us|µs|μs)/.test(text) && !/^\d+(ms|s|m|h)/.test(text)) {
		collector.error('webhook', path, 'only durations to ms precision are supported');
	}
}

/** labels.Instance.Validate. */
function checkLabels(labels: Readonly<Record<string, string>> | undefined, path: FieldPath, collector: FindingCollector): void {
	for (const [key, value] of Object.entries(labels ?? {})) {
		const match = labelKey.exec(key);
		if (!match) {
			collector.error('webhook', [...path, key], `invalid tag key: ${JSON.stringify(key)}`);
		} else if ((match[1] ?? '').length > 63) {
			collector.error('webhook', [...path, key], `invalid tag key: ${JSON.stringify(key)} (name is too long)`);
		}

		if (!labelValue.test(value)) {
			collector.error('webhook', [...path, key], `invalid tag value: ${JSON.stringify(value)}`);
		}
	}
}

/** validation.go validateExportTo (for a resource that is not a ServiceEntry unless said). */
function checkExportTo(namespace: string, exportTo: readonly string[] | undefined, path: FieldPath, collector: FindingCollector, serviceEntry = false): void {
	const seen = new Set<string>();
	for (const [index, entry] of (exportTo ?? []).entries()) {
		const key = entry === '.' ? namespace : entry;
		if (seen.has(key)) {
			collector.error('webhook', [...path, index], key === entry ? `duplicate entries in exportTo for entry ${entry}` : `duplicate entries in exportTo: . and current namespace ${namespace}`);
			continue;
		}

		if (!(serviceEntry && entry === '~') && key !== '*' && key !== '.' && !isDns1123Label(key)) {
			collector.error('webhook', [...path, index], `only .,*, or a valid DNS 1123 label is allowed as exportTo entry`);
		}

		seen.add(key);
	}

	if (seen.has('*') && (exportTo ?? []).length > 1) {
		collector.error('webhook', path, 'cannot have both public (*) and non-public exportTo values for a resource');
	}

	if (seen.has('~') && (exportTo ?? []).length > 1) {
		collector.error('webhook', path, 'cannot export service entry to no one (~) and someone');
	}
}

// --- VirtualService ----------------------------------------------------------------------------------------

/** validation.go ValidateVirtualService. */
function checkVirtualService(spec: VirtualServiceSpec & { readonly tcp?: readonly unknown[]; readonly tls?: readonly unknown[] }, collector: FindingCollector): void {
	const gateways = spec.gateways ?? [];
	if (spec.hosts.length === 0 && gateways.length > 0) {
		collector.error('webhook', ['spec', 'gateways'], 'delegate virtual service must have no gateways specified');
	}

	checkGatewayNames(gateways, ['spec', 'gateways'], collector);
	const appliesToGateway = gateways.length > 0 && !gateways.includes('mesh');
	const appliesToMesh = !appliesToGateway;
	let allHostsValid = true;
	for (const [index, hostname] of spec.hosts.entries()) {
		const error = wildcardDomainError(hostname);
		if (error && !isIpAddress(hostname)) {
			collector.error('webhook', ['spec', 'hosts', index], error);
			allHostsValid = false;
		} else if (!error && appliesToMesh && hostname === '*') {
			collector.error('webhook', ['spec', 'hosts', index], 'wildcard host * is not allowed for virtual services bound to the mesh gateway',
				'bind it to a gateway (spec.gateways), or name the hosts it is for');
			allHostsValid = false;
		}
	}

	if (allHostsValid) {
		for (let i = 0; i < spec.hosts.length; i++) {
			for (let j = i + 1; j < spec.hosts.length; j++) {
				if (hostMatches(spec.hosts[i]!, spec.hosts[j]!)) {
					collector.error('webhook', ['spec', 'hosts', j], `duplicate hosts in virtual service: ${spec.hosts[i]} & ${spec.hosts[j]}`);
				}
			}
		}
	}

	const http = spec.http ?? [];
	if (http.length === 0 && (spec.tcp ?? []).length === 0 && (spec.tls ?? []).length === 0) {
		collector.error('webhook', ['spec'], 'http, tcp or tls must be provided in virtual service');
	}

	for (const [index, route] of http.entries()) {
		if (route === undefined) {
			collector.error('webhook', ['spec', 'http', index], 'http route may not be null');
			continue;
		}

		checkHttpRoute(route, ['spec', 'http', index], spec.hosts.length === 0, collector);
	}

	unreachableRules(http, collector);
}

/** validation.go validateGatewayNames. */
function checkGatewayNames(names: readonly string[], path: FieldPath, collector: FindingCollector): void {
	for (const [index, name] of names.entries()) {
		const slash = name.indexOf('/');
		if (slash < 0) {
			if (name.includes('.')) {
				const [first, second] = name.split('.');
				collector.warning('webhook', [...path, index], `using legacy gatewayName format ${JSON.stringify(name)}; prefer the <namespace>/<name> format: ${JSON.stringify(`${second}/${first}`)}`);
			}

			const error = fqdnError(name);
			if (error) {
				collector.error('webhook', [...path, index], error);
			}

			continue;
		}

		const namespace = name.slice(0, slash);
		const gateway = name.slice(slash + 1);
		if (!namespace || !gateway) {
			collector.error('webhook', [...path, index], 'config namespace and gateway name cannot be empty');
		}

		if (!isDns1123Label(namespace)) {
			collector.error('webhook', [...path, index], `invalid value for namespace: ${JSON.stringify(namespace)}`);
		}

		if (!isDns1123Label(gateway)) {
			collector.error('webhook', [...path, index], `invalid value for gateway name: ${JSON.stringify(gateway)}`);
		}
	}
}

/** virtualservice.go validateHTTPRoute. */
function checkHttpRoute(route: HttpRoute & { readonly delegate?: unknown; readonly mirrors?: readonly unknown[]; readonly mirrorPercentage?: { readonly value?: number } }, path: FieldPath, delegate: boolean, collector: FindingCollector): void {
	const routes = route.route ?? [];
	// validateHTTPRouteConflict
	if (route.delegate !== undefined && !delegate) {
		if (route.redirect) {
			collector.error('webhook', [...path, 'redirect'], `root HTTP route ${route.name ?? ''} must not specify redirect`);
		}

		if (route.route) {
			collector.error('webhook', [...path, 'route'], `root HTTP route ${route.name ?? ''} must not specify route`);
		}
	} else {
		if (delegate && route.delegate !== undefined) {
			collector.error('webhook', [...path, 'delegate'], 'delegate HTTP route cannot contain delegate');
		}

		if (route.redirect) {
			const conflicts: Array<[boolean, string, string]> = [
				[routes.length > 0, 'route', 'HTTP route cannot contain both route and redirect'],
				[route.fault !== undefined, 'fault', 'HTTP route cannot contain both fault and redirect'],
				[route.rewrite !== undefined, 'rewrite', 'HTTP route rule cannot contain both rewrite and redirect'],
				[route.directResponse !== undefined, 'directResponse', 'HTTP route rule cannot contain both direct_response and redirect'],
			];
			for (const [conflict, field, message] of conflicts) {
				if (conflict) {
					collector.error('webhook', [...path, field], message);
				}
			}
		} else if (route.directResponse) {
			const conflicts: Array<[boolean, string, string]> = [
				[routes.length > 0, 'route', 'HTTP route cannot contain both route and direct_response'],
				[route.fault !== undefined, 'fault', 'HTTP route cannot contain both fault and direct_response'],
				[route.rewrite !== undefined, 'rewrite', 'HTTP route rule cannot contain both rewrite and direct_response'],
			];
			for (const [conflict, field, message] of conflicts) {
				if (conflict) {
					collector.error('webhook', [...path, field], message);
				}
			}
		} else if (routes.length === 0) {
			collector.error('webhook', path, 'HTTP route, redirect or direct_response is required', 'add `route: [{destination: {host: …}}]`, a `redirect` or a `directResponse`');
		}

		if (route.mirror && (route.mirrors ?? []).length > 0) {
			collector.error('webhook', [...path, 'mirrors'], 'HTTP route cannot contain both mirror and mirrors');
		}
	}

	for (const [index, match] of (route.match ?? []).entries()) {
		checkMatch(match, [...path, 'match', index], collector);
	}

	checkHeaderOperations(route.headers, [...path, 'headers'], collector);
	checkFault(route, path, collector);
	const mirrorPercentage = route.mirrorPercentage?.value;
	if (mirrorPercentage !== undefined && mirrorPercentage > 100) {
		collector.error('webhook', [...path, 'mirrorPercentage'], `mirror_percentage must have a max value of 100 (it has ${mirrorPercentage.toFixed(6)})`);
	}

	if (mirrorPercentage !== undefined && mirrorPercentage < 0) {
		collector.error('webhook', [...path, 'mirrorPercentage'], `mirror_percentage must have a min value of 0 (it has ${mirrorPercentage.toFixed(6)})`);
	}

	if (route.mirror) {
		checkDestination(route.mirror, [...path, 'mirror'], collector);
	}

	checkRedirect(route, path, collector);
	const status = route.directResponse?.status;
	if (status !== undefined && (status < 200 || status > 600)) {
		collector.error('webhook', [...path, 'directResponse', 'status'], `HTTP status ${status} is not in range 200-599`);
	}

	const body = route.directResponse?.body;
	const size = body?.string?.length ?? body?.bytes?.length ?? 0;
	if (size > 1024 * 1024) {
		collector.error('webhook', [...path, 'directResponse', 'body'], 'large direct_responses may impact control plane performance, must be less than 1MB');
	} else if (size > 100 * 1024) {
		collector.warning('webhook', [...path, 'directResponse', 'body'], 'large direct_responses may impact control plane performance');
	}

	checkRetries(route, path, collector);
	checkRewrite(route, path, collector);
	checkTimeout(route, path, collector);
	let totalWeight = 0;
	for (const [index, target] of routes.entries()) {
		const targetPath = [...path, 'route', index];
		checkHeaderOperations(target.headers, [...targetPath, 'headers'], collector);
		checkDestination(target.destination, [...targetPath, 'destination'], collector);
		if ((target.weight ?? 0) < 0) {
			collector.error('webhook', [...targetPath, 'weight'], `weight ${target.weight} < 0`);
		}

		totalWeight += target.weight ?? 0;
	}

	if (routes.length > 1 && totalWeight === 0) {
		collector.error('webhook', [...path, 'route'], 'total destination weight = 0', 'give each destination a weight (they need not add up to 100)');
	}
}

function checkTimeout(route: HttpRoute, path: FieldPath, collector: FindingCollector): void {
	checkDurationPrecision(route.timeout, [...path, 'timeout'], collector);
}

/** validateHTTPRouteMatchRequest. */
function checkMatch(match: HttpMatchRequest, path: FieldPath, collector: FindingCollector): void {
	for (const [name, header] of Object.entries(match.headers ?? {})) {
		checkHeaderName(name, [...path, 'headers', name], collector);
		checkStringMatch(header, [...path, 'headers', name], 'headers', collector);
	}

	for (const [name, header] of Object.entries(match.withoutHeaders ?? {})) {
		checkHeaderName(name, [...path, 'withoutHeaders', name], collector);
		if (header.regex !== '*') {
			checkStringMatch(header, [...path, 'withoutHeaders', name], 'withoutHeaders', collector);
		}
	}

	if (match.uri?.regex !== undefined) {
		checkRegex(match.uri.regex, [...path, 'uri', 'regex'], 'uri', collector);
	}

	for (const field of ['scheme', 'method', 'authority'] as const) {
		checkStringMatch(match[field], [...path, field], field, collector);
	}

	for (const [name, param] of Object.entries(match.queryParams ?? {})) {
		checkStringMatch(param, [...path, 'queryParams', name], 'queryParams', collector);
	}

	if (match.port !== undefined && match.port !== 0) {
		const error = portError(match.port);
		if (error) {
			collector.error('webhook', [...path, 'port'], error);
		}
	}

	checkLabels(match.sourceLabels, [...path, 'sourceLabels'], collector);
	checkGatewayNames(match.gateways ?? [], [...path, 'gateways'], collector);
	if (match.sourceNamespace && !isDns1123Label(match.sourceNamespace)) {
		collector.error('webhook', [...path, 'sourceNamespace'], `sourceNamespace match ${match.sourceNamespace} is invalid`);
	}
}

const pseudoHeaders = [':method', ':authority', ':path', ':scheme', ':status'];
const headerName = /^[-!#$%&'*+.^_`|~0-9a-zA-Z]+$/;

/** validation.go ValidateHTTPHeaderNameOrJwtClaimRoute. */
function checkHeaderName(name: string, path: FieldPath, collector: FindingCollector): void {
	if (name === '') {
		collector.error('webhook', path, 'header name cannot be empty');
	} else if (!name.startsWith('@request.auth.claims') && !pseudoHeaders.includes(name) && !headerName.test(name)) {
		collector.error('webhook', path, `header name ${name} is not a valid header name`);
	}
}

/** validation.go validateStringMatch. */
function checkStringMatch(match: StringMatch | undefined, path: FieldPath, where: string, collector: FindingCollector): void {
	if (match?.prefix === '') {
		collector.error('webhook', [...path, 'prefix'], `${JSON.stringify(where)}: prefix string match should not be empty`);
	}

	if (match?.regex !== undefined) {
		checkRegex(match.regex, [...path, 'regex'], where, collector);
	}
}

function checkRegex(regex: string, path: FieldPath, where: string, collector: FindingCollector): void {
	if (regex === '') {
		collector.error('webhook', path, `${JSON.stringify(where)}: regex string match should not be empty`);
		return;
	}

	if (regex.length > 1024) {
		collector.error('webhook', path, `${JSON.stringify(where)}: regex is too large, max length allowed is 1024`);
		return;
	}

	const compiled = compileGoRegexp(regex);
	if (compiled.error && !compiled.error.startsWith('meshbox:')) {
		collector.error('webhook', path, `${JSON.stringify(where)}: ${compiled.error}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)`);
	}
}

/** The header manipulations of a route or a destination (validateHTTPRoute, validateHTTPRouteDestinations). */
function checkHeaderOperations(headers: Headers | undefined, path: FieldPath, collector: FindingCollector): void {
	const check = (operations: HeaderOperations | undefined, direction: 'request' | 'response'): void => {
		for (const operation of ['add', 'set'] as const) {
			for (const [name, value] of Object.entries(operations?.[operation] ?? {})) {
				const namePath = [...path, direction, operation, name];
				if (direction === 'request') {
					if (name === '') {
						collector.error('webhook', namePath, 'header name cannot be empty');
					} else if ((name.startsWith(':') || name.toLowerCase() === 'host') && !isAuthority(name)) {
						collector.error('webhook', namePath, `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`);
					}
				} else {
					checkOperationName(name, namePath, collector);
				}

				if (/[\u0000-\u0008\u000A-\u001F\u007F]/.test(value)) {
					collector.error('webhook', namePath, `header value configuration ${value} is invalid`);
				}
			}
		}

		for (const [index, name] of (operations?.remove ?? []).entries()) {
			checkOperationName(name, [...path, direction, 'remove', index], collector);
		}
	};

	check(headers?.request, 'request');
	check(headers?.response, 'response');
}

function isAuthority(name: string): boolean {
	return name.toLowerCase() === ':authority' || name.toLowerCase() === 'host';
}

/** validation.go ValidateHTTPHeaderOperationName. */
function checkOperationName(name: string, path: FieldPath, collector: FindingCollector): void {
	if (name === '') {
		collector.error('webhook', path, 'header name cannot be empty');
	} else if (name.toLowerCase() === 'host') {
		collector.error('webhook', path, `invalid header ${JSON.stringify(name)}: cannot set Host header`);
	} else if (name.startsWith(':')) {
		collector.error('webhook', path, `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`);
	}
}

/** validation.go validateHTTPFaultInjection. */
function checkFault(route: HttpRoute, path: FieldPath, collector: FindingCollector): void {
	const fault = route.fault as (HttpRoute['fault'] & { readonly abort?: { readonly http2Error?: string }; readonly delay?: { readonly exponentialDelay?: string } }) | undefined;
	if (!fault) {
		return;
	}

	const faultPath = [...path, 'fault'];
	if (!fault.abort && !fault.delay) {
		collector.error('webhook', faultPath, 'HTTP fault injection must have an abort and/or a delay');
	}

	for (const part of ['abort', 'delay'] as const) {
		const value = fault[part]?.percentage?.value;
		if (value !== undefined && (value < 0 || value > 100 || (value > 0 && value < 0.0001))) {
			collector.error('webhook', [...faultPath, part, 'percentage', 'value'], `percentage ${value} is neither 0.0, nor in range [0.0001, 100.0]`);
		}
	}

	const abort = fault.abort;
	if (abort) {
		if (abort.http2Error !== undefined) {
			collector.error('webhook', [...faultPath, 'abort', 'http2Error'], 'HTTP/2 abort fault injection not supported yet');
		} else if (abort.grpcStatus !== undefined) {
			if (!grpcStatuses.includes(abort.grpcStatus)) {
				collector.error('webhook', [...faultPath, 'abort', 'grpcStatus'], `gRPC status ${JSON.stringify(abort.grpcStatus)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`);
			}
		} else if (abort.httpStatus !== undefined) {
			if (abort.httpStatus < 200 || abort.httpStatus > 600) {
				collector.error('webhook', [...faultPath, 'abort', 'httpStatus'], `HTTP status ${abort.httpStatus} is not in range 200-599`);
			}
		} else {
			collector.warning('webhook', [...faultPath, 'abort'], 'abort configured, but error type not set');
		}
	}

	if (fault.delay?.exponentialDelay !== undefined) {
		collector.error('webhook', [...faultPath, 'delay', 'exponentialDelay'], 'exponentialDelay not supported yet');
	}

	checkDurationPrecision(fault.delay?.fixedDelay, [...faultPath, 'delay', 'fixedDelay'], collector);
}

/** pilot/pkg/networking/grpc SupportedGRPCStatus (the gRPC code names). */
export const grpcStatuses = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
	'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/** validation.go validateDestination. */
function checkDestination(target: { readonly host: string; readonly subset?: string; readonly port?: { readonly number?: number } }, path: FieldPath, collector: FindingCollector): void {
	if (target.host === '*') {
		collector.error('webhook', [...path, 'host'], `invalid destination host ${target.host}`);
	} else {
		const error = wildcardDomainError(target.host);
		if (error) {
			collector.error('webhook', [...path, 'host'], error);
		}
	}

	if (target.subset !== undefined && target.subset !== '') {
		if (!isDns1123Label(target.subset)) {
			collector.error('webhook', [...path, 'subset'], `subset name is invalid: ${target.subset}`);
		}
	}

	if (target.port) {
		const error = portError(target.port.number ?? 0);
		if (error) {
			collector.error('webhook', [...path, 'port', 'number'], error);
		}
	}
}

/** validation.go validateHTTPRedirect. */
function checkRedirect(route: HttpRoute, path: FieldPath, collector: FindingCollector): void {
	const redirect = route.redirect as (HttpRoute['redirect'] & { readonly prefixRewrite?: string }) | undefined;
	if (!redirect) {
		return;
	}

	const redirectPath = [...path, 'redirect'];
	const fail = (message: string, field?: string): void => collector.error('webhook', field ? [...redirectPath, field] : redirectPath, message);
	if (redirect.uri && redirect.prefixRewrite) {
		return fail('redirect may only specify one of uri or prefix_rewrite');
	}

	if (redirect.prefixRewrite && (route.match ?? []).some(match => match.uri !== undefined && match.uri.prefix === undefined)) {
		return fail('redirect prefix_rewrite requires all URI matches to use prefix match type');
	}

	if (!redirect.uri && !redirect.prefixRewrite && !redirect.authority && redirect.port === undefined && redirect.derivePort === undefined && !redirect.scheme) {
		return fail('redirect must specify URI, authority, scheme, or port');
	}

	if (redirect.redirectCode !== undefined && redirect.redirectCode !== 0 && (redirect.redirectCode < 300 || redirect.redirectCode > 399)) {
		return fail(`${redirect.redirectCode} is not a valid redirect code, must be 3xx`, 'redirectCode');
	}

	if (redirect.scheme && redirect.scheme !== 'http' && redirect.scheme !== 'https') {
		return fail('invalid redirect scheme, must be "http" or "https"', 'scheme');
	}

	if (redirect.port !== undefined && redirect.port > 0 && portError(redirect.port)) {
		fail(portError(redirect.port)!, 'port');
	}
}

/** agent.ValidateHTTPRetry. */
function checkRetries(route: HttpRoute, path: FieldPath, collector: FindingCollector): void {
	const retries = route.retries as (HttpRoute['retries'] & { readonly backoff?: string }) | undefined;
	if (!retries) {
		return;
	}

	const retryPath = [...path, 'retries'];
	const attempts = retries.attempts ?? 0;
	if (attempts < 0) {
		collector.error('webhook', [...retryPath, 'attempts'], 'attempts cannot be negative');
	}

	if (attempts === 0 && (retries.perTryTimeout !== undefined || (retries.retryOn ?? '') !== '' || retries.retryRemoteLocalities !== undefined)) {
		collector.error('webhook', retryPath, 'http retry policy configured when attempts are set to 0 (disabled)', 'set `attempts` (how many retries), or remove the retry settings');
	}

	checkDurationPrecision(retries.perTryTimeout, [...retryPath, 'perTryTimeout'], collector);
	for (const policy of (retries.retryOn ?? '').split(',').filter(part => part !== '')) {
		if (!(httpStatusCodes.has(Number(policy)) && /^\d+$/.test(policy)) && !retryOnPolicies.includes(policy)) {
			collector.error('webhook', [...retryPath, 'retryOn'], `${JSON.stringify(policy)} is not a valid retryOn policy`,
				`Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on values: ${retryOnPolicies.join(', ')}, or an HTTP status code`);
		}
	}
}

/** agent/validation.go supportedRetryOnPolicies. */
const retryOnPolicies = ['5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes',
	'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'];

/** Go's net/http StatusText knows these codes (status.go). */
const httpStatusCodes = new Set([100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403,
	404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506,
	507, 508, 510, 511]);

/** validation.go validateHTTPRewrite and validateAuthorityRewrite. */
function checkRewrite(route: HttpRoute, path: FieldPath, collector: FindingCollector): void {
	const rewrite = route.rewrite;
	if (rewrite) {
		const rewritePath = [...path, 'rewrite'];
		if (rewrite.uri && rewrite.uriRegexRewrite) {
			collector.error('webhook', rewritePath, 'rewrite may only contain one of URI or UriRegexRewrite');
		} else if (!rewrite.uri && !rewrite.uriRegexRewrite && !rewrite.authority) {
			collector.error('webhook', rewritePath, 'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified');
		} else if (rewrite.uriRegexRewrite) {
			const { match, rewrite: substitution } = rewrite.uriRegexRewrite;
			if (!match || !substitution) {
				collector.error('webhook', [...rewritePath, 'uriRegexRewrite'], 'UriRegexRewrite has errors\nUriRegexRewrite requires both Rewrite and Match fields to be specified');
			} else {
				checkRegex(match, [...rewritePath, 'uriRegexRewrite', 'match'], 'HTTPRewrite.UriRegexRewrite.Match', collector);
			}
		}
	}

	let current = rewrite?.authority ?? '';
	for (const operation of ['set', 'add'] as const) {
		for (const [name, value] of Object.entries(route.headers?.request?.[operation] ?? {})) {
			if (isAuthority(name)) {
				if (current) {
					collector.error('webhook', [...path, 'headers', 'request', operation, name], `authority header cannot be set multiple times: have ${JSON.stringify(current)}, attempting to set ${JSON.stringify(value)}`);
					return;
				}

				current = value;
			}
		}
	}
}

/** analyzeUnreachableHTTPRules: the webhook's warnings for rules that can never match. */
function unreachableRules(routes: readonly HttpRoute[], collector: FindingCollector): void {
	const seen = new Map<string, number>();
	let catchAll = -1;
	for (const [index, route] of routes.entries()) {
		const name = route.name ? JSON.stringify(route.name) : `#${index}`;
		const matches = route.match ?? [];
		if (matches.length === 0) {
			if (catchAll >= 0) {
				collector.warning('webhook', ['spec', 'http', index], `virtualService rule ${name} not used (only the last rule can have no matches)`);
			}

			catchAll = index;
			continue;
		}

		let duplicates = 0;
		for (const [matchIndex, match] of matches.entries()) {
			if (catchAll >= 0) {
				collector.warning('webhook', ['spec', 'http', index], `virtualService rule ${name} not used (route without matches defined before)`);
				continue;
			}

			const key = JSON.stringify({ ...match, name: undefined });
			const earlier = seen.get(key);
			if (earlier !== undefined) {
				const earlierRoute = routes[earlier]!;
				collector.warning('webhook', ['spec', 'http', index, 'match', matchIndex],
					`virtualService rule ${name} match ${match.name ? JSON.stringify(match.name) : `#${matchIndex}`} is not used (duplicate/overlapping match in rule ${earlierRoute.name ? JSON.stringify(earlierRoute.name) : `#${earlier}`})`);
				duplicates++;
				continue;
			}

			seen.set(key, index);
		}

		if (duplicates === matches.length) {
			collector.warning('webhook', ['spec', 'http', index], `virtualService rule ${name} not used (all matches used by prior rules)`);
		}
	}
}

// --- DestinationRule ---------------------------------------------------------------------------------------

/** validation.go ValidateDestinationRule. */
function checkDestinationRule(spec: DestinationRuleSpec, namespace: string, collector: FindingCollector): void {
	const error = wildcardDomainError(spec.host);
	if (error) {
		collector.error('webhook', ['spec', 'host'], error);
	}

	checkTrafficPolicy(spec.trafficPolicy, ['spec', 'trafficPolicy'], collector);
	const names = new Set<string>();
	for (const [index, subset] of (spec.subsets ?? []).entries()) {
		const path = ['spec', 'subsets', index];
		if (names.has(subset.name)) {
			collector.error('webhook', [...path, 'name'], `duplicate subset names: ${subset.name}`);
		}

		names.add(subset.name);
		if (subset.name === '') {
			collector.error('webhook', [...path, 'name'], 'subset name cannot be empty');
		} else if (!isDns1123Label(subset.name)) {
			collector.error('webhook', [...path, 'name'], `subset name is invalid: ${subset.name}`);
		}

		checkLabels(subset.labels, [...path, 'labels'], collector);
		checkTrafficPolicy(subset.trafficPolicy, [...path, 'trafficPolicy'], collector);
	}

	checkExportTo(namespace, spec.exportTo, ['spec', 'exportTo'], collector);
	for (const [key, value] of Object.entries(spec.workloadSelector?.matchLabels ?? {})) {
		if (key === '' || key.includes('*') || value.includes('*')) {
			collector.error('webhook', ['spec', 'workloadSelector', 'matchLabels', key], key === '' ? `empty key is not supported in selector: ${JSON.stringify(`${key}=${value}`)}` : `wildcard is not supported in selector: ${JSON.stringify(`${key}=${value}`)}`);
		}
	}
}

/** validation.go validateTrafficPolicy (and validatePortTrafficPolicies). */
function checkTrafficPolicy(policy: TrafficPolicy | undefined, path: FieldPath, collector: FindingCollector): void {
	if (!policy) {
		return;
	}

	const record = policy as Readonly<Record<string, unknown>>;
	if (Object.keys(record).length === 0) {
		collector.error('webhook', path, 'traffic policy must have at least one field');
		return;
	}

	if (record.tunnel !== undefined && record.proxyProtocol !== undefined) {
		collector.error('webhook', path, 'tunnel and proxyProtocol must not be set together');
		return;
	}

	checkPolicyParts(record, path, collector);
	for (const [index, portPolicy] of (policy.portLevelSettings ?? []).entries()) {
		const portPath = [...path, 'portLevelSettings', index];
		if (!portPolicy.port) {
			collector.error('webhook', portPath, 'portTrafficPolicy must have valid port');
		}

		const fields = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls'];
		if (!fields.some(field => (portPolicy as Readonly<Record<string, unknown>>)[field] !== undefined)) {
			collector.error('webhook', portPath, 'port traffic policy must have at least one field');
		} else {
			checkPolicyParts(portPolicy as Readonly<Record<string, unknown>>, portPath, collector);
		}
	}
}

function checkPolicyParts(policy: Readonly<Record<string, unknown>>, path: FieldPath, collector: FindingCollector): void {
	const pool = policy.connectionPool;
	if (isRecord(pool)) {
		if (pool.http === undefined && pool.tcp === undefined) {
			collector.error('webhook', [...path, 'connectionPool'], 'connection pool must have at least one field');
		}

		const http = isRecord(pool.http) ? pool.http : {};
		const negatives: Array<[string, string]> = [['http1MaxPendingRequests', 'http1 max pending requests must be non-negative'], ['http2MaxRequests', 'http2 max requests must be non-negative'],
			['maxRequestsPerConnection', 'max requests per connection must be non-negative'], ['maxRetries', 'max retries must be non-negative'], ['maxConcurrentStreams', 'max concurrent streams must be non-negative']];
		for (const [field, message] of negatives) {
			if (typeof http[field] === 'number' && http[field] < 0) {
				collector.error('webhook', [...path, 'connectionPool', 'http', field], message);
			}
		}

		if (http.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol === true) {
			collector.error('webhook', [...path, 'connectionPool', 'http'], 'use client protocol must not be true when H2UpgradePolicy is UPGRADE');
		}

		const tcp = isRecord(pool.tcp) ? pool.tcp : {};
		if (typeof tcp.maxConnections === 'number' && tcp.maxConnections < 0) {
			collector.error('webhook', [...path, 'connectionPool', 'tcp', 'maxConnections'], 'max connections must be non-negative');
		}
	}

	const outlier = policy.outlierDetection;
	if (isRecord(outlier)) {
		if (outlier.consecutiveErrors !== undefined && outlier.consecutiveErrors !== 0) {
			collector.warning('webhook', [...path, 'outlierDetection', 'consecutiveErrors'], 'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead');
		}

		if (outlier.splitExternalLocalOriginErrors !== true && typeof outlier.consecutiveLocalOriginFailures === 'number' && outlier.consecutiveLocalOriginFailures > 0) {
			collector.error('webhook', [...path, 'outlierDetection'], 'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false');
		}

		for (const field of ['maxEjectionPercent', 'minHealthPercent']) {
			const value = outlier[field];
			if (typeof value === 'number' && (value < 0 || value > 100)) {
				collector.error('webhook', [...path, 'outlierDetection', field], `percentage ${value} is not in range 0..100`);
			}
		}
	}

	const tls = policy.tls as ClientTls & { readonly clientCertificate?: string; readonly privateKey?: string; readonly caCertificates?: string; readonly caCrl?: string } | undefined;
	if (tls) {
		checkClientTls(tls, [...path, 'tls'], collector);
	}
}

/** agent.ValidateTLS. */
function checkClientTls(tls: ClientTls & { readonly clientCertificate?: string; readonly privateKey?: string; readonly caCertificates?: string; readonly caCrl?: string }, path: FieldPath, collector: FindingCollector): void {
	if (tls.insecureSkipVerify === true) {
		if (tls.mode === 'SIMPLE' && (tls.caCertificates || tls.credentialName || tls.subjectAltNames)) {
			collector.error('webhook', path, 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true');
		}

		if (tls.mode === 'MUTUAL' && (tls.caCertificates || tls.subjectAltNames)) {
			collector.error('webhook', path, 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true');
		}
	}

	if ((tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL') && tls.credentialName) {
		if (tls.clientCertificate || tls.caCertificates || tls.privateKey || tls.caCrl) {
			collector.error('webhook', path, 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set');
		}

		return;
	}

	if (tls.mode === 'MUTUAL') {
		if (!tls.clientCertificate) {
			collector.error('webhook', path, 'client certificate required for mutual tls');
		}

		if (!tls.privateKey) {
			collector.error('webhook', path, 'private key required for mutual tls');
		}
	}
}

// --- ServiceEntry ------------------------------------------------------------------------------------------

/** validation.go ValidateServiceEntry (and the CRD's CEL rules on spec). */
function checkServiceEntry(spec: ServiceEntrySpec & { readonly workloadSelector?: { readonly labels?: Readonly<Record<string, string>> } }, collector: FindingCollector): void {
	const resolution = spec.resolution ?? 'NONE';
	const endpoints = spec.endpoints ?? [];
	if (spec.workloadSelector && spec.endpoints) {
		collector.error('schema', ['spec'], 'only one of WorkloadSelector or Endpoints can be set');
	}

	if (spec.hosts.length === 0) {
		collector.error('webhook', ['spec', 'hosts'], 'service entry must have at least one host');
	}

	for (const [index, hostname] of spec.hosts.entries()) {
		if (hostname === '*') {
			collector.error('schema', ['spec', 'hosts', index], 'hostname cannot be wildcard');
			continue;
		}

		const error = wildcardDomainError(hostname);
		if (error) {
			collector.error('webhook', ['spec', 'hosts', index], error);
		} else if (resolution !== 'DYNAMIC_DNS' && hostname.includes('*') && hostname.length !== 1 && !hostname.startsWith('*.')) {
			collector.warning('webhook', ['spec', 'hosts', index], `partial wildcard ${JSON.stringify(hostname)} not allowed`);
		}
	}

	const cidr = (spec.addresses ?? []).some(address => address.includes('/'));
	if (cidr && resolution !== 'NONE' && resolution !== 'STATIC') {
		collector.error('schema', ['spec', 'addresses'], 'CIDR addresses are allowed only for NONE/STATIC resolution types');
	}

	const portNames = new Set<string>();
	const portNumbers = new Set<number>();
	for (const [index, port] of (spec.ports ?? []).entries()) {
		const path = ['spec', 'ports', index];
		if (portNames.has(port.name)) {
			collector.error('webhook', [...path, 'name'], `service entry port name ${JSON.stringify(port.name)} already defined`);
		}

		if (portNumbers.has(port.number)) {
			collector.error('webhook', [...path, 'number'], `service entry port ${port.number} already defined`);
		}

		portNames.add(port.name);
		portNumbers.add(port.number);
		if (!isDns1123Label(port.name)) {
			collector.error('webhook', [...path, 'name'], `invalid port name: ${port.name}`);
		}

		if (port.protocol && protocolOf(port.protocol) === undefined) {
			collector.error('webhook', [...path, 'protocol'], `unsupported protocol: ${port.protocol}`, `one of ${protocols.join(', ')}`);
		}

		for (const field of ['number', 'targetPort'] as const) {
			const value = port[field];
			if (value !== undefined && (value === 0 ? field === 'number' : true) && portError(value)) {
				collector.error('schema', [...path, field], 'port must be between 1-65535');
			}
		}
	}

	if (resolution === 'NONE' && endpoints.length > 0) {
		collector.error('schema', ['spec', 'endpoints'], 'NONE mode cannot set endpoints');
	}

	if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
		collector.error('schema', ['spec', 'endpoints'], 'DNS_ROUND_ROBIN mode cannot have multiple endpoints');
	}

	if ((resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && endpoints.length === 0) {
		for (const [index, hostname] of spec.hosts.entries()) {
			const error = fqdnError(hostname);
			if (error) {
				collector.error('webhook', ['spec', 'hosts', index], `hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode ${resolution}, ${error}`);
				break;
			}
		}
	}

	for (const [index, endpoint] of endpoints.entries()) {
		const path = ['spec', 'endpoints', index];
		const address = endpoint.address ?? '';
		if (!address) {
			collector.error('schema', path, 'Address is required');
		} else if (resolution === 'STATIC' && !address.startsWith('unix://') && !isIpAddress(address)) {
			collector.error('webhook', [...path, 'address'], `endpoint address ${JSON.stringify(address)} is not a valid IP address`);
		} else if (resolution !== 'STATIC' && !isIpAddress(address) && fqdnError(address)) {
			collector.error('webhook', [...path, 'address'], `endpoint address ${JSON.stringify(address)} is not a valid FQDN or an IP address`);
		}

		for (const [name, port] of Object.entries(endpoint.ports ?? {})) {
			if (!portNames.has(name)) {
				collector.error('webhook', [...path, 'ports', name], `endpoint port ${port} is not defined by the service entry`);
			}
		}

		checkLabels(endpoint.labels, [...path, 'labels'], collector);
	}

	checkExportTo('', spec.exportTo, ['spec', 'exportTo'], collector, true);
}

/** pkg/config/protocol Parse: the protocol names Istio knows (case-insensitive). */
const protocols = ['GRPC', 'GRPC-Web', 'HTTP', 'HTTP_PROXY', 'HTTP2', 'HTTPS', 'TCP', 'TLS', 'UDP', 'Mongo', 'Redis', 'MySQL'];

export function protocolOf(name: string): string | undefined {
	return protocols.find(protocol => protocol.toLowerCase() === name.toLowerCase());
}

// --- Gateway -----------------------------------------------------------------------------------------------

/** validation.go ValidateGateway and validateServer. */
function checkGateway(name: string, spec: GatewaySpec, collector: FindingCollector): void {
	if (name && !isDns1123Label(name)) {
		collector.error('webhook', ['metadata', 'name'], `invalid gateway name: ${JSON.stringify(name)}`, 'a Gateway name is a DNS label: no dots');
	}

	if (spec.servers.length === 0) {
		collector.error('webhook', ['spec', 'servers'], 'gateway must have at least one server');
	}

	const portNames = new Set<string>();
	for (const [index, server] of spec.servers.entries()) {
		const path = ['spec', 'servers', index];
		if (server.hosts.length === 0) {
			collector.error('webhook', [...path, 'hosts'], 'server config must contain at least one host');
		}

		for (const [hostIndex, hostname] of server.hosts.entries()) {
			for (const error of gatewayHostErrors(hostname)) {
				collector.error('webhook', [...path, 'hosts', hostIndex], error);
			}
		}

		const port = server.port;
		const protocol = protocolOf(port.protocol);
		if (protocol === undefined || protocol === 'UDP' || protocol === 'HTTP_PROXY') {
			collector.error('webhook', [...path, 'port', 'protocol'], `invalid protocol ${JSON.stringify(port.protocol)}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`);
		}

		const numberError = portError(port.number);
		if (numberError && !(server.bind ?? '').startsWith('unix://')) {
			collector.error('webhook', [...path, 'port', 'number'], numberError);
		}

		if ((port.targetPort ?? 0) > 0) {
			collector.error('webhook', [...path, 'port', 'targetPort'], 'targetPort has no impact on Gateways', 'the gateway listens on the Service\'s targetPort for `number` (istio-ingressgateway: 80 → 8080); remove targetPort');
		}

		if (!port.name) {
			collector.error('webhook', [...path, 'port', 'name'], `port name must be set: number:${port.number} protocol:${JSON.stringify(port.protocol)}`);
		} else if (portNames.has(port.name)) {
			collector.error('webhook', [...path, 'port', 'name'], `port names in servers must be unique: duplicate name ${port.name}`);
		}

		portNames.add(port.name);
		checkServerTls(server, path, protocol, collector);
	}
}

/** agent.ValidateNamespaceSlashWildcardHostname for a gateway (isGateway true). */
function gatewayHostErrors(hostname: string): string[] {
	const errors: string[] = [];
	const slash = hostname.indexOf('/');
	let dnsName = hostname;
	if (slash >= 0) {
		const namespace = hostname.slice(0, slash);
		dnsName = hostname.slice(slash + 1);
		if (!namespace || !dnsName) {
			errors.push('config namespace and dnsName in host entry cannot be empty');
		}

		if (namespace !== '*' && namespace !== '.' && !isDns1123Label(namespace)) {
			errors.push(`invalid namespace value ${JSON.stringify(namespace)} in gateway`);
		}
	}

	if (dnsName !== '*' && !dnsName.includes('.')) {
		errors.push('short names (non FQDN) are not allowed');
	}

	const error = wildcardDomainError(dnsName);
	if (error && !isIpAddress(dnsName)) {
		errors.push(error);
	}

	if (dnsName.includes('*') && dnsName.length !== 1 && !dnsName.startsWith('*.')) {
		errors.push(`partial wildcard ${JSON.stringify(dnsName)} not allowed`);
	}

	return errors;
}

function checkServerTls(server: GatewaySpec['servers'][number], path: FieldPath, protocol: string | undefined, collector: FindingCollector): void {
	const tls = server.tls as (GatewaySpec['servers'][number]['tls'] & { readonly credentialNames?: readonly string[]; readonly tlsCertificates?: readonly unknown[] }) | undefined;
	const isTls = protocol === 'HTTPS' || protocol === 'TLS';
	const isHttp = protocol === 'HTTP' || protocol === 'HTTP2' || protocol === 'GRPC' || protocol === 'GRPC-Web';
	if (protocol !== undefined) {
		if (isTls && !tls) {
			collector.error('webhook', [...path, 'tls'], 'server must have TLS settings for HTTPS/TLS protocols', 'add e.g. `tls: {mode: SIMPLE, credentialName: my-cert}`');
		} else if (!isTls && tls) {
			const redirectOnly = tls.httpsRedirect === true && !tls.caCertificates && !tls.privateKey && !tls.serverCertificate && (tls.mode === undefined || tls.mode === 'PASSTHROUGH');
			if (isHttp && !redirectOnly) {
				collector.error('webhook', [...path, 'tls'], 'server cannot have TLS settings for plain text HTTP ports');
			} else if (!isHttp) {
				collector.error('webhook', [...path, 'tls'], 'server cannot have TLS settings for non HTTPS/TLS ports');
			}
		}

		if (!isHttp && tls?.httpsRedirect) {
			collector.warning('webhook', [...path, 'tls', 'httpsRedirect'], 'tls.httpsRedirect should only be used with http servers');
		}
	}

	if (!tls) {
		return;
	}

	const tlsPath = [...path, 'tls'];
	if (tls.mode === 'ISTIO_MUTUAL') {
		const fields: Array<[unknown, string]> = [[tls.serverCertificate, 'server certificate'], [tls.privateKey, 'private key'], [tls.caCertificates, 'CA bundle'],
			[tls.tlsCertificates?.length, 'tlsCertificates'], [tls.credentialName, 'credentialName'], [tls.credentialNames?.length, 'credentialNames']];
		for (const [value, what] of fields) {
			if (value) {
				collector.error('webhook', tlsPath, `ISTIO_MUTUAL TLS cannot have associated ${what}`);
			}
		}

		return;
	}

	if ((tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL' || tls.mode === 'OPTIONAL_MUTUAL') && (tls.credentialName || (tls.credentialNames ?? []).length > 0)) {
		return;
	}

	if (tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL' || tls.mode === 'OPTIONAL_MUTUAL') {
		const prefix = tls.mode === 'SIMPLE' ? 'SIMPLE TLS' : 'MUTUAL TLS';
		if (prefix === 'MUTUAL TLS' && !tls.caCertificates) {
			collector.error('webhook', tlsPath, `${prefix} requires a client CA bundle`);
		}

		if ((tls.tlsCertificates ?? []).length === 0) {
			if (!tls.serverCertificate) {
				collector.error('webhook', tlsPath, `${prefix} requires a server certificate`, 'name the Kubernetes Secret with `credentialName` (meshbox serves it over SDS as kubernetes://<credentialName>)');
			}

			if (!tls.privateKey) {
				collector.error('webhook', tlsPath, `${prefix} requires a private key`);
			}
		}
	}
}

// --- Host matching (pkg/config/host/name.go) ---------------------------------------------------------------

/** host.Name.Matches: equal, or one wildcard covers the other. */
export function hostMatches(a: string, b: string): boolean {
	if (a.startsWith('*')) {
		if (b.startsWith('*')) {
			return a.length < b.length ? b.endsWith(a.slice(1)) : a.endsWith(b.slice(1));
		}

		return b.endsWith(a.slice(1));
	}

	if (b.startsWith('*')) {
		return a.endsWith(b.slice(1));
	}

	return a === b;
}
