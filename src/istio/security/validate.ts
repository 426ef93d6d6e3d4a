/**
 * security.istio.io PeerAuthentication, RequestAuthentication, AuthorizationPolicy, validated as the API server
 * (the CRD schema of istio/api security/v1beta1/*.proto: unknown fields, types, enums) and istiod's webhook do
 * (pkg/config/validation/validation.go ValidateAuthorizationPolicy, ValidateRequestAuthentication,
 * ValidatePeerAuthentication; pkg/config/security/security.go ValidateAttribute, CheckValidPathTemplate,
 * ValidatePorts, ValidateIPs, CheckServiceAccount, ParseJwksURI), each finding at its field's file:line:col.
 * Messages are Istio's own words.
 */
import { describeValue, isRecord, type FieldPath } from '../../config/fields.ts';
import type { AuthorizationPolicyResource, ConfigValidationContext, PeerAuthenticationResource, RequestAuthenticationResource } from '../config-resources.ts';
import { configResource, readEnvelope } from '../config-envelope.ts';
import type { TargetRef } from '../resources.ts';
import { parseGoDuration } from '../jsonpb.ts';
import { readSelector, readTargetRef, readTargetRefs } from '../validate.ts';
import type {
	AuthorizationAction, AuthorizationCondition, AuthorizationOperation, AuthorizationPolicySpec, AuthorizationRule, AuthorizationSource, JwtHeader, JwtRule,
	MtlsMode, PeerAuthenticationSpec, RequestAuthenticationSpec, WorkloadSelector,
} from './types.ts';

const group = 'security.istio.io';

const sourceFields = ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces', 'ipBlocks', 'notIpBlocks',
	'remoteIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts'] as const;
const operationFields = ['hosts', 'notHosts', 'ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const jwtRuleFields = ['issuer', 'audiences', 'jwksUri', 'jwks', 'fromHeaders', 'fromParams', 'fromCookies', 'outputPayloadToHeader', 'forwardOriginalToken',
	'outputClaimToHeaders', 'timeout', 'spaceDelimitedClaims'] as const;
const mtlsModes = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
const actions = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;

