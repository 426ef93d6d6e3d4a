/**
 * gateway.networking.k8s.io/v1 Gateway and HTTPRoute, as a cluster with Istio applies them.
 *
 * Validation is the API server's: the structural schema of the standard-channel CRDs of the gateway-api release
 * the emulated Istio release vendors (`gatewayApiRelease`; ./gateway-api-schema.generated.ts) with its defaults,
 * and each CEL rule of those CRDs written out below with its message. Istio's webhook does not validate Gateway API
 * resources; what istiod refuses or ignores when it translates them is a note (checker `istiod`).
 *
 * Conversion is istiod's (pilot/pkg/config/kube/gateway: gateway_collection.go GatewayCollection, conversion.go
 * buildListener / convertHTTPRoute / referenceAllowed, route_collections.go HTTPRouteCollection + mergeHTTPRoutes,
 * deploymentcontroller.go + manifests/charts/istio-control/istio-discovery/files/kube-gateway.yaml for the
 * automated deployment), read at the tags 1.25.5, 1.27.9 and 1.29.6; names differ by release (see `names`).
 * Status conditions are not modelled: what would set a condition to False is a note.
 */
import { isIP } from 'node:net';
import { isRecord, type FieldPath } from '../../config/fields.ts';
import type { ConfigValidationContext, GatewayResource, HttpRouteResource, KubeGatewayResource, VirtualServiceResource } from '../config-resources.ts';
import { configResource, readEnvelope } from '../config-envelope.ts';
import type { FindingCollector } from '../findings.ts';
import type { MeshService } from '../mesh/model.ts';
import type { VersionTraits } from '../version.ts';
import { checkSchema } from './gateway-api-schema.ts';
import { gatewayApiSchemas, type GatewayApiRelease } from './gateway-api-schema.generated.ts';
// istiod orders configuration by creation time (model.sortConfigByCreationTime); without one, file order stands in.
import { byCreation, hostMatches, hostSubsetOf } from './gateway-servers.ts';
import type {
	GatewayServer, Headers, HeaderOperations, HttpBackendRef, HttpMatchRequest, HttpRedirect, HttpRewrite, HttpRoute, HttpRouteDestination,
	HttpRouteFilter, HttpRouteMatch, HttpRouteRule, HttpRouteSpec, KubeGatewayListener, KubeGatewaySpec, ServerTls, StringMatch,
} from './types.ts';

const group = 'gateway.networking.k8s.io';

/**
 * The sigs.k8s.io/gateway-api release each Istio release vendors (its go.mod): the CRDs its docs install. 1.28
 * vendors v1.4.0, whose standard CRD schemas and rules equal v1.4.1's.
 */
export function gatewayApiRelease(traits: VersionTraits): GatewayApiRelease {
	const minor = Number(traits.version.split('.')[1]);
	return minor <= 25 ? 'v1.2.1' : (minor <= 27 ? 'v1.3.0' : (minor <= 29 ? 'v1.4.1' : 'v1.5.1'));
}

function schemas(traits: VersionTraits): (typeof gatewayApiSchemas)[GatewayApiRelease] {
	return gatewayApiSchemas[gatewayApiRelease(traits)];
}

/** The CEL rules that differ between the releases (gateway-api's CRDs at each tag). */
type Rules = { readonly release: GatewayApiRelease };

function atLeast(rules: Rules, release: GatewayApiRelease): boolean {
	const order: readonly GatewayApiRelease[] = ['v1.2.1', 'v1.3.0', 'v1.4.1', 'v1.5.1'];
	return order.indexOf(rules.release) >= order.indexOf(release);
}

// --- validation -------------------------------------------------------------------------------------------

export function validateKubeGateway(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): KubeGatewayResource | undefined {
	const envelope = readEnvelope(document, 'Gateway', context);
	const { collector } = context;
	if (document.spec === undefined) {
		collector.error('schema', [], 'spec: Required value');
	}

	// readEnvelope reported a spec that is not an object; its fields are not checked then.
	const spec = isRecord(document.spec) ? checkSchema(envelope.spec, schemas(context.traits).kubeGateway, ['spec'], collector) : undefined;
	if (isRecord(spec)) {
		checkGatewayRules(spec, { release: gatewayApiRelease(context.traits) }, collector);
		checkFrontendTls(spec, collector);
		noteGatewayForIstiod(spec, collector);
	}

	return collector.hasErrors ? undefined : configResource('KubeGateway', group, envelope, spec as KubeGatewaySpec, context);
}

export function validateHttpRoute(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): HttpRouteResource | undefined {
	const envelope = readEnvelope(document, 'HTTPRoute', context);
	const { collector } = context;
	if (document.spec === undefined) {
		collector.error('schema', [], 'spec: Required value');
	}

	const spec = isRecord(document.spec) ? checkSchema(envelope.spec, schemas(context.traits).httpRoute, ['spec'], collector) : undefined;
	if (isRecord(spec)) {
		checkHttpRouteRules(spec, { release: gatewayApiRelease(context.traits) }, collector);
	}

	return collector.hasErrors ? undefined : configResource('HTTPRoute', group, envelope, spec as HttpRouteSpec, context);
}

type Loose = Readonly<Record<string, unknown>>;

function records(value: unknown): Loose[] {
	return Array.isArray(value) ? value.filter(isRecord) : [];
}

function has(value: Loose | undefined, key: string): boolean {
	return value !== undefined && value[key] !== undefined && value[key] !== null;
}

/** `(!has(x.f) || x.f == '')`: CEL's test for an unset optional string. */
function unset(value: Loose, key: string): boolean {
	return !has(value, key) || value[key] === '';
}

/** The CEL rules (`x-kubernetes-validations`) of gateway.networking.k8s.io_gateways.yaml v1, in its order. */
function checkGatewayRules(spec: Loose, rules: Rules, collector: FindingCollector): void {
	const addresses = records(spec.addresses);
	for (const [index, address] of addresses.entries()) {
		const path: FieldPath = ['spec', 'addresses', index];
		const type = address.type;
		const value = typeof address.value === 'string' ? address.value : undefined;
		// The schema's oneOf: an IPAddress address has an IPv4 or IPv6 value.
		if (type === 'IPAddress' && value !== undefined && isIP(value) === 0) {
			collector.error('schema', [...path, 'value'], `Invalid value: ${JSON.stringify(value)}: spec.addresses[${index}].value in body must be of type ipv4 or ipv6`,
				'an address of type Hostname names the Service of a gateway you deploy yourself: `type: Hostname`');
		}

		if (type === 'Hostname' && value !== undefined && !(value === '' && atLeast(rules, 'v1.4.1')) && !/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)) {
			// v1.4 allowed an empty value (and said so).
			const pattern = '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
			collector.error('schema', [...path, 'value'], atLeast(rules, 'v1.4.1')
				? `Hostname value must be empty or contain only valid characters (matching ${pattern})`
				: `Hostname value must only contain valid characters (matching ${pattern})`);
		}

		for (const kind of ['IPAddress', 'Hostname'] as const) {
			if (type === kind && value !== undefined && addresses.findIndex(other => other.type === kind && other.value === value) < index) {
				collector.error('schema', path, `${kind} values must be unique`);
			}
		}
	}

	const infrastructure = isRecord(spec.infrastructure) ? spec.infrastructure : undefined;
	for (const [field, noun] of [['labels', 'label'], ['annotations', 'annotation']] as const) {
		const map = infrastructure && isRecord(infrastructure[field]) ? infrastructure[field] as Loose : {};
		for (const key of Object.keys(map)) {
			if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/.test(key)) {
				collector.error('schema', ['spec', 'infrastructure', field, key], `${noun === 'label' ? 'Label' : 'Annotation'} keys must be in the form of an optional DNS subdomain prefix followed by a required name segment of up to 63 characters.`);
			} else if ((key.split('/')[0] ?? '').length >= 253) {
				collector.error('schema', ['spec', 'infrastructure', field, key], `If specified, the ${noun} key's prefix must be a DNS subdomain not longer than 253 characters in total.`);
			}
		}
	}

	const listeners = records(spec.listeners);
	for (const [index, listener] of listeners.entries()) {
		const path: FieldPath = ['spec', 'listeners', index];
		const protocol = listener.protocol;
		const tls = isRecord(listener.tls) ? listener.tls : undefined;
		if ((protocol === 'HTTP' || protocol === 'TCP' || protocol === 'UDP') && tls) {
			collector.error('schema', [...path, 'tls'], "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']");
		}

		if (protocol === 'HTTPS' && tls && !(tls.mode === '' || tls.mode === 'Terminate')) {
			collector.error('schema', [...path, 'tls', 'mode'], 'tls mode must be Terminate for protocol HTTPS', 'TLS passthrough is a listener with protocol TLS');
		}

		if ((protocol === 'TCP' || protocol === 'UDP') && !unset(listener, 'hostname')) {
			collector.error('schema', [...path, 'hostname'], "hostname must not be specified for protocols ['TCP', 'UDP']");
		}

		if (listeners.findIndex(other => other.name === listener.name) !== index) {
			collector.error('schema', [...path, 'name'], 'Listener name must be unique within the Gateway');
		}

		const same = listeners.findIndex(other => other.port === listener.port && other.protocol === protocol
			&& (has(other, 'hostname') && has(listener, 'hostname') ? other.hostname === listener.hostname : !has(other, 'hostname') && !has(listener, 'hostname')));
		if (same !== index) {
			collector.error('schema', path, 'Combination of port, protocol and hostname must be unique for each listener', `listener ${same} has the same`);
		}

		if (atLeast(rules, 'v1.5.1') && protocol === 'TLS' && (!tls || unset(tls, 'mode'))) {
			collector.error('schema', path, 'tls mode must be set for protocol TLS');
		}

		if (tls && tls.mode === 'Terminate' && records(tls.certificateRefs).length === 0 && (!isRecord(tls.options) || Object.keys(tls.options).length === 0)) {
			collector.error('schema', [...path, 'tls'], 'certificateRefs or options must be specified when mode is Terminate',
				'name the Secret with the certificate: certificateRefs: [{name: my-cert}]');
		}
	}
}

/** v1.5: Gateway-level TLS (`spec.tls.frontend.perPort`). */
function checkFrontendTls(spec: Loose, collector: FindingCollector): void {
	const tls = isRecord(spec.tls) ? spec.tls : undefined;
	const frontend = tls && isRecord(tls.frontend) ? tls.frontend : undefined;
	const perPort = records(frontend?.perPort);
	for (const [index, entry] of perPort.entries()) {
		if (perPort.findIndex(other => other.port === entry.port) !== index) {
			collector.error('schema', ['spec', 'tls', 'frontend', 'perPort', index], 'Port for TLS configuration must be unique within the Gateway');
		}
	}
}

/** What istiod ignores or refuses in a Gateway that the API server accepted (notes: no status is modelled). */
function noteGatewayForIstiod(spec: Loose, collector: FindingCollector): void {
	if (spec.gatewayClassName !== 'istio') {
		collector.add('note', 'istiod', ['spec', 'gatewayClassName'], `gatewayClassName ${JSON.stringify(spec.gatewayClassName)} is not Istio's: istiod (and meshbox) ignore this Gateway`,
			'Istio\'s class is `istio` (pilot/pkg/config/kube/gateway/deploymentcontroller.go getBuiltinClasses; `istio-waypoint` and `istio-remote` are not modelled)');
	}

	for (const [index, listener] of records(spec.listeners).entries()) {
		const reason = listenerProtocolProblem(String(listener.protocol));
		if (reason) {
			collector.add('note', 'istiod', ['spec', 'listeners', index, 'protocol'], `${reason}; istiod does not accept this listener (status Accepted=False, UnsupportedProtocol)`);
		}
	}
}

/** conversion.go listenerProtocolToIstio: undefined when istiod accepts the protocol (in its default settings). */
function listenerProtocolProblem(protocol: string): string | undefined {
	if (protocol === 'HTTP' || protocol === 'HTTPS') {
		return undefined;
	}

	if (protocol === 'TLS' || protocol === 'TCP') {
		// features.EnableAlphaGatewayAPI (PILOT_ENABLE_ALPHA_GATEWAY_API) is off by default; meshbox has no TCPRoute/TLSRoute.
		return `protocol "${protocol}" is supported, but only when PILOT_ENABLE_ALPHA_GATEWAY_API=true is configured (meshbox models HTTP and HTTPS listeners)`;
	}

	const upper = protocol.toUpperCase();
	return ['HTTP', 'HTTPS', 'TLS', 'TCP', 'HBONE'].includes(upper) && upper !== protocol
		? `protocol "${protocol}" is unsupported. hint: "${upper}" (uppercase) may be supported`
		: `protocol "${protocol}" is unsupported`;
}

/** The CEL rules of gateway.networking.k8s.io_httproutes.yaml v1. */
function checkHttpRouteRules(spec: Loose, rules: Rules, collector: FindingCollector): void {
	const parentRefs = records(spec.parentRefs);
	const sameParent = (p1: Loose, p2: Loose): boolean => p1.group === p2.group && p1.kind === p2.kind && p1.name === p2.name
		&& ((unset(p1, 'namespace') && unset(p2, 'namespace')) || (has(p1, 'namespace') && has(p2, 'namespace') && p1.namespace === p2.namespace));
	for (const [index, p1] of parentRefs.entries()) {
		const path: FieldPath = ['spec', 'parentRefs', index];
		if (parentRefs.some(p2 => sameParent(p1, p2) && unset(p1, 'sectionName') !== unset(p2, 'sectionName'))) {
			collector.error('schema', path, 'sectionName must be specified when parentRefs includes 2 or more references to the same parent');
		}

		const sameSection = parentRefs.filter(p2 => sameParent(p1, p2)
			&& ((unset(p1, 'sectionName') && unset(p2, 'sectionName')) || (has(p1, 'sectionName') && has(p2, 'sectionName') && p1.sectionName === p2.sectionName)));
		if (sameSection.length !== 1) {
			collector.error('schema', path, 'sectionName must be unique when parentRefs includes 2 or more references to the same parent');
		}
	}

	const routeRules = records(spec.rules);
	const totalMatches = routeRules.slice(0, 16).reduce((sum, rule) => sum + records(rule.matches).length, 0);
	if (totalMatches > 128) {
		collector.error('schema', ['spec', 'rules'], 'While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128');
	}

	for (const [index, rule] of routeRules.entries()) {
		checkRuleRules(rule, ['spec', 'rules', index], rules, collector);
	}
}

function checkRuleRules(rule: Loose, path: FieldPath, rules: Rules, collector: FindingCollector): void {
	const filters = records(rule.filters);
	const backendRefs = records(rule.backendRefs);
	const matches = records(rule.matches);
	if (backendRefs.length > 0 && filters.some(filter => has(filter, 'requestRedirect'))) {
		collector.error('schema', path, 'RequestRedirect filter must not be used together with backendRefs', 'a redirect answers the client itself: remove backendRefs from this rule');
	}

	const onePrefixMatch = matches.length === 1 && isRecord(matches[0]?.path) && matches[0].path.type === 'PathPrefix';
	const prefixReplace = (list: readonly Loose[], field: 'requestRedirect' | 'urlRewrite'): boolean => list.filter(filter => {
		const modifier = filter[field];
		return isRecord(modifier) && isRecord(modifier.path) && modifier.path.type === 'ReplacePrefixMatch' && has(modifier.path, 'replacePrefixMatch');
	}).length === 1;
	if (prefixReplace(filters, 'requestRedirect') && !onePrefixMatch) {
		collector.error('schema', path, 'When using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified');
	}

	if (prefixReplace(filters, 'urlRewrite') && !onePrefixMatch) {
		collector.error('schema', path, 'When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified');
	}

	if (backendRefs.filter(backend => prefixReplace(records(backend.filters), 'requestRedirect')).length === 1 && !onePrefixMatch) {
		collector.error('schema', path, 'Within backendRefs, when using RequestRedirect filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified');
	}

	if (backendRefs.filter(backend => prefixReplace(records(backend.filters), 'urlRewrite')).length === 1 && !onePrefixMatch) {
		collector.error('schema', path, 'Within backendRefs, When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified');
	}

	for (const [index, backend] of backendRefs.entries()) {
		checkBackendRef(backend, [...path, 'backendRefs', index], collector);
		checkFilters(records(backend.filters), [...path, 'backendRefs', index, 'filters'], rules, collector);
	}

	checkFilters(filters, [...path, 'filters'], rules, collector);
	for (const [index, match] of matches.entries()) {
		if (isRecord(match.path)) {
			checkPathMatch(match.path, [...path, 'matches', index, 'path'], collector);
		}
	}

	const timeouts = isRecord(rule.timeouts) ? rule.timeouts : undefined;
	if (timeouts && typeof timeouts.request === 'string' && typeof timeouts.backendRequest === 'string') {
		const request = parseGatewayDuration(timeouts.request);
		const backendRequest = parseGatewayDuration(timeouts.backendRequest);
		if (request !== undefined && backendRequest !== undefined && request !== 0 && backendRequest > request) {
			collector.error('schema', [...path, 'timeouts'], 'backendRequest timeout cannot be longer than request timeout');
		}
	}
}