/** security.go MatchOneTemplate / MatchAnyTemplate and the literal a templated path's other segments must be. */
export const matchOneTemplate = '{*}';
export const matchAnyTemplate = '{**}';
const validLiteral = /^[a-zA-Z0-9-._~%!$&'()+,;:@=]+$/;

export function validatePeerAuthentication(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): PeerAuthenticationResource | undefined {
	const envelope = readEnvelope(document, 'PeerAuthentication', context);
	const { collector } = context;
	const spec = envelope.spec;
	collector.checkFields(spec, ['spec'], ['selector', 'mtls', 'portLevelMtls']);
	const selector = readWorkloadSelector(spec.selector, context);
	const mtls = readMtls(spec.mtls, ['spec', 'mtls'], context);
	let portLevelMtls: Record<string, { mode?: MtlsMode }> | undefined;
	if (spec.portLevelMtls !== undefined && spec.portLevelMtls !== null) {
		if (isRecord(spec.portLevelMtls)) {
			portLevelMtls = {};
			const emptySelector = !selector || Object.keys(selector.matchLabels ?? {}).length === 0;
			if (emptySelector && Object.keys(spec.portLevelMtls).length > 0) {
				collector.error('webhook', ['spec', 'portLevelMtls'], 'mesh/namespace peer authentication cannot have port level mTLS',
					'port-level modes need a selector naming the workload (selector.matchLabels)');
			}

			if (Object.keys(spec.portLevelMtls).length === 0) {
				collector.error('webhook', ['spec', 'portLevelMtls'], 'port level mTLS, if defined, must have at least one element');
			}

			for (const [port, value] of Object.entries(spec.portLevelMtls)) {
				const number = Number(port);
				if (!/^\d+$/.test(port) || number <= 0 || number > 65_535) {
					collector.error('webhook', ['spec', 'portLevelMtls', port], 'port must be in range 1..65535', 'the keys are the workload\'s (container) port numbers');
				}

				portLevelMtls[port] = readMtls(value, ['spec', 'portLevelMtls', port], context) ?? {};
			}
		} else {
			collector.error('schema', ['spec', 'portLevelMtls'], `Invalid value: ${describeValue(spec.portLevelMtls)}: must be a map of port numbers to {mode}`);
		}
	}

	const result: PeerAuthenticationSpec = { ...(selector ? { selector } : {}), ...(mtls ? { mtls } : {}), ...(portLevelMtls ? { portLevelMtls } : {}) };
	return collector.hasErrors ? undefined : configResource('PeerAuthentication', group, envelope, result, context);
}

export function validateRequestAuthentication(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): RequestAuthenticationResource | undefined {
	const envelope = readEnvelope(document, 'RequestAuthentication', context);
	const { collector } = context;
	const spec = envelope.spec;
	collector.checkFields(spec, ['spec'], ['selector', 'targetRef', 'targetRefs', 'jwtRules']);
	const { selector, targetRefs } = readAttachment(spec, context);
	const jwtRules = list(spec.jwtRules, ['spec', 'jwtRules'], context)
		.map((rule, index) => readJwtRule(rule, ['spec', 'jwtRules', index], context))
		.filter((rule): rule is JwtRule => rule !== undefined);
	const result: RequestAuthenticationSpec = { ...(selector ? { selector } : {}), ...(targetRefs.length > 0 ? { targetRefs } : {}), jwtRules };
	return collector.hasErrors ? undefined : configResource('RequestAuthentication', group, envelope, result, context);
}

export function validateAuthorizationPolicy(document: Readonly<Record<string, unknown>>, context: ConfigValidationContext): AuthorizationPolicyResource | undefined {
	const envelope = readEnvelope(document, 'AuthorizationPolicy', context);
	const { collector } = context;
	const spec = envelope.spec;
	collector.checkFields(spec, ['spec'], ['selector', 'targetRef', 'targetRefs', 'rules', 'action', 'provider']);
	const { selector, targetRefs } = readAttachment(spec, context);
	const action: AuthorizationAction = collector.enumValue(spec.action, ['spec', 'action'], actions) ?? 'ALLOW';
	let provider: { name: string } | undefined;
	if (spec.provider !== undefined && spec.provider !== null) {
		if (isRecord(spec.provider)) {
			collector.checkFields(spec.provider, ['spec', 'provider'], ['name']);
			provider = { name: collector.string(spec.provider.name, ['spec', 'provider', 'name']) ?? '' };
		} else {
			collector.error('schema', ['spec', 'provider'], `Invalid value: ${describeValue(spec.provider)}: must be an object`);
		}
	}

	// proto3 has no presence for repeated fields: `rules: []` reads as absent, as istiod's `in.Rules == nil` sees it.
	const rawRules = list(spec.rules, ['spec', 'rules'], context);
	if (action === 'CUSTOM') {
		if (rawRules.length === 0) {
			collector.error('webhook', ['spec', 'action'], 'CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request');
		} else if (!provider || provider.name === '') {
			collector.error('webhook', provider ? ['spec', 'provider', 'name'] : ['spec', 'action'], '`provider.name` must not be empty',
				'name one of meshConfig.extensionProviders (istio.meshConfig.extensionProviders in meshbox.yaml)');
		}
	}

	if (provider && action !== 'CUSTOM') {
		collector.error('webhook', ['spec', 'provider'], `\`provider\` must not be with non CUSTOM action, found ${action}`, 'drop `provider`, or set action: CUSTOM');
	}

	if (action === 'DENY' && rawRules.length === 0) {
		collector.error('webhook', ['spec', 'action'], 'DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request');
	}

	const rules = rawRules.map((rule, index) => readRule(rule, index, action, context)).filter((rule): rule is AuthorizationRule => rule !== undefined);
	const result: AuthorizationPolicySpec = {
		...(selector ? { selector } : {}), ...(targetRefs.length > 0 ? { targetRefs } : {}), rules, action, ...(provider ? { provider } : {}),
	};
	return collector.hasErrors ? undefined : configResource('AuthorizationPolicy', group, envelope, result, context);
}

// --- Attachment (selector / targetRef / targetRefs) -------------------------------------------------------

function readWorkloadSelector(value: unknown, context: ConfigValidationContext): WorkloadSelector | undefined {
	const labels = readSelector(value, context);
	return labels === undefined ? undefined : { matchLabels: labels };
}

/** validation.go validateOneOfSelectorType, validateWorkloadSelector, validatePolicyTargetReference(s); targetRef folds into targetRefs (policyattachment.go GetTargetRefs). */
function readAttachment(spec: Readonly<Record<string, unknown>>, context: ConfigValidationContext): { selector?: WorkloadSelector; targetRefs: TargetRef[] } {
	const selector = readWorkloadSelector(spec.selector, context);
	const single = spec.targetRef === undefined || spec.targetRef === null ? undefined : readTargetRef(spec.targetRef, ['spec', 'targetRef'], context);
	const many = readTargetRefs(spec.targetRefs, context);
	const set = [selector !== undefined, single !== undefined, many.length > 0].filter(Boolean).length;
	if (set > 1) {
		context.collector.error('webhook', ['spec', selector ? 'selector' : 'targetRefs'], 'only one of targetRefs or workloadSelector can be set',
			'a sidecar is chosen by selector.matchLabels; targetRefs name a Gateway API Gateway (or a Service, for waypoints)');
	}

	return { ...(selector ? { selector } : {}), targetRefs: many.length > 0 ? many : (single ? [single] : []) };
}

// --- AuthorizationPolicy rules ---------------------------------------------------------------------------

function readRule(value: unknown, index: number, action: AuthorizationAction, context: ConfigValidationContext): AuthorizationRule | undefined {
	const { collector } = context;
	const path: FieldPath = ['spec', 'rules', index];
	if (value === null) {
		collector.error('webhook', path, `\`rule\` must not be nil, found at rule ${index}`);
		return undefined;
	}

	if (!isRecord(value)) {
		collector.error('schema', path, `Invalid value: ${describeValue(value)}: must be an object`);
		return undefined;
	}

	collector.checkFields(value, path, ['from', 'to', 'when']);
	const from: Array<{ source: AuthorizationSource }> = [];
	for (const [position, entry] of list(value.from, [...path, 'from'], context).entries()) {
		const at: FieldPath = [...path, 'from', position];
		if (!isRecord(entry)) {
			collector.error('webhook', at, `\`from\` must not be nil, found at rule ${index}`);
			continue;
		}

		collector.checkFields(entry, at, ['source']);
		if (!isRecord(entry.source)) {
			collector.error('webhook', at, `\`from.source\` must not be nil, found at rule ${index}`);
			continue;
		}

		const source = readSource(entry.source, [...at, 'source'], index, context);
		from.push({ source });
		if (action === 'CUSTOM') {
			for (const field of ['namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals'] as const) {
				if ((source[field]?.length ?? 0) > 0) {
					collector.error('webhook', [...at, 'source', field], `From.${field[0]!.toUpperCase()}${field.slice(1)} is currently not supported with CUSTOM action`,
						'a CUSTOM rule only decides whether to ask the ext_authz provider; let the provider check identities, or add an ALLOW/DENY policy');
				}
			}
		}
	}

	const to: Array<{ operation: AuthorizationOperation }> = [];
	for (const [position, entry] of list(value.to, [...path, 'to'], context).entries()) {
		const at: FieldPath = [...path, 'to', position];
		if (!isRecord(entry)) {
			collector.error('webhook', at, `\`to\` must not be nil, found at rule ${index}`);
			continue;
		}

		collector.checkFields(entry, at, ['operation']);
		if (!isRecord(entry.operation)) {
			collector.error('webhook', at, `\`to.operation\` must not be nil, found at rule ${index}`);
			continue;
		}

		to.push({ operation: readOperation(entry.operation, [...at, 'operation'], index, context) });
	}

	const when: AuthorizationCondition[] = [];
	for (const [position, entry] of list(value.when, [...path, 'when'], context).entries()) {
		const condition = readCondition(entry, [...path, 'when', position], action, context);
		if (condition) {
			when.push(condition);
		}
	}

	// validation.go: a DENY rule with only HTTP attributes also denies every TCP connection in scope.
	const tcpInFrom = from.some(({ source }) => ['principals', 'notPrincipals', 'ipBlocks', 'notIpBlocks', 'namespaces', 'notNamespaces', 'remoteIpBlocks', 'notRemoteIpBlocks',
		'serviceAccounts', 'notServiceAccounts'].some(field => source[field as keyof AuthorizationSource] !== undefined));
	const tcpInTo = to.some(({ operation }) => operation.ports !== undefined || operation.notPorts !== undefined);
	if (action === 'DENY' && ((from.length > 0 && to.length === 0 && !tcpInFrom) || (to.length > 0 && !tcpInTo))) {
		collector.warning('webhook', path, 'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port');
	}

	return { ...(from.length > 0 ? { from } : {}), ...(to.length > 0 ? { to } : {}), ...(when.length > 0 ? { when } : {}) };
}

function readSource(value: Record<string, unknown>, path: FieldPath, rule: number, context: ConfigValidationContext): AuthorizationSource {
	const { collector } = context;
	collector.checkFields(value, path, sourceFields);
	const source: Record<string, string[]> = {};
	for (const field of sourceFields) {
		if (value[field] !== undefined && value[field] !== null) {
			const values = strings(value[field], [...path, field], context);
			if (values.length > 0) {
				source[field] = values;
			}
		}
	}

	if (Object.keys(source).length === 0) {
		collector.error('webhook', path, `\`from.source\` must not be empty, found at rule ${rule}`);
	}

	const count = (...fields: string[]) => fields.reduce((sum, field) => sum + (source[field]?.length ?? 0), 0);
	if (count('principals', 'notPrincipals', 'namespaces', 'notNamespaces') > 0 && count('serviceAccounts', 'notServiceAccounts') > 0) {
		collector.error('webhook', [...path, source.serviceAccounts ? 'serviceAccounts' : 'notServiceAccounts'], `cannot set serviceAccounts with namespaces or principals, found at rule ${rule}`);
	}

	for (const field of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
		checkIps(source[field] ?? [], [...path, field], context);
	}

	for (const field of ['principals', 'requestPrincipals', 'namespaces', 'ipBlocks', 'remoteIpBlocks', 'notPrincipals', 'notRequestPrincipals', 'notNamespaces', 'notIpBlocks', 'notRemoteIpBlocks']) {
		checkEmptyValues(capitalize(field), source[field] ?? [], [...path, field], context);
	}

	for (const field of ['serviceAccounts', 'notServiceAccounts']) {
		checkServiceAccounts(capitalize(field), source[field] ?? [], [...path, field], context);
	}

	return source as AuthorizationSource;
}

function readOperation(value: Record<string, unknown>, path: FieldPath, rule: number, context: ConfigValidationContext): AuthorizationOperation {
	const { collector } = context;
	collector.checkFields(value, path, operationFields);
	const operation: Record<string, string[]> = {};
	for (const field of operationFields) {
		if (value[field] !== undefined && value[field] !== null) {
			// The CRD declares ports as strings; YAML `ports: [8080]` is a number the API server rejects.
			const values = strings(value[field], [...path, field], context);
			if (values.length > 0) {
				operation[field] = values;
			}
		}
	}

	if (Object.keys(operation).length === 0) {
		collector.error('webhook', path, `\`to.operation\` must not be empty, found at rule ${rule}`);
	}

	for (const field of ['ports', 'notPorts']) {
		checkPorts(operation[field] ?? [], [...path, field], context);
	}

	for (const field of operationFields) {
		checkEmptyValues(capitalize(field), operation[field] ?? [], [...path, field], context);
	}

	for (const field of ['paths', 'notPaths']) {
		checkPathTemplates(capitalize(field), operation[field] ?? [], [...path, field], context);
	}

	return operation as AuthorizationOperation;
}

const customForbiddenKeys = ['source.namespace', 'source.serviceAccount', 'source.principal'];

function readCondition(value: unknown, path: FieldPath, action: AuthorizationAction, context: ConfigValidationContext): AuthorizationCondition | undefined {
	const { collector } = context;
	if (!isRecord(value)) {
		collector.error('webhook', path, value === null ? 'when field cannot be nil' : `Invalid value: ${describeValue(value)}: must be an object`);
		return undefined;
	}

	collector.checkFields(value, path, ['key', 'values', 'notValues']);
	const key = collector.string(value.key, [...path, 'key']) ?? '';
	const values = value.values === undefined || value.values === null ? [] : strings(value.values, [...path, 'values'], context);
	const notValues = value.notValues === undefined || value.notValues === null ? [] : strings(value.notValues, [...path, 'notValues'], context);
	if (action === 'CUSTOM' && (customForbiddenKeys.includes(key) || key.startsWith('request.auth.'))) {
		collector.error('webhook', [...path, 'key'], `${key} is currently not supported with CUSTOM action`,
			'a CUSTOM rule only decides whether to ask the ext_authz provider; identities are for ALLOW/DENY policies');
	}

	if (key === '') {
		collector.error('webhook', [...path, 'key'], '`key` must not be empty');
	} else if (values.length === 0 && notValues.length === 0) {
		collector.error('webhook', path, `at least one of \`values\` or \`notValues\` must be set for key ${key}`);
	} else {
		const valueError = attributeError(key, values);
		if (valueError) {
			collector.error('webhook', [...path, 'values'], `invalid \`value\` for \`key\` ${key}: ${valueError}`, attributeHint(key));
		}

		const notValueError = attributeError(key, notValues);
		if (notValueError) {
			collector.error('webhook', [...path, 'notValues'], `invalid \`notValue\` for \`key\` ${key}: ${notValueError}`, attributeHint(key));
		}
	}

	return { key, ...(values.length > 0 ? { values } : {}), ...(notValues.length > 0 ? { notValues } : {}) };
}

/** security.go ValidateAttribute: the error text, or undefined. */
export function attributeError(key: string, values: readonly string[]): string | undefined {
	const empty = values.some(value => value === '');
	if (empty) {
		return `empty value not allowed, found in ${key}`;
	}

	const mapKey = () => {
		const open = key.indexOf('[');
		return key.endsWith(']') && open > 0 && open < key.length - 2 ? undefined : `bad key (${key}): should have format a[b]`;
	};
	if (key.startsWith('request.headers')) {
		return mapKey();
	}

	if (key === 'source.ip' || key === 'remote.ip' || key === 'destination.ip') {
		return values.map(ipError).find(Boolean);
	}

	if (key === 'source.serviceAccount') {
		return serviceAccountError(key, values);
	}

	if (['source.namespace', 'source.principal', 'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'connection.sni'].includes(key)) {
		return undefined;
	}

	if (key.startsWith('request.auth.claims') || key.startsWith('experimental.envoy.filters.')) {
		return mapKey();
	}

	if (key === 'destination.port') {
		return values.map(portError).find(Boolean);
	}

	if (key === 'destination.namespace') {
		return `attribute ${key} is replaced by the metadata.namespace`;
	}

	if (key.startsWith('destination.labels')) {
		return `attribute ${key} is replaced by the workload selector`;
	}

	if (key === 'destination.name' || key === 'destination.user') {
		return `deprecated attribute ${key}: only supported in v1alpha1`;
	}

	return `unknown attribute: ${key}`;
}

function attributeHint(key: string): string | undefined {
	if (key.startsWith('request.headers') || key.startsWith('request.auth.claims')) {
		return `name the header or claim in brackets, e.g. ${key.split('[')[0]}[x-user]`;
	}

	return key.includes('.') ? undefined : 'keys are Istio attributes such as request.headers[x-user], source.ip, request.auth.claims[iss], destination.port';
}

// --- RequestAuthentication ----------------------------------------------------------------------------------

function readJwtRule(value: unknown, path: FieldPath, context: ConfigValidationContext): JwtRule | undefined {
	const { collector } = context;
	if (!isRecord(value)) {
		if (value !== null) {
			collector.error('schema', path, `Invalid value: ${describeValue(value)}: must be an object`);
		}

		return undefined;
	}

	collector.checkFields(value, path, jwtRuleFields);
	const issuer = collector.string(value.issuer, [...path, 'issuer']) ?? '';
	const jwksUri = collector.string(value.jwksUri, [...path, 'jwksUri']) ?? '';
	const jwks = collector.string(value.jwks, [...path, 'jwks']) ?? '';
	const audiences = value.audiences === undefined || value.audiences === null ? [] : strings(value.audiences, [...path, 'audiences'], context);
	audiences.forEach((audience, index) => {
		if (audience === '') {
			collector.error('webhook', [...path, 'audiences', index], 'audience must be non-empty string');
		}
	});
	if (issuer === '' && jwksUri === '') {
		collector.error('webhook', path, 'issuer or jwksUri must be non-empty string');
	}

	if (jwksUri !== '') {
		const problem = jwksUriError(jwksUri);
		if (problem) {
			collector.error('webhook', [...path, 'jwksUri'], problem, 'an http:// or https:// URL of a JWKS, e.g. https://issuer.example.com/.well-known/jwks.json');
		}
	}

	if (jwks !== '') {
		const problem = jwksError(jwks);
		if (problem) {
			collector.error('webhook', [...path, 'jwks'], `jwks parse error: ${problem}`, 'a JSON Web Key Set: {"keys": [{"kty": "RSA", "n": "…", "e": "AQAB"}]}');
		}
	}

	const fromHeaders: JwtHeader[] = [];
	for (const [index, entry] of list(value.fromHeaders, [...path, 'fromHeaders'], context).entries()) {
		const at: FieldPath = [...path, 'fromHeaders', index];
		if (!isRecord(entry)) {
			collector.error('webhook', at, 'location header name must be non-null');
			continue;
		}

		collector.checkFields(entry, at, ['name', 'prefix']);
		const name = collector.string(entry.name, [...at, 'name']) ?? '';
		const prefix = collector.string(entry.prefix, [...at, 'prefix']);
		if (name === '') {
			collector.error('webhook', [...at, 'name'], 'location header name must be non-empty string');
		}

		fromHeaders.push({ name, ...(prefix === undefined ? {} : { prefix }) });
	}

	const fromParams = value.fromParams === undefined || value.fromParams === null ? [] : strings(value.fromParams, [...path, 'fromParams'], context);
	fromParams.forEach((param, index) => param === '' && collector.error('webhook', [...path, 'fromParams', index], 'location query must be non-empty string'));
	const fromCookies = value.fromCookies === undefined || value.fromCookies === null ? [] : strings(value.fromCookies, [...path, 'fromCookies'], context);
	fromCookies.forEach((cookie, index) => cookie === '' && collector.error('webhook', [...path, 'fromCookies', index], 'cookie name must be non-empty string'));
	const outputClaimToHeaders: Array<{ header: string; claim: string }> = [];
	for (const [index, entry] of list(value.outputClaimToHeaders, [...path, 'outputClaimToHeaders'], context).entries()) {
		const at: FieldPath = [...path, 'outputClaimToHeaders', index];
		if (!isRecord(entry)) {
			collector.error('webhook', at, 'outputClaimToHeaders must not be null');
			continue;
		}

		collector.checkFields(entry, at, ['header', 'claim']);
		const header = collector.string(entry.header, [...at, 'header']) ?? '';
		const claim = collector.string(entry.claim, [...at, 'claim']) ?? '';
		if (header === '' || claim === '') {
			collector.error('webhook', at, 'outputClaimToHeaders header and claim value must be non-empty string');
			continue;
		}

		// validation.go ValidateStrictHTTPHeaderName: an RFC 7230 token.
		if (!/^[a-zA-Z0-9!#$%&'*+\-.^_`|~]+$/.test(header)) {
			collector.error('webhook', [...at, 'header'], `header name ${JSON.stringify(header)} is not a valid header name`);
		}

		outputClaimToHeaders.push({ header, claim });
	}

	const outputPayloadToHeader = collector.string(value.outputPayloadToHeader, [...path, 'outputPayloadToHeader']);
	const forwardOriginalToken = value.forwardOriginalToken === undefined || value.forwardOriginalToken === null ? undefined : readBoolean(value.forwardOriginalToken, [...path, 'forwardOriginalToken'], context);
	const timeout = collector.string(value.timeout, [...path, 'timeout']);
	if (timeout !== undefined) {
		const ms = durationMs(timeout);
		if (ms === undefined) {
			collector.error('schema', [...path, 'timeout'], `Invalid value: ${JSON.stringify(timeout)}: ${String(parseGoDuration(timeout))}`);
		} else if (ms < 1) {
			collector.error('webhook', [...path, 'timeout'], 'duration must be greater than 1ms');
		}
	}

	const spaceDelimitedClaims = value.spaceDelimitedClaims === undefined || value.spaceDelimitedClaims === null ? undefined : strings(value.spaceDelimitedClaims, [...path, 'spaceDelimitedClaims'], context);
	return {
		issuer,
		...(audiences.length > 0 ? { audiences } : {}),
		...(jwksUri ? { jwksUri } : {}),
		...(jwks ? { jwks } : {}),
		...(fromHeaders.length > 0 ? { fromHeaders } : {}),
		...(fromParams.length > 0 ? { fromParams } : {}),
		...(fromCookies.length > 0 ? { fromCookies } : {}),
		...(outputPayloadToHeader ? { outputPayloadToHeader } : {}),
		...(forwardOriginalToken === undefined ? {} : { forwardOriginalToken }),
		...(outputClaimToHeaders.length > 0 ? { outputClaimToHeaders } : {}),
		...(timeout === undefined ? {} : { timeout }),
		...(spaceDelimitedClaims === undefined ? {} : { spaceDelimitedClaims }),
	};
}

/** security.go ParseJwksURI. */
export function jwksUriError(uri: string): string | undefined {
	let parsed: URL;
	try {
		parsed = new URL(uri);
	} catch {
		return `parse ${JSON.stringify(uri)}: invalid URI`;
	}

	const scheme = parsed.protocol.replace(/:$/, '');
	return scheme === 'http' || scheme === 'https' ? undefined : `URI scheme ${JSON.stringify(scheme)} is not supported`;
}

/** jwk.Parse (lestrrat-go/jwx): a key set `{"keys": [...]}` or a single key, each with `kty`. */
function jwksError(text: string): string | undefined {
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch (error) {
		return `failed to unmarshal JSON: ${(error as Error).message}`;
	}

	const keys = isRecord(parsed) && Array.isArray(parsed.keys) ? parsed.keys : [parsed];
	const bad = keys.findIndex(key => !isRecord(key) || typeof key.kty !== 'string');
	return bad >= 0 ? `key ${bad}: missing or invalid "kty"` : undefined;
}

/** A Duration as istiod reads it (jsonpb: Go's time.ParseDuration, `5s`, `500ms`, `1m30s`), in ms; undefined when malformed. */
export function durationMs(text: string): number | undefined {
	const nanoseconds = parseGoDuration(text);
	return typeof nanoseconds === 'bigint' ? Number(nanoseconds) / 1e6 : undefined;
}

// --- PeerAuthentication --------------------------------------------------------------------------------------

function readMtls(value: unknown, path: FieldPath, context: ConfigValidationContext): { mode?: MtlsMode } | undefined {
	if (value === undefined || value === null) {
		return undefined;
	}

	if (!isRecord(value)) {
		context.collector.error('schema', path, `Invalid value: ${describeValue(value)}: must be an object`);
		return undefined;
	}

	context.collector.checkFields(value, path, ['mode']);
	const mode = context.collector.enumValue(value.mode, [...path, 'mode'], mtlsModes);
	return mode === undefined ? {} : { mode };
}

// --- security.go helpers ---------------------------------------------------------------------------------------

function checkEmptyValues(key: string, values: readonly string[], path: FieldPath, context: ConfigValidationContext): void {
	const index = values.indexOf('');
	if (index >= 0) {
		context.collector.error('webhook', [...path, index], `empty value not allowed, found in ${key}`);
	}
}

function serviceAccountError(key: string, values: readonly string[]): string | undefined {
	if (values.length > 16) {
		return 'may not have more than 16 values';
	}

	for (const value of values) {
		if (value === '') {
			return `empty value not allowed, found in ${key}`;
		}

		if (value.includes('*')) {
			return `wildcard not allowed, found in ${key}`;
		}

		const slashes = value.split('/').length - 1;
		if (slashes > 1) {
			return `expected format 'serviceAccount' or 'namespace/serviceAccount', found ${JSON.stringify(value)} in ${key}`;
		}

		if (value.length > 320) {
			return `value cannot exceed 320 characters, found ${JSON.stringify(value)} in ${key}`;
		}

		const [namespace, account] = slashes === 1 ? value.split('/') as [string, string] : ['x', value];
		if (namespace === '') {
			return `expected format 'serviceAccount' or 'namespace/serviceAccount', found empty namespace ${JSON.stringify(value)} in ${key}`;
		}

		if (account === '') {
			return `expected format 'serviceAccount' or 'namespace/serviceAccount', found empty serviceAccount ${JSON.stringify(value)} in ${key}`;
		}
	}

	return undefined;
}

function checkServiceAccounts(key: string, values: readonly string[], path: FieldPath, context: ConfigValidationContext): void {
	const problem = serviceAccountError(key, values);
	if (problem) {
		context.collector.error('webhook', path, problem, 'e.g. serviceAccounts: [my-sa, other-namespace/their-sa]');
	}
}

function ipError(value: string): string | undefined {
	if (value.includes('/')) {
		const [address, bits] = value.split('/', 2) as [string, string];
		const max = address.includes(':') ? 128 : 32;
		return isIp(address) && /^\d+$/.test(bits) && Number(bits) <= max ? undefined : `bad CIDR range (${value}): netip.ParsePrefix(${JSON.stringify(value)}): invalid prefix`;
	}

	return isIp(value) ? undefined : `bad IP address (${value})`;
}

function isIp(value: string): boolean {
	if (/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) {
		return value.split('.').every(part => Number(part) <= 255 && (part === '0' || !part.startsWith('0')));
	}

	return value.includes(':') && /^[0-9a-fA-F:.]+$/.test(value) && value.split('::').length <= 2;
}

function checkIps(values: readonly string[], path: FieldPath, context: ConfigValidationContext): void {
	values.forEach((value, index) => {
		const problem = ipError(value);
		if (problem) {
			context.collector.error('webhook', [...path, index], problem, 'an IP address (10.1.2.3) or a CIDR range (10.1.0.0/16)');
		}
	});
}

function portError(value: string): string | undefined {
	return /^\d+$/.test(value) && Number(value) <= 65_535 ? undefined : `bad port (${value}): ${/^\d+$/.test(value) ? 'out of range' : `strconv.ParseUint: parsing ${JSON.stringify(value)}: invalid syntax`}`;
}

function checkPorts(values: readonly string[], path: FieldPath, context: ConfigValidationContext): void {
	values.forEach((value, index) => {
		const problem = portError(value);
		if (problem) {
			context.collector.error('webhook', [...path, index], problem, 'ports are port numbers 0..65535, written as strings: ports: ["8080"]');
		}
	});
}

export function containsPathTemplate(value: string): boolean {
	return value.includes(matchOneTemplate) || value.includes(matchAnyTemplate);
}

/** security.go CheckValidPathTemplate: `{*}` one segment, `{**}` the rest (last operator only), literals elsewhere. */
export function pathTemplateError(key: string, value: string): string | undefined {
	const templated = containsPathTemplate(value);
	let foundAny = false;
	const trimmed = value.replace(/^\/+|\/+$/g, '');
	for (const glob of trimmed.split('/')) {
		if (glob === matchOneTemplate && !foundAny) {
			continue;
		}

		if (glob === matchAnyTemplate && !foundAny) {
			foundAny = true;
			continue;
		}

		if ((glob === matchAnyTemplate || glob === matchOneTemplate) && foundAny) {
			return `invalid or unsupported path ${trimmed}, found in ${key}. {**} is not the last operator`;
		}

		if (/[{}]/.test(glob)) {
			return `invalid or unsupported path ${trimmed}, found in ${key}. Contains '{' or '}' beyond a supported path template`;
		}

		if (templated && !validLiteral.test(glob)) {
			return `invalid or unsupported path ${trimmed}, found in ${key}. Contains segment ${glob} with invalid string literal`;
		}
	}

	return undefined;
}

function checkPathTemplates(key: string, values: readonly string[], path: FieldPath, context: ConfigValidationContext): void {
	values.forEach((value, index) => {
		const problem = pathTemplateError(key, value);
		if (problem) {
			context.collector.error('webhook', [...path, index], problem, '{*} matches one path segment and {**} the rest of the path; {**} must be the last operator, e.g. /api/{*}/items/{**}');
		}
	});
}

// --- Small readers ----------------------------------------------------------------------------------------------

function list(value: unknown, path: FieldPath, context: ConfigValidationContext): unknown[] {
	if (value === undefined || value === null) {
		return [];
	}

	if (!Array.isArray(value)) {
		context.collector.error('schema', path, `Invalid value: ${describeValue(value)}: must be a list`);
		return [];
	}

	return value;
}

function strings(value: unknown, path: FieldPath, context: ConfigValidationContext): string[] {
	return list(value, path, context).flatMap((entry, index) => {
		if (typeof entry !== 'string') {
			context.collector.error('schema', [...path, index], `Invalid value: ${describeValue(entry)}: must be a string`,
				typeof entry === 'number' ? `quote it: "${entry}" (the CRD declares these values as strings)` : undefined);
			return [];
		}

		return [entry];
	});
}

function readBoolean(value: unknown, path: FieldPath, context: ConfigValidationContext): boolean | undefined {
	if (typeof value !== 'boolean') {
		context.collector.error('schema', path, `Invalid value: ${describeValue(value)}: must be a boolean`);
		return undefined;
	}

	return value;
}

function capitalize(field: string): string {
	return `${field[0]!.toUpperCase()}${field.slice(1)}`;
}