function checkBackendRef(backend: Loose, path: FieldPath, collector: FindingCollector): void {
	if (backend.group === '' && backend.kind === 'Service' && !has(backend, 'port')) {
		collector.error('schema', path, 'Must have port for Service reference', 'name the Service port: port: 8080');
	}
}

const filterFields: ReadonlyArray<readonly [string, string]> = [
	['RequestHeaderModifier', 'requestHeaderModifier'],
	['ResponseHeaderModifier', 'responseHeaderModifier'],
	['RequestMirror', 'requestMirror'],
	['RequestRedirect', 'requestRedirect'],
	['URLRewrite', 'urlRewrite'],
	['ExtensionRef', 'extensionRef'],
];

function checkFilters(filters: readonly Loose[], path: FieldPath, rules: Rules, collector: FindingCollector): void {
	// v1.5 made the CORS filter standard, with its rules.
	const cors = atLeast(rules, 'v1.5.1');
	if (filters.some(filter => filter.type === 'RequestRedirect') && filters.some(filter => filter.type === 'URLRewrite')) {
		collector.error('schema', path, 'May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both');
	}

	for (const type of ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', ...(cors ? ['CORS'] : [])]) {
		if (filters.filter(filter => filter.type === type).length > 1) {
			collector.error('schema', path, `${type} filter cannot be repeated`);
		}
	}

	for (const [index, filter] of filters.entries()) {
		for (const [type, field] of cors ? [...filterFields, ['CORS', 'cors'] as const] : filterFields) {
			if (has(filter, field) && filter.type !== type) {
				collector.error('schema', [...path, index, field], `filter.${field} must be nil if the filter.type is not ${type}`);
			}

			if (!has(filter, field) && filter.type === type) {
				collector.error('schema', [...path, index], `filter.${field} must be specified for ${type} filter.type`);
			}
		}

		const corsFilter = cors && isRecord(filter.cors) ? filter.cors : undefined;
		for (const [field, noun, what] of [['allowOrigins', 'AllowOrigins', 'origins'], ['allowMethods', 'AllowMethods', 'methods'], ['allowHeaders', 'AllowHeaders', 'methods']] as const) {
			const list = corsFilter && Array.isArray(corsFilter[field]) ? corsFilter[field] as unknown[] : [];
			if (list.includes('*') && list.length > 1) {
				// The CRD says "methods" for allowHeaders too.
				collector.error('schema', [...path, index, 'cors', field], `${noun} cannot contain '*' alongside other ${what}`);
			}
		}

		const mirror = isRecord(filter.requestMirror) ? filter.requestMirror : undefined;
		if (mirror) {
			if (has(mirror, 'percent') && has(mirror, 'fraction')) {
				collector.error('schema', [...path, index, 'requestMirror'], 'Only one of percent or fraction may be specified in HTTPRequestMirrorFilter');
			}

			if (isRecord(mirror.backendRef)) {
				checkBackendRef(mirror.backendRef, [...path, index, 'requestMirror', 'backendRef'], collector);
			}

			const fraction = isRecord(mirror.fraction) ? mirror.fraction : undefined;
			if (fraction && typeof fraction.numerator === 'number' && typeof fraction.denominator === 'number' && fraction.numerator > fraction.denominator) {
				collector.error('schema', [...path, index, 'requestMirror', 'fraction'], 'numerator must be less than or equal to denominator');
			}
		}

		for (const field of ['requestRedirect', 'urlRewrite'] as const) {
			const modifier = isRecord(filter[field]) ? filter[field] as Loose : undefined;
			if (modifier && isRecord(modifier.path)) {
				checkPathModifier(modifier.path, [...path, index, field, 'path'], collector);
			}
		}
	}
}

function checkPathModifier(modifier: Loose, path: FieldPath, collector: FindingCollector): void {
	for (const [type, field] of [['ReplaceFullPath', 'replaceFullPath'], ['ReplacePrefixMatch', 'replacePrefixMatch']] as const) {
		if (modifier.type === type && !has(modifier, field)) {
			collector.error('schema', path, `${field} must be specified when type is set to '${type}'`);
		}

		if (has(modifier, field) && modifier.type !== type) {
			collector.error('schema', path, `type must be '${type}' when ${field} is set`);
		}
	}
}

function checkPathMatch(match: Loose, path: FieldPath, collector: FindingCollector): void {
	const type = match.type;
	const value = typeof match.value === 'string' ? match.value : '';
	if (type !== 'Exact' && type !== 'PathPrefix') {
		return;
	}

	const problems: Array<[boolean, string]> = [
		[!value.startsWith('/'), "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"],
		[value.includes('//'), "must not contain '//' when type one of ['Exact', 'PathPrefix']"],
		[value.includes('/./'), "must not contain '/./' when type one of ['Exact', 'PathPrefix']"],
		[value.includes('/../'), "must not contain '/../' when type one of ['Exact', 'PathPrefix']"],
		[value.includes('%2f'), "must not contain '%2f' when type one of ['Exact', 'PathPrefix']"],
		[value.includes('%2F'), "must not contain '%2F' when type one of ['Exact', 'PathPrefix']"],
		[value.includes('#'), "must not contain '#' when type one of ['Exact', 'PathPrefix']"],
		[value.endsWith('/..'), "must not end with '/..' when type one of ['Exact', 'PathPrefix']"],
		[value.endsWith('/.'), "must not end with '/.' when type one of ['Exact', 'PathPrefix']"],
		[!/^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/.test(value), "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']"],
	];
	for (const [failed, message] of problems) {
		if (failed) {
			collector.error('schema', [...path, 'value'], message);
		}
	}
}

/** A Gateway API Duration (`^([0-9]{1,5}(h|m|s|ms)){1,4}$`, GEP-2257) in milliseconds; undefined when not one. */
export function parseGatewayDuration(text: string): number | undefined {
	if (!/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(text)) {
		return undefined;
	}

	const unit: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
	let total = 0;
	for (const [, amount, suffix] of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) {
		total += Number(amount) * (unit[suffix!] ?? 0);
	}

	return total;
}

/** A duration as protobuf JSON writes google.protobuf.Duration (what the golden files show: `0.001s`, `2s`). */
function protoDuration(milliseconds: number): string {
	const seconds = Math.floor(milliseconds / 1000);
	const rest = milliseconds % 1000;
	return rest === 0 ? `${seconds}s` : `${seconds}.${String(rest).padStart(3, '0')}s`;
}

// --- conversion -------------------------------------------------------------------------------------------

/** The automated deployment istiod creates for a managed Gateway (deploymentcontroller.go, kube-gateway.yaml). */
export type GatewayDeployment = {
	/** `<gateway>-istio` (or the `gateway.istio.io/name-override` annotation): Deployment and Service name. */
	readonly name: string;
	readonly namespace: string;
	/** The pod's labels; the Service selects `gateway.networking.k8s.io/gateway-name: <gateway>`. */
	readonly labels: Readonly<Record<string, string>>;
	/**
	 * One per distinct listener port (extractServicePorts): the Service sets no targetPort, so the container
	 * listens on the listener port itself. The `status-port` 15021 is left out (meshbox has no istio-agent).
	 */
	readonly ports: ReadonlyArray<{ readonly port: number; readonly targetPort: number; readonly name: string; readonly appProtocol: string }>;
	readonly serviceAccount: string;
	/** The Gateway API Gateway it serves. */
	readonly gatewayName: string;
};

export type GatewayApiInput = {
	readonly kubeGateways: readonly KubeGatewayResource[];
	readonly httpRoutes: readonly HttpRouteResource[];
	/** The mesh's Services (backendRefs are checked against them, as istiod checks the Service exists). */
	readonly services: readonly MeshService[];
	readonly traits: VersionTraits;
	/** The cluster domain; default `cluster.local`. */
	readonly domainSuffix?: string;
};

export type GatewayApiConversion = {
	/** One Istio Gateway per listener, with one server each (selected through the gateway-service annotation). */
	readonly gateways: readonly GatewayResource[];
	readonly virtualServices: readonly VirtualServiceResource[];
	readonly deployments: readonly GatewayDeployment[];
	/** `istiod: …` (what it would refuse, ignore or report in status) and `meshbox: …` (what is not modelled). */
	readonly notes: readonly string[];
};

/** pkg/config/constants: the annotations istiod puts on what it generates. */
export const gatewayServiceAnnotation = 'internal.istio.io/gateway-service';
const parentsAnnotation = 'internal.istio.io/parents';
const serviceAccountAnnotation = 'internal.istio.io/service-account-name';
const autogenerated = 'istio-autogenerated-k8s-gateway';

/**
 * Generated names by release: 1.28 joined them with `~` (pkg/config/gateway/kube/gatewayapi.go
 * InternalGatewayName; 1.25–1.27 used `-`); 1.26 named a merged VirtualService by its merge key
 * (route_collections.go mergeHTTPRoutes), 1.25 by its first route (`<route>-<n>-istio-autogenerated-k8s-gateway`).
 */
function names(traits: VersionTraits): {
	gateway: (gateway: string, listener: string) => string;
	route: (route: string, count: number) => string;
	mergedByKey: boolean;
	serviceAccountAnnotation: boolean;
} {
	const minor = Number(traits.version.split('.')[1]);
	const separator = minor >= 28 ? '~' : '-';
	return {
		gateway: (gateway, listener) => `${gateway}${separator}${autogenerated}${separator}${listener}`,
		// A VirtualService before the merge (route_collections.go; conversion.go in 1.25).
		route: (route, count) => `${route}${separator}${count}${separator}${autogenerated}`,
		mergedByKey: minor >= 26,
		// "Security/check sa for gw secrets" (istio/istio#57716): 1.28.0, backported to 1.27.2 and 1.26.5.
		serviceAccountAnnotation: minor >= 28 || (minor === 27 && traits.patch >= 2) || (minor === 26 && traits.patch >= 5),
	};
}

/** A listener that routes can bind to (gateway_collection.go parentInfo). */
type Parent = {
	readonly gateway: KubeGatewayResource;
	/** `<ns>/<generated Gateway name>`: what the VirtualServices name in `gateways`. */
	readonly internalName: string;
	/** The server's hosts (`<ns>/<hostname>`). */
	readonly hostnames: readonly string[];
	readonly originalHostname: string;
	readonly sectionName: string;
	readonly port: number;
	readonly protocol: string;
	readonly allowedKinds: readonly string[];
};

type RouteWithKey = { readonly key: string; readonly route: HttpRouteResource; readonly parent: Parent; readonly host: string; readonly name: string; readonly http: readonly HttpRoute[] };

/** Gateway API Gateways and HTTPRoutes → what istiod generates from them. */
export function convertGatewayApi(input: GatewayApiInput): GatewayApiConversion {
	const domain = input.domainSuffix ?? 'cluster.local';
	const notes: string[] = [];
	const gateways: GatewayResource[] = [];
	const deployments: GatewayDeployment[] = [];
	const parents: Parent[] = [];
	for (const gateway of byCreation(input.kubeGateways)) {
		const converted = convertGateway(gateway, input.traits, domain, notes);
		gateways.push(...converted.gateways);
		parents.push(...converted.parents);
		if (converted.deployment) {
			deployments.push(converted.deployment);
		}
	}

	const keyed: RouteWithKey[] = [];
	for (const route of byCreation(input.httpRoutes)) {
		keyed.push(...convertRoute(route, parents, input.services, domain, names(input.traits), notes));
	}

	if (input.kubeGateways.length > 0 || input.httpRoutes.length > 0) {
		notes.push('meshbox: Gateway API status (conditions, attachedRoutes, addresses) is not modelled; what would set a condition to False is a note here');
	}

	// A rule split per match (or bound to several listeners) repeats its notes: each is said once.
	return { gateways, virtualServices: mergeRoutes(keyed, input.traits), deployments, notes: [...new Set(notes)] };
}

function describe(resource: { readonly kind: string; readonly namespace: string; readonly name: string; readonly origin: { readonly file: string; readonly line: number } }): string {
	return `${resource.kind === 'KubeGateway' ? 'Gateway' : resource.kind} ${resource.namespace}/${resource.name} (${resource.origin.file}:${resource.origin.line})`;
}

function convertGateway(gateway: KubeGatewayResource, traits: VersionTraits, domain: string, notes: string[]): { gateways: GatewayResource[]; parents: Parent[]; deployment?: GatewayDeployment } {
	const { spec } = gateway;
	if (spec.gatewayClassName !== 'istio') {
		notes.push(`istiod: ${describe(gateway)}: gatewayClassName ${JSON.stringify(spec.gatewayClassName)} is not Istio's; ignored`);
		return { gateways: [], parents: [] };
	}

	const addresses = spec.addresses ?? [];
	// conversion.go IsManaged (PILOT_ENABLE_GATEWAY_API_MANUAL_DEPLOYMENT on by default): no address, or one IP address.
	const managed = addresses.length === 0 || (addresses.length === 1 && (addresses[0]?.type === undefined || addresses[0].type === 'IPAddress'));
	const deploymentName = gateway.annotations['gateway.istio.io/name-override'] ?? `${gateway.name}-${spec.gatewayClassName}`;
	const serviceAccount = gateway.annotations['gateway.istio.io/service-account'] ?? `${gateway.name}-${spec.gatewayClassName}`;
	const services = managed ? [`${deploymentName}.${gateway.namespace}.svc.${domain}`] : gatewayServiceHostnames(gateway, domain, notes);
	if (!managed) {
		notes.push(`istiod: ${describe(gateway)}: addresses name the Service of a gateway deployed by hand (${services.join(', ') || 'none usable'}): no deployment is generated; a gateway proxy of the mesh serves it when one of these Services selects it`);
	}

	const extra = spec as { readonly infrastructure?: { readonly parametersRef?: unknown }; readonly tls?: unknown; readonly allowedListeners?: unknown };
	if (extra.infrastructure?.parametersRef !== undefined) {
		notes.push(`meshbox: ${describe(gateway)}: infrastructure.parametersRef (deployment customization) is not modelled`);
	}

	if (extra.tls !== undefined) {
		notes.push(`meshbox: ${describe(gateway)}: spec.tls (frontend client certificate validation) is not modelled`);
	}

	if (extra.allowedListeners !== undefined) {
		notes.push(`meshbox: ${describe(gateway)}: allowedListeners (ListenerSets) is not modelled`);
	}

	const naming = names(traits);
	const gateways: GatewayResource[] = [];
	const parents: Parent[] = [];
	for (const listener of spec.listeners) {
		const problem = listenerProtocolProblem(listener.protocol);
		if (problem) {
			notes.push(`istiod: ${describe(gateway)}: listener ${listener.name}: ${problem}; skipped`);
			continue;
		}

		const server: GatewayServer = {
			port: { number: listener.port, protocol: listener.protocol, name: 'default' },
			hosts: hostnameMatch(gateway, listener, notes),
			...(listener.tls ? { tls: listenerTls(gateway, listener, notes) } : {}),
		};
		const name = naming.gateway(gateway.name, listener.name);
		gateways.push({
			kind: 'Gateway',
			group: 'networking.istio.io',
			name,
			namespace: gateway.namespace,
			labels: {},
			annotations: {
				'internal.istio.io/gateway-semantics': 'gateway',
				[gatewayServiceAnnotation]: services.join(','),
				[parentsAnnotation]: `Gateway/${gateway.name}/${listener.name}.${gateway.namespace}`,
				...(naming.serviceAccountAnnotation ? { [serviceAccountAnnotation]: managed ? serviceAccount : '' } : {}),
			},
			creationTimestamp: gateway.creationTimestamp,
			origin: gateway.origin,
			// No selector: istiod selects the proxies behind the gateway-service annotation (gateway-servers.ts).
			spec: { selector: {}, servers: [server] },
		});
		parents.push({
			gateway,
			internalName: `${gateway.namespace}/${name}`,
			hostnames: server.hosts,
			originalHostname: listener.hostname ?? '',
			sectionName: listener.name,
			port: listener.port,
			protocol: listener.protocol,
			allowedKinds: supportedKinds(listener, gateway, notes),
		});
	}

	if (!managed) {
		return { gateways, parents };
	}

	return { gateways, parents, deployment: deployment(gateway, deploymentName, serviceAccount) };
}

/** conversion.go extractGatewayServices for a gateway deployed by hand: its Hostname addresses. */
function gatewayServiceHostnames(gateway: KubeGatewayResource, domain: string, notes: string[]): string[] {
	const hostnames: string[] = [];
	for (const address of gateway.spec.addresses ?? []) {
		if (address.type !== undefined && address.type !== 'Hostname') {
			notes.push(`istiod: ${describe(gateway)}: only Hostname is supported, ignoring ${address.value}`);
			continue;
		}

		hostnames.push(address.value.includes('.') ? address.value : `${address.value}.${gateway.namespace}.svc.${domain}`);
	}

	return hostnames;
}

/** conversion.go buildHostnameMatch + namespacesFromSelector. */
function hostnameMatch(gateway: KubeGatewayResource, listener: KubeGatewayListener, notes: string[]): string[] {
	const hostname = listener.hostname ?? '*';
	const from = listener.allowedRoutes?.namespaces?.from ?? 'Same';
	if (from === 'All') {
		return [`*/${hostname}`];
	}

	if (from === 'Selector') {
		const namespaces = selectedNamespaces(listener.allowedRoutes?.namespaces?.selector);
		if (namespaces === '*') {
			return [`*/${hostname}`];
		}

		if (namespaces === undefined) {
			// meshbox has no Namespace objects with labels to run the selector against: none match, as for a selector
			// that selects no namespace (istiod then writes `~/<host>`, which matches no route).
			notes.push(`meshbox: ${describe(gateway)}: listener ${listener.name}: allowedRoutes.namespaces.selector on labels other than kubernetes.io/metadata.name is not modelled (meshbox namespaces have no labels): no namespace is allowed`);
			return [`~/${hostname}`];
		}

		return namespaces.length === 0 ? [`~/${hostname}`] : [...namespaces].sort().map(namespace => `${namespace}/${hostname}`);
	}

	return [`${gateway.namespace}/${hostname}`];
}

/**
 * namespacesFromSelector, for what meshbox can know of a Namespace: its name, which every namespace carries as the
 * label `kubernetes.io/metadata.name` (toNamespaceSet). An empty selector selects every namespace (`*`); a
 * selector on other labels: undefined.
 */
function selectedNamespaces(selector: unknown): string[] | '*' | undefined {
	const nameLabel = 'kubernetes.io/metadata.name';
	const { matchLabels = {}, matchExpressions = [] } = (isRecord(selector) ? selector : {}) as {
		readonly matchLabels?: Readonly<Record<string, string>>;
		readonly matchExpressions?: ReadonlyArray<{ readonly key: string; readonly operator: string; readonly values?: readonly string[] }>;
	};
	if (Object.keys(matchLabels).length === 0 && matchExpressions.length === 0) {
		return '*';
	}

	if (Object.keys(matchLabels).some(key => key !== nameLabel) || matchExpressions.some(expression => expression.key !== nameLabel || expression.operator !== 'In')) {
		return undefined;
	}

	// Every requirement must hold: the names all of them allow.
	const sets = [
		...(matchLabels[nameLabel] === undefined ? [] : [[matchLabels[nameLabel]]]),
		...matchExpressions.map(expression => [...(expression.values ?? [])]),
	];
	return sets.reduce((allowed, names) => allowed.filter(name => names.includes(name)));
}

/** conversion.go buildTLS for a listener (no Gateway-level frontend TLS: experimental channel). */
function listenerTls(gateway: KubeGatewayResource, listener: KubeGatewayListener, notes: string[]): ServerTls {
	const tls = listener.tls ?? {};
	if (tls.mode === 'Passthrough') {
		return { mode: 'PASSTHROUGH' };
	}

	const refs = tls.certificateRefs ?? [];
	if (refs.length > 2) {
		notes.push(`istiod: ${describe(gateway)}: listener ${listener.name}: TLS mode can only support up to 2 server certificates`);
	}

	const credentials: string[] = [];
	for (const ref of refs) {
		const namespace = ref.namespace ?? gateway.namespace;
		if ((ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret') {
			notes.push(`istiod: ${describe(gateway)}: listener ${listener.name}: invalid certificate reference ${ref.group ?? ''}/${ref.kind ?? ''}/${ref.name}, only secret is allowed`);
			continue;
		}

		if (namespace !== gateway.namespace) {
			notes.push(`istiod: ${describe(gateway)}: listener ${listener.name}: certificateRef ${ref.name}/${namespace} not accessible to a Gateway in namespace "${gateway.namespace}" (missing a ReferenceGrant?); meshbox does not model ReferenceGrant`);
			continue;
		}

		// credentials.ToKubernetesGatewayResource: the SDS resource name of a Gateway API certificate.
		credentials.push(`kubernetes-gateway://${namespace}/${ref.name}`);
	}

	if (credentials.length > 1) {
		notes.push(`meshbox: ${describe(gateway)}: listener ${listener.name}: a second certificate (credentialNames) is not modelled; the first one is served`);
	}

	return { mode: 'SIMPLE', ...(credentials[0] ? { credentialName: credentials[0] } : {}) };
}

/** conversion.go generateSupportedKinds: HTTP and HTTPS listeners take HTTPRoute and GRPCRoute. */
function supportedKinds(listener: KubeGatewayListener, gateway: KubeGatewayResource, notes: string[]): string[] {
	const supported = listener.protocol === 'HTTP' || listener.protocol === 'HTTPS' ? ['HTTPRoute', 'GRPCRoute'] : [];
	const raw = (listener.allowedRoutes as { readonly kinds?: ReadonlyArray<{ readonly group?: string; readonly kind: string }> } | undefined)?.kinds;
	if (!raw || raw.length === 0) {
		return supported;
	}

	const allowed = raw.filter(kind => (kind.group ?? group) === group && supported.includes(kind.kind)).map(kind => kind.kind);
	if (allowed.length < raw.length) {
		notes.push(`istiod: ${describe(gateway)}: listener ${listener.name}: allowedRoutes.kinds lists kinds this listener cannot take (status ResolvedRefs=False, InvalidRouteKinds)`);
	}

	return allowed;
}

/** deploymentcontroller.go configureIstioGateway + kube-gateway.yaml: the pod of a managed Gateway. */
function deployment(gateway: KubeGatewayResource, name: string, serviceAccount: string): GatewayDeployment {
	const infrastructure = (gateway.spec as { readonly infrastructure?: { readonly labels?: Readonly<Record<string, string>> } }).infrastructure;
	// extractInfrastructureMetadata: spec.infrastructure.labels, else the Gateway's own labels; never the
	// gateway.networking.k8s.io/ prefix.
	const infrastructureLabels = Object.fromEntries(Object.entries(infrastructure?.labels ?? gateway.labels)
		.filter(([key]) => !key.startsWith('gateway.networking.k8s.io/')));
	const seen = new Set<number>();
	const ports: Array<{ port: number; targetPort: number; name: string; appProtocol: string }> = [];
	for (const listener of gateway.spec.listeners) {
		if (seen.has(listener.port)) {
			continue;
		}

		seen.add(listener.port);
		// sanitizeListenerNameForPort: a Service port name has no dots and at most 63 characters.
		ports.push({ port: listener.port, targetPort: listener.port, name: listener.name.replaceAll('.', '-').slice(0, 63), appProtocol: listener.protocol.toLowerCase() });
	}

	return {
		name,
		namespace: gateway.namespace,
		labels: {
			'sidecar.istio.io/inject': 'false',
			'service.istio.io/canonical-name': name,
			'service.istio.io/canonical-revision': 'latest',
			...infrastructureLabels,
			'gateway.networking.k8s.io/gateway-name': gateway.name,
			'gateway.networking.k8s.io/gateway-class-name': gateway.spec.gatewayClassName,
			'gateway.istio.io/managed': 'istio.io-gateway-controller',
		},
		ports,
		serviceAccount,
		gatewayName: gateway.name,
	};
}

/**
 * The Service istiod's template creates next to the deployment (kube-gateway.yaml): `<gw>-istio`, selecting the
 * gateway-name label, one port per listener port with its appProtocol (Istio infers HTTP / HTTPS from it,
 * pilot/pkg/serviceregistry/kube/conversion.go). `endpoints` are the mesh's to fill: the deployment's proxy.
 */
export function gatewayDeploymentService(deployment: GatewayDeployment, domainSuffix = 'cluster.local'): MeshService {
	const protocols: Readonly<Record<string, MeshService['ports'][number]['protocol']>> = { http: 'HTTP', https: 'HTTPS', tls: 'TLS', tcp: 'TCP' };
	return {
		name: deployment.name,
		namespace: deployment.namespace,
		hostname: `${deployment.name}.${deployment.namespace}.svc.${domainSuffix}`,
		ports: deployment.ports.map(port => ({ name: port.name, port: port.port, targetPort: port.targetPort, protocol: protocols[port.appProtocol] ?? 'TCP' })),
		endpoints: [],
		external: false,
		selector: { 'gateway.networking.k8s.io/gateway-name': deployment.gatewayName },
	};
}

type ParentReference = { readonly parent: Parent; readonly denied?: string; readonly banned: readonly string[] };

/** conversion.go extractParentReferenceInfo + referenceAllowed, and route_collections.go HTTPRouteCollection. */
function convertRoute(route: HttpRouteResource, parents: readonly Parent[], services: readonly MeshService[], domain: string,
	naming: ReturnType<typeof names>, notes: string[]): RouteWithKey[] {
	const references: ParentReference[] = [];
	for (const reference of route.spec.parentRefs ?? []) {
		const kind = reference.kind ?? 'Gateway';
		const refGroup = reference.group ?? group;
		const namespace = reference.namespace ?? route.namespace;
		if (refGroup === '' && kind === 'Service') {
			notes.push(`meshbox: ${describe(route)}: parentRef to Service ${namespace}/${reference.name} (mesh routing, GAMMA) is not modelled; ignored`);
			continue;
		}

		if (refGroup !== group || kind !== 'Gateway') {
			// toInternalParentReference: "Maybe it is for another controller, so we just ignore it".
			notes.push(`istiod: ${describe(route)}: parentRef ${refGroup}/${kind} ${reference.name} is not a parent istiod handles; ignored`);
			continue;
		}

		const listeners = parents.filter(parent => parent.gateway.name === reference.name && parent.gateway.namespace === namespace);
		if (listeners.length === 0) {
			notes.push(`istiod: ${describe(route)}: parent Gateway ${namespace}/${reference.name} not found (or not of class istio): the route is not attached`);
			continue;
		}

		const forThisRef: ParentReference[] = listeners.map(parent => {
			const banned = listeners.filter(other => other !== parent && other.port === parent.port && other.protocol === parent.protocol)
				.map(other => other.originalHostname).filter(hostname => hostname !== parent.originalHostname);
			const denied = referenceDenied(parent, reference.port, reference.sectionName, route);
			return { parent, banned, ...(denied ? { denied } : {}) };
		});
		// A parentRef without sectionName binds to every listener that accepts it; status reports the reference as
		// refused only when none does (the first listener's reason).
		const refused = forThisRef.find(entry => entry.denied);
		if (refused && forThisRef.every(entry => entry.denied)) {
			notes.push(`istiod: ${describe(route)}: not accepted by Gateway ${namespace}/${reference.name}${reference.sectionName ? ` (sectionName ${reference.sectionName})` : ''}: ${refused.denied}`);
		}

		references.push(...forThisRef);
	}

	const accepted = references.filter(reference => !reference.denied)
		.sort((a, b) => (a.parent.internalName < b.parent.internalName ? -1 : (a.parent.internalName > b.parent.internalName ? 1 : 0)));
	if (accepted.length === 0) {
		return [];
	}

	const http = convertRules(route, services, domain, notes);
	if (!http || http.length === 0) {
		return [];
	}

	const keyed: RouteWithKey[] = [];
	let count = 0;
	const hosts = route.spec.hostnames && route.spec.hostnames.length > 0 ? route.spec.hostnames : ['*'];
	for (const { parent, banned } of accepted) {
		for (const host of hosts) {
			if (!hostnameAllowedByIsolation(host, parent.originalHostname, banned)) {
				continue;
			}

			keyed.push({ key: `${parent.internalName}/${host}`, route, parent, host, name: naming.route(route.name, count), http: sortHttpRoutes(http) });
			count++;
		}
	}

	return keyed;
}

function referenceDenied(parent: Parent, port: number | undefined, sectionName: string | undefined, route: HttpRouteResource): string | undefined {
	if (port !== undefined && port !== 0 && port !== parent.port) {
		return `port ${port} not found`;
	}

	if (sectionName && sectionName !== parent.sectionName) {
		return `sectionName ${JSON.stringify(sectionName)} not found`;
	}

	const hostnames = route.spec.hostnames && route.spec.hostnames.length > 0 ? route.spec.hostnames : ['*'];
	let matched = false;
	let hostMatched = false;
	for (const routeHostname of hostnames) {
		for (const entry of parent.hostnames) {
			const [parentNamespace, parentHostname] = entry.includes('/') ? entry.split('/', 2) as [string, string] : ['*', entry];
			const hostnameMatch = hostMatches(parentHostname, routeHostname);
			hostMatched ||= hostnameMatch;
			if (hostnameMatch && (parentNamespace === '*' || parentNamespace === route.namespace)) {
				matched = true;
			}
		}
	}

	if (!matched) {
		return hostMatched
			? `hostnames matched parent hostname ${JSON.stringify(parent.originalHostname)}, but namespace ${JSON.stringify(route.namespace)} is not allowed by the parent`
			: `no hostnames matched parent hostname ${JSON.stringify(parent.originalHostname)}`;
	}

	if (!parent.allowedKinds.includes('HTTPRoute')) {
		return `kind ${group}/v1, Kind=HTTPRoute is not allowed`;
	}

	return undefined;
}

/** conversion.go routeParentReference.hostnameAllowedByIsolation: a more specific listener on the port takes the host. */
function hostnameAllowedByIsolation(routeHost: string, listenerHost: string, banned: readonly string[]): boolean {
	if (listenerHost.length > 0 && !listenerHost.startsWith('*')) {
		return true;
	}

	if (listenerHost.length > 0 && !hostMatches(routeHost, listenerHost)) {
		return false;
	}

	return !banned.some(other => listenerHost.length <= other.length && hostSubsetOf(routeHost, other));
}

/** Every rule, split into one route per match (route_collections.go), converted; undefined on a hard error. */
function convertRules(route: HttpRouteResource, services: readonly MeshService[], domain: string, notes: string[]): HttpRoute[] | undefined {
	const result: HttpRoute[] = [];
	for (const [position, rule] of (route.spec.rules ?? []).entries()) {
		const matches: ReadonlyArray<HttpRouteMatch | undefined> = rule.matches && rule.matches.length > 0 ? rule.matches : [undefined];
		for (const match of matches) {
			const converted = convertRule(route, rule, match, position, services, domain, notes);
			if (typeof converted === 'string') {
				// computeRoute: a hard error drops every route of the HTTPRoute (status Accepted=False).
				notes.push(`istiod: ${describe(route)}: rule ${position}: ${converted}; the HTTPRoute generates no routes`);
				return undefined;
			}

			result.push(converted);
		}
	}

	return result;
}

/** conversion.go convertHTTPRoute: one rule with at most one match; a string is istiod's error. */
function convertRule(route: HttpRouteResource, rule: HttpRouteRule, match: HttpRouteMatch | undefined, position: number,
	services: readonly MeshService[], domain: string, notes: string[]): HttpRoute | string {
	let headers: { request?: HeaderOperations; response?: HeaderOperations } | undefined;
	let redirect: HttpRedirect | undefined;
	let rewrite: HttpRewrite | undefined;
	let corsPolicy: Record<string, unknown> | undefined;
	for (const filter of rule.filters ?? []) {
		switch (filter.type) {
			case 'RequestHeaderModifier':
			case 'ResponseHeaderModifier': {
				const operations = headerOperations(filter);
				if (typeof operations === 'string') {
					return operations;
				}

				headers = { ...headers, [filter.type === 'RequestHeaderModifier' ? 'request' : 'response']: operations };
				break;
			}

			case 'RequestRedirect': {
				redirect = redirectFilter(filter);
				break;
			}

			case 'URLRewrite': {
				rewrite = rewriteFilter(filter);
				break;
			}

			case 'CORS': {
				// gateway-api v1.5, standard from Istio 1.30.
				corsPolicy = corsFilter(filter);
				break;
			}

			case 'RequestMirror': {
				// Converted by istiod into `mirrors`; meshbox's VirtualService model has no mirrors.
				notes.push(`meshbox: ${describe(route)}: rule ${position}: RequestMirror is not modelled (istiod mirrors the request; meshbox does not)`);
				break;
			}

			default: {
				return `unsupported filter type ${JSON.stringify(filter.type)}`;
			}
		}
	}

	const converted: { -readonly [K in keyof HttpRoute]: HttpRoute[K] } = {
		name: rule.name ?? `${route.namespace}.${route.name}.${position}`,
		...(match ? { match: [matchRequest(match)] } : {}),
	};
	if (headers) {
		converted.headers = headers as Headers;
	}

	if (redirect) {
		converted.redirect = redirect;
	}

	if (rewrite) {
		converted.rewrite = rewrite;
	}

	if (corsPolicy) {
		converted.corsPolicy = corsPolicy;
	}

	const timeout = routeTimeout(rule);
	if (timeout) {
		converted.timeout = timeout;
	}

	const backends = rule.backendRefs ?? [];
	const weightSum = backends.reduce((sum, backend) => sum + (backend.weight ?? 1), 0);
	if (weightSum === 0 && !redirect) {
		// "The spec requires us to return 500 when there are no >0 weight backends".
		converted.directResponse = { status: 500 };
		return converted;
	}

	if (redirect) {
		return converted;
	}

	const destinations = httpDestinations(route, backends, services, domain, notes, position);
	if (typeof destinations === 'string') {
		return destinations;
	}

	converted.route = destinations;
	return converted;
}

function matchRequest(match: HttpRouteMatch): HttpMatchRequest {
	const request: { -readonly [K in keyof HttpMatchRequest]: HttpMatchRequest[K] } = { uri: uriMatch(match) };
	const headers = stringMatches(match.headers);
	if (headers) {
		request.headers = headers;
	}

	const queryParams = stringMatches(match.queryParams);
	if (queryParams) {
		request.queryParams = queryParams;
	}

	if (match.method) {
		request.method = { exact: match.method };
	}

	return request;
}

/** createURIMatch: a PathPrefix ignores a trailing `/`. */
function uriMatch(match: HttpRouteMatch): StringMatch {
	const type = match.path?.type ?? 'PathPrefix';
	const value = match.path?.value ?? '/';
	if (type === 'Exact') {
		return { exact: value };
	}

	if (type === 'RegularExpression') {
		return { regex: value };
	}

	return { prefix: value === '/' ? value : value.replace(/\/$/, '') };
}

function stringMatches(list: HttpRouteMatch['headers']): Record<string, StringMatch> | undefined {
	if (!list || list.length === 0) {
		return undefined;
	}

	return Object.fromEntries(list.map(entry => [entry.name, entry.type === 'RegularExpression' ? { regex: entry.value } : { exact: entry.value }]));
}

type HeaderList = ReadonlyArray<{ readonly name: string; readonly value: string }>;

/** createHeadersFilter + headerListToMap: names lower-cased, later duplicates ignored. */
function headerOperations(filter: HttpRouteFilter): HeaderOperations | string {
	const field = filter.type === 'RequestHeaderModifier' ? filter.requestHeaderModifier : filter.responseHeaderModifier;
	const modifier = (isRecord(field) ? field : {}) as { readonly set?: HeaderList; readonly add?: HeaderList; readonly remove?: readonly string[] };
	for (const header of [...(modifier.set ?? []), ...(modifier.add ?? [])]) {
		// isValidHeaderValue: HTAB or visible characters (and obs-text).
		if ([...Buffer.from(header.value, 'utf8')].some(byte => !(byte === 0x09 || (byte >= 0x20 && byte !== 0x7F)))) {
			return `header ${JSON.stringify(header.name)} value contains invalid characters`;
		}
	}

	const toMap = (list: HeaderList | undefined): Record<string, string> | undefined => {
		if (!list || list.length === 0) {
			return undefined;
		}

		const map: Record<string, string> = {};
		for (const header of list) {
			const key = header.name.toLowerCase();
			map[key] ??= header.value;
		}

		return map;
	};

	const set = toMap(modifier.set);
	const add = toMap(modifier.add);
	return { ...(add ? { add } : {}), ...(modifier.remove ? { remove: modifier.remove } : {}), ...(set ? { set } : {}) };
}

type PathModifier = { readonly type: 'ReplaceFullPath' | 'ReplacePrefixMatch'; readonly replaceFullPath?: string; readonly replacePrefixMatch?: string };

/** createRedirectFilter (1.29: a prefix replacement is the `%PREFIX()%` uri; HEAD later uses prefixRewrite). */
function redirectFilter(filter: HttpRouteFilter): HttpRedirect {
	const spec = (isRecord(filter.requestRedirect) ? filter.requestRedirect : {}) as { readonly statusCode?: number; readonly hostname?: string; readonly scheme?: string; readonly port?: number; readonly path?: PathModifier };
	const uri = spec.path?.type === 'ReplaceFullPath' ? spec.path.replaceFullPath : (spec.path?.type === 'ReplacePrefixMatch' ? `%PREFIX()%${spec.path.replacePrefixMatch ?? ''}` : undefined);
	return {
		...(spec.statusCode !== undefined ? { redirectCode: spec.statusCode } : {}),
		...(spec.hostname !== undefined ? { authority: spec.hostname } : {}),
		...(spec.scheme !== undefined ? { scheme: spec.scheme } : {}),
		// "When empty, port (if specified) of the request is used": this differs from Istio's default.
		...(spec.port !== undefined ? { port: spec.port } : { derivePort: spec.scheme === undefined ? 'FROM_REQUEST_PORT' as const : 'FROM_PROTOCOL_DEFAULT' as const }),
		...(uri !== undefined ? { uri } : {}),
	};
}

/** createRewriteFilter: a prefix `/` (or empty) removes the prefix; a full path is a regex rewrite of `/.*`. */
function rewriteFilter(filter: HttpRouteFilter): HttpRewrite | undefined {
	const spec = (isRecord(filter.urlRewrite) ? filter.urlRewrite : {}) as { readonly hostname?: string; readonly path?: PathModifier };
	const rewrite: { -readonly [K in keyof HttpRewrite]: HttpRewrite[K] } = {};
	if (spec.path?.type === 'ReplacePrefixMatch') {
		rewrite.uri = (spec.path.replacePrefixMatch ?? '').replace(/\/$/, '') || '/';
	} else if (spec.path?.type === 'ReplaceFullPath') {
		rewrite.uriRegexRewrite = { match: '/.*', rewrite: spec.path.replaceFullPath ?? '' };
	}

	if (spec.hostname !== undefined) {
		rewrite.authority = spec.hostname;
	}

	return Object.keys(rewrite).length > 0 ? rewrite : undefined;
}

/** Go's regexp.QuoteMeta. */
function quoteMeta(text: string): string {
	return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/**
 * conversion.go createCorsFilter (1.30): origins `*` → a strict origin regex, no wildcard → exact, one trailing
 * wildcard → prefix, other wildcards → an anchored regex; unmatched preflights are ignored.
 */
function corsFilter(filter: HttpRouteFilter): Record<string, unknown> {
	const spec = (isRecord(filter.cors) ? filter.cors : {}) as {
		readonly allowOrigins?: readonly string[]; readonly allowCredentials?: boolean; readonly allowMethods?: readonly string[];
		readonly allowHeaders?: readonly string[]; readonly exposeHeaders?: readonly string[]; readonly maxAge?: number;
	};
	const allowOrigins: StringMatch[] = [];
	for (const origin of spec.allowOrigins ?? []) {
		if (origin === '') {
			continue;
		}

		if (origin === '*') {
			allowOrigins.push({ regex: '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/\\s?#]+$' });
		} else if (!origin.includes('*')) {
			allowOrigins.push({ exact: origin });
		} else if (origin.indexOf('*') === origin.length - 1) {
			allowOrigins.push({ prefix: origin.slice(0, -1) });
		} else {
			allowOrigins.push({ regex: `^${quoteMeta(origin).replaceAll('\\*', '.*')}$` });
		}
	}

	return {
		...(allowOrigins.length > 0 ? { allowOrigins } : {}),
		...(spec.allowCredentials ? { allowCredentials: true } : {}),
		...(spec.allowMethods && spec.allowMethods.length > 0 ? { allowMethods: spec.allowMethods } : {}),
		...(spec.allowHeaders && spec.allowHeaders.length > 0 ? { allowHeaders: spec.allowHeaders } : {}),
		...(spec.exposeHeaders && spec.exposeHeaders.length > 0 ? { exposeHeaders: spec.exposeHeaders } : {}),
		...(spec.maxAge !== undefined && spec.maxAge > 0 ? { maxAge: protoDuration(spec.maxAge * 1000) } : {}),
		unmatchedPreflights: 'IGNORE',
	};
}

/** convertHTTPRoute's timeouts: backendRequest is the timeout unless retries are set (standard channel: no retries). */
function routeTimeout(rule: HttpRouteRule): string | undefined {
	const request = rule.timeouts?.request === undefined ? 0 : parseGatewayDuration(rule.timeouts.request) ?? 0;
	const backendRequest = rule.timeouts?.backendRequest === undefined ? 0 : parseGatewayDuration(rule.timeouts.backendRequest) ?? 0;
	if (backendRequest !== 0) {
		return protoDuration(backendRequest);
	}

	return request === 0 ? undefined : protoDuration(request);
}

/** buildHTTPDestination + buildDestination: weight 0 backends dropped; a single one carries no weight. */
function httpDestinations(route: HttpRouteResource, backends: readonly HttpBackendRef[], services: readonly MeshService[], domain: string,
	notes: string[], position: number): HttpRouteDestination[] | string {
	const active = backends.filter(backend => (backend.weight ?? 1) !== 0);
	const result: HttpRouteDestination[] = [];
	for (const backend of active) {
		const kind = backend.kind ?? 'Service';
		const backendGroup = backend.group ?? '';
		const namespace = backend.namespace ?? route.namespace;
		if (backendGroup !== '' || kind !== 'Service') {
			// isInvalidBackend (InvalidDestinationKind): the backend is dropped gracefully (status ResolvedRefs=False).
			notes.push(`istiod: ${describe(route)}: rule ${position}: referencing unsupported backendRef: group ${JSON.stringify(backendGroup)} kind ${JSON.stringify(kind)} (meshbox models Service backends)`);
			result.push({ destination: { host: '' }, ...weight(active, backend) });
			continue;
		}

		if (backend.name.includes('.')) {
			return 'service name invalid; the name of the Service must be used, not the hostname.';
		}

		if (backend.namespace !== undefined && backend.namespace !== route.namespace) {
			notes.push(`istiod: ${describe(route)}: rule ${position}: backendRef ${backend.name}/${namespace} not accessible to a HTTPRoute in namespace "${route.namespace}" (missing a ReferenceGrant?); meshbox does not model ReferenceGrant`);
			result.push({ destination: { host: '' }, ...weight(active, backend) });
			continue;
		}

		const host = `${backend.name}.${namespace}.svc.${domain}`;
		if (!services.some(service => !service.external && service.name === backend.name && service.namespace === namespace)) {
			notes.push(`istiod: ${describe(route)}: rule ${position}: backend(${host}) not found (status ResolvedRefs=False, BackendNotFound)`);
		}

		if (backend.port === undefined) {
			return 'port is required in backendRef';
		}

		const destination: { -readonly [K in keyof HttpRouteDestination]: HttpRouteDestination[K] } = { destination: { host, port: { number: backend.port } }, ...weight(active, backend) };
		for (const filter of backend.filters ?? []) {
			if (filter.type !== 'RequestHeaderModifier' && filter.type !== 'ResponseHeaderModifier') {
				return `unsupported filter type ${JSON.stringify(filter.type)}`;
			}

			const operations = headerOperations(filter);
			if (typeof operations === 'string') {
				return operations;
			}

			destination.headers = { ...destination.headers, [filter.type === 'RequestHeaderModifier' ? 'request' : 'response']: operations };
		}

		result.push(destination);
	}

	return result;
}

function weight(active: readonly HttpBackendRef[], backend: HttpBackendRef): { weight?: number } {
	return active.length === 1 ? {} : { weight: backend.weight ?? 1 };
}

/** conversion.go sortHTTPRoutes (stable): Exact > Prefix > Regex, longer paths, method, more headers, more query params. */
function sortHttpRoutes(routes: readonly HttpRoute[]): HttpRoute[] {
	const rank = (match: HttpMatchRequest): number => match.uri?.exact !== undefined ? 3 : (match.uri?.prefix !== undefined ? 2 : (match.uri?.regex !== undefined ? 1 : -1));
	const length = (match: HttpMatchRequest): number => (match.uri?.exact ?? match.uri?.prefix ?? match.uri?.regex ?? '').length;
	return routes.map((route, index) => ({ route, index })).sort((a, b) => {
		const m1 = a.route.match?.[0];
		const m2 = b.route.match?.[0];
		if (!m1 || !m2) {
			return (m1 ? -1 : 0) - (m2 ? -1 : 0) || a.index - b.index;
		}

		return (rank(m2) - rank(m1)) || (length(m2) - length(m1)) || (Number(m2.method !== undefined) - Number(m1.method !== undefined))
			|| (Object.keys(m2.headers ?? {}).length - Object.keys(m1.headers ?? {}).length)
			|| (Object.keys(m2.queryParams ?? {}).length - Object.keys(m1.queryParams ?? {}).length) || a.index - b.index;
	}).map(entry => entry.route);
}

/** route_collections.go mergeHTTPRoutes: one VirtualService per gateway listener and host, across HTTPRoutes. */
function mergeRoutes(keyed: readonly RouteWithKey[], traits: VersionTraits): VirtualServiceResource[] {
	const groups = new Map<string, RouteWithKey[]>();
	for (const entry of keyed) {
		groups.set(entry.key, [...(groups.get(entry.key) ?? []), entry]);
	}

	const { mergedByKey } = names(traits);
	return [...groups.entries()].map(([key, entries]) => {
		// sortRoutesByCreationTime: the pre-merge VirtualServices, by creation, namespace and name.
		const ordered = byCreation(entries.map(entry => ({ ...entry, creationTimestamp: entry.route.creationTimestamp, namespace: entry.route.namespace })));
		const [base] = ordered as [RouteWithKey & { creationTimestamp: number | undefined; namespace: string }];
		const http = ordered.length === 1 ? base.http : sortHttpRoutes(ordered.flatMap(entry => entry.http));
		return {
			kind: 'VirtualService',
			group: 'networking.istio.io',
			name: mergedByKey ? key.replaceAll('/', '~') : base.name,
			namespace: base.route.namespace,
			labels: {},
			annotations: {
				[parentsAnnotation]: ordered.map(entry => `HTTPRoute/${entry.route.name}.${entry.route.namespace}`).join(','),
				'internal.istio.io/route-semantics': 'gateway',
			},
			creationTimestamp: base.route.creationTimestamp,
			origin: base.route.origin,
			spec: { hosts: [base.host], gateways: [base.parent.internalName], http },
		} satisfies VirtualServiceResource;
	});
}
