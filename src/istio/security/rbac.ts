/**
 * One AuthorizationPolicy rule → one Envoy RBAC `Policy`, exactly as istiod generates it (Envoy JSON, snake_case):
 * pilot/pkg/security/authz/model/model.go (`New`: which attribute goes to permissions or principals, and in which
 * order), generator.go (one generator per attribute), permission.go / principal.go, util.go, and the matchers in
 * pilot/pkg/security/authz/matcher/*.go. Identical in Istio 1.25–1.30.
 */
import type { JsonObject } from '../../util/json.ts';
import { containsPathTemplate, matchAnyTemplate, matchOneTemplate } from './validate.ts';
import type { AuthorizationRule } from './types.ts';

/** pilot/pkg/xds/filters/filters.go EnvoyJwtFilterName / EnvoyJwtFilterPayload: where RBAC reads JWT claims. */
export const jwtFilterName = 'envoy.filters.http.jwt_authn';
export const jwtPayloadKey = 'payload';
const spiffePrefix = 'spiffe://';
const uriTemplateType = 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig';

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

type Matcher = JsonObject;

/** matcher/string.go StringMatcherWithPrefix (and StringMatcher with no prefix). */
export function stringMatcher(value: string, prefix = ''): Matcher {
	if (value === '*') {
		return { safe_regex: { regex: '.+' } };
	}

	if (value.startsWith('*')) {
		return prefix === '' ? { suffix: value.slice(1) } : { safe_regex: { regex: `${prefix}.*${value.slice(1)}` } };
	}

	if (value.endsWith('*')) {
		return { prefix: prefix + value.slice(0, -1) };
	}

	return { exact: prefix + value };
}

const withCase = (matcher: Matcher, ignoreCase: boolean): Matcher => (ignoreCase ? { ...matcher, ignore_case: true } : matcher);

/** matcher/header.go HeaderMatcher (ignoreCase false) and HostMatcher (ignoreCase true). */
function headerMatcher(name: string, value: string, ignoreCase = false): JsonObject {
	if (value === '*') {
		return { name, present_match: true };
	}

	if (value.startsWith('*')) {
		return { name, string_match: withCase({ suffix: value.slice(1) }, ignoreCase) };
	}

	if (value.endsWith('*')) {
		return { name, string_match: withCase({ prefix: value.slice(0, -1) }, ignoreCase) };
	}

	return { name, string_match: withCase({ exact: value }, ignoreCase) };
}

/** pilot/pkg/networking/util AddrStrToCidrRange. */
function cidr(value: string): JsonObject {
	const [prefix, bits] = value.includes('/') ? value.split('/', 2) as [string, string] : [value, value.includes(':') ? '128' : '32'];
	return { address_prefix: prefix, prefix_len: Number(bits) };
}

/** matcher/string.go OrMatcher. */
function orMatcher(matchers: JsonObject[]): JsonObject {
	return matchers.length === 1 ? matchers[0]! : { or_match: { value_matchers: matchers } };
}

function stringOrMatcher(values: readonly string[]): JsonObject {
	return orMatcher(values.map(value => ({ string_match: stringMatcher(value) })));
}

/** matcher/metadata.go MetadataListValueMatcher with useExtendedJwt (util.go MetadataListValueMatcherForJWTClaims). */
function jwtClaimsMatcher(claims: readonly string[], value: JsonObject): JsonObject {
	return {
		filter: jwtFilterName,
		path: [jwtPayloadKey, ...claims].map(key => ({ key })),
		value: { or_match: { value_matchers: [{ list_match: { one_of: value } }, value] } },
	};
}

/** util.go MetadataStringMatcherForJWTClaim. */
function jwtClaimMatcher(claim: string, matcher: Matcher): JsonObject {
	return { filter: jwtFilterName, path: [{ key: jwtPayloadKey }, { key: claim }], value: { string_match: matcher } };
}

const and = (rules: JsonObject[]): JsonObject => ({ and_rules: { rules } });
const or = (rules: JsonObject[]): JsonObject => ({ or_rules: { rules } });
const not = (rule: JsonObject): JsonObject => ({ not_rule: rule });
const andIds = (ids: JsonObject[]): JsonObject => ({ and_ids: { ids } });
const orIds = (ids: JsonObject[]): JsonObject => ({ or_ids: { ids } });
const notId = (id: JsonObject): JsonObject => ({ not_id: id });
/** principal.go principalAuthenticated with useAuthenticated (sidecars and gateways; waypoints use filter state). */
const authenticated = (matcher: Matcher): JsonObject => ({ authenticated: { principal_name: matcher } });

/** util.go extractNameInBrackets / extractNameInNestedBrackets. */
function namesInBrackets(text: string): string[] | undefined {
	const nested = [...text.matchAll(/\[([^[\]]*)\]/g)];
	if (nested.length > 0 && nested.map(match => match[0]).join('') === text) {
		return nested.map(match => match[1]!);
	}

	return text.startsWith('[') && text.endsWith(']') ? [text.slice(1, -1)] : undefined;
}

/** A generator: one value → one permission or principal (generator.go), or many values at once (extended). */
type Generator =
	| { readonly kind: 'permission'; readonly one: (value: string) => JsonObject | undefined }
	| { readonly kind: 'principal'; readonly one: (value: string) => JsonObject | undefined }
	| { readonly kind: 'permission-extended'; readonly many: (values: readonly string[]) => JsonObject | undefined }
	| { readonly kind: 'principal-extended'; readonly many: (values: readonly string[]) => JsonObject | undefined };

type Rule = { readonly key: string; readonly values: readonly string[]; readonly notValues: readonly string[]; readonly generator: Generator };

const generators = {
	destinationIp: { kind: 'permission', one: value => ({ destination_ip: cidr(value) }) },
	destinationPort: { kind: 'permission', one: value => ({ destination_port: Number(value) }) },
	connectionSni: { kind: 'permission', one: value => ({ requested_server_name: stringMatcher(value) }) },
	sourceIp: { kind: 'principal', one: value => ({ direct_remote_ip: cidr(value) }) },
	remoteIp: { kind: 'principal', one: value => ({ remote_ip: cidr(value) }) },
	sourceNamespace: { kind: 'principal', one: value => authenticated({ safe_regex: { regex: `.*/ns/${value.replaceAll('*', '.*')}/.*` } }) },
	sourcePrincipal: { kind: 'principal', one: value => authenticated(stringMatcher(value, spiffePrefix)) },
	host: { kind: 'permission', one: value => ({ header: headerMatcher(':authority', value, true) }) },
	method: { kind: 'permission', one: value => ({ header: headerMatcher(':method', value) }) },
	path: { kind: 'permission', one: (value): JsonObject => (containsPathTemplate(value)
		? { uri_template: { name: 'uri-template', typed_config: { '@type': uriTemplateType, path_template: value.replaceAll(matchAnyTemplate, '**').replaceAll(matchOneTemplate, '*') } } }
		: { url_path: { path: stringMatcher(value) } }) },
	requestPrincipal: { kind: 'principal-extended', many: values => {
		const matchAny: Matcher = { safe_regex: { regex: '.+' } };
		const ids = values.map(value => {
			const slash = value.lastIndexOf('/');
			const found = slash >= 0;
			const [issuer, subject] = found ? [value.slice(0, slash), value.slice(slash + 1)] : [value, ''];
			let matchIssuer: Matcher;
			let matchSubject: Matcher;
			if (value === '*') {
				[matchIssuer, matchSubject] = [matchAny, matchAny];
			} else if (value.startsWith('*')) {
				[matchIssuer, matchSubject] = found
					? [issuer === '*' ? matchAny : { suffix: issuer.slice(1) }, { exact: subject }]
					: [matchAny, { suffix: value.slice(1) }];
			} else if (value.endsWith('*')) {
				[matchIssuer, matchSubject] = found
					? [{ exact: issuer }, subject === '*' ? matchAny : { prefix: subject.slice(0, -1) }]
					: [{ prefix: value.slice(0, -1) }, matchAny];
			} else {
				[matchIssuer, matchSubject] = [{ exact: issuer }, { exact: subject }];
			}

			return andIds([{ metadata: jwtClaimMatcher('iss', matchIssuer) }, { metadata: jwtClaimMatcher('sub', matchSubject) }]);
		});
		return ids.length === 1 ? ids[0] : (ids.length > 0 ? orIds(ids) : undefined);
	} },
	requestAudiences: { kind: 'principal-extended', many: values => ({ metadata: jwtClaimsMatcher(['aud'], stringOrMatcher(values)) }) },
	requestPresenter: { kind: 'principal-extended', many: values => ({ metadata: jwtClaimsMatcher(['azp'], stringOrMatcher(values)) }) },
} satisfies Record<string, Generator>;

/** generator.go srcServiceAccountGenerator: `ns/sa`, or `sa` in the policy's namespace. */
function serviceAccountGenerator(policyNamespace: string): Generator {
	return { kind: 'principal', one: value => {
		const [namespace, account] = value.includes('/') ? value.split('/', 2) as [string, string] : [policyNamespace, value];
		return authenticated({ safe_regex: { regex: `spiffe://.+/ns/${namespace}/(.+/|)sa/${account}(/.+)?` } });
	} };
}

function requestHeaderGenerator(key: string): Generator {
	const names = namesInBrackets(key.slice('request.headers'.length));
	return { kind: 'principal', one: value => (names && names.length === 1 ? { header: headerMatcher(names[0]!, value) } : undefined) };
}

function claimsGenerator(key: string): Generator {
	const claims = namesInBrackets(key.slice('request.auth.claims'.length));
	return { kind: 'principal-extended', many: values => (claims ? { metadata: jwtClaimsMatcher(claims, stringOrMatcher(values)) } : undefined) };
}

/** generator.go envoyFilterGenerator (experimental.envoy.filters.<filter>[<key>]): dynamic metadata of another filter. */
function envoyFilterGenerator(key: string): Generator {
	const trimmed = key.slice('experimental.'.length).replace(/\]$/, '');
	const open = trimmed.indexOf('[');
	return { kind: 'permission-extended', many: values => {
		if (open < 0) {
			return undefined;
		}

		const matchers = values.map((value): JsonObject => (value.startsWith('[') && value.endsWith(']')
			? { list_match: { one_of: { string_match: stringMatcher(value.slice(1, -1)) } } }
			: { string_match: stringMatcher(value) }));
		return { metadata: { filter: trimmed.slice(0, open), path: [{ key: trimmed.slice(open + 1) }], value: orMatcher(matchers) } };
	} };
}

/** model.go New: a `when` key's generator, and whether it is a permission (destination) or principal (source) attribute. */
function conditionGenerator(key: string, policyNamespace: string): Generator | undefined {
	switch (key) {
		case 'destination.ip': return generators.destinationIp;
		case 'destination.port': return generators.destinationPort;
		case 'connection.sni': return generators.connectionSni;
		case 'source.ip': return generators.sourceIp;
		case 'remote.ip': return generators.remoteIp;
		case 'source.namespace': return generators.sourceNamespace;
		case 'source.serviceAccount': return serviceAccountGenerator(policyNamespace);
		case 'source.principal': return generators.sourcePrincipal;
		case 'request.auth.principal': return generators.requestPrincipal;
		case 'request.auth.audiences': return generators.requestAudiences;
		case 'request.auth.presenter': return generators.requestPresenter;
		default:
			if (key.startsWith('experimental.envoy.filters.')) {
				return envoyFilterGenerator(key);
			}

			if (key.startsWith('request.headers')) {
				return requestHeaderGenerator(key);
			}

			if (key.startsWith('request.auth.claims')) {
				return claimsGenerator(key);
			}

			return undefined;
	}
}

const isPermission = (generator: Generator) => generator.kind === 'permission' || generator.kind === 'permission-extended';

/** model.go rule.permission / rule.principal: values OR'ed, notValues NOT(OR); extended generators take all values at once. */
function generate(rule: Rule): JsonObject[] {
	const { generator } = rule;
	const out: JsonObject[] = [];
	const combine = isPermission(generator) ? or : orIds;
	const negate = isPermission(generator) ? not : notId;
	if (generator.kind === 'permission-extended' || generator.kind === 'principal-extended') {
		const positive = rule.values.length > 0 ? generator.many(rule.values) : undefined;
		if (positive) {
			out.push(positive);
		}

		const negative = rule.notValues.length > 0 ? generator.many(rule.notValues) : undefined;
		if (negative) {
			out.push(negate(negative));
		}

		return out;
	}

	const positives = rule.values.map(value => generator.one(value)).filter((entry): entry is JsonObject => entry !== undefined);
	if (positives.length > 0) {
		out.push(combine(positives));
	}

	const negatives = rule.notValues.map(value => generator.one(value)).filter((entry): entry is JsonObject => entry !== undefined);
	if (negatives.length > 0) {
		out.push(negate(combine(negatives)));
	}

	return out;
}

/**
 * model.go New + Generate: the RBAC Policy of one rule. `from` entries become principals (OR'ed), `to` entries
 * permissions (OR'ed); within one entry every attribute is AND'ed, source fields inserted before the `when`
 * conditions in the order principals, requestPrincipals, serviceAccounts, namespaces, remoteIpBlocks, ipBlocks, and
 * operation fields as hosts, methods, paths, ports.
 */
export function rulePolicy(rule: AuthorizationRule, policyNamespace: string, trustDomain = 'cluster.local'): JsonObject {
	const principals = (values: readonly string[] | undefined) => values?.map(value => migrateTrustDomain(value, trustDomain));
	const basePermission: Rule[] = [];
	const basePrincipal: Rule[] = [];
	for (const condition of rule.when ?? []) {
		const generator = conditionGenerator(condition.key, policyNamespace);
		if (!generator) {
			continue;
		}

		const migrate = condition.key === 'source.principal' ? principals : (values: readonly string[] | undefined) => values;
		const entry: Rule = { key: condition.key, values: migrate(condition.values) ?? [], notValues: migrate(condition.notValues) ?? [], generator };
		if (entry.values.length === 0 && entry.notValues.length === 0) {
			continue;
		}

		(isPermission(generator) ? basePermission : basePrincipal).push(entry);
	}

	const front = (list: Rule[], key: string, generator: Generator, values: readonly string[] | undefined, notValues: readonly string[] | undefined): void => {
		if ((values?.length ?? 0) > 0 || (notValues?.length ?? 0) > 0) {
			list.unshift({ key, values: values ?? [], notValues: notValues ?? [], generator });
		}
	};

	const sources: Rule[][] = (rule.from ?? []).map(({ source }) => {
		const merged = [...basePrincipal];
		front(merged, 'source.ip', generators.sourceIp, source.ipBlocks, source.notIpBlocks);
		front(merged, 'remote.ip', generators.remoteIp, source.remoteIpBlocks, source.notRemoteIpBlocks);
		front(merged, 'source.namespace', generators.sourceNamespace, source.namespaces, source.notNamespaces);
		front(merged, 'source.serviceAccount', serviceAccountGenerator(policyNamespace), source.serviceAccounts, source.notServiceAccounts);
		front(merged, 'request.auth.principal', generators.requestPrincipal, source.requestPrincipals, source.notRequestPrincipals);
		front(merged, 'source.principal', generators.sourcePrincipal, principals(source.principals), principals(source.notPrincipals));
		return merged;
	});
	if (sources.length === 0) {
		sources.push(basePrincipal);
	}

	const permissions: Rule[][] = (rule.to ?? []).map(({ operation }) => {
		const merged = [...basePermission];
		front(merged, 'destination.port', generators.destinationPort, operation.ports, operation.notPorts);
		front(merged, ':path', generators.path, operation.paths, operation.notPaths);
		front(merged, ':method', generators.method, operation.methods, operation.notMethods);
		front(merged, ':authority', generators.host, operation.hosts, operation.notHosts);
		return merged;
	});
	if (permissions.length === 0) {
		permissions.push(basePermission);
	}

	// model.go generatePermission / generatePrincipal: an entry with nothing to match matches anything.
	const build = (list: readonly Rule[], wrap: (parts: JsonObject[]) => JsonObject) => {
		const parts = list.flatMap(generate);
		return wrap(parts.length > 0 ? parts : [{ any: true }]);
	};
	return { permissions: permissions.map(list => build(list, and)), principals: sources.map(list => build(list, andIds)) };
}

/** pilot/pkg/security/trustdomain/util.go stringMatch with prefixMatch / suffixMatch (`*` at either end). */
function trustDomainMatches(a: string, pattern: string): boolean {
	const prefix = (value: string, of: string) => of.endsWith('*') && value.startsWith(of.slice(0, -1));
	const suffix = (value: string, of: string) => of.startsWith('*') && value.endsWith(of.slice(1));
	return a === pattern || pattern === '*' || prefix(a, pattern) || prefix(pattern, a) || suffix(a, pattern) || suffix(pattern, a);
}

/**
 * trustdomain/bundle.go ReplaceTrustDomainAliases with the mesh's trust domain and no aliases (model.go
 * MigrateTrustDomain): a principal `<td>/ns/<ns>/sa/<sa>` whose trust domain is the mesh's or the default
 * `cluster.local` is rewritten to the mesh's trust domain; anything else stays.
 */
export function migrateTrustDomain(principal: string, trustDomain: string): string {
	const parts = principal.split('/');
	if (parts.length !== 5 || parts[0] === '*') {
		return principal;
	}

	const from = parts[0]!;
	if (!trustDomainMatches(from, trustDomain) && from !== 'cluster.local') {
		return principal;
	}

	return from.startsWith('*') && trustDomain.endsWith(from.slice(1)) ? principal : [trustDomain, ...parts.slice(1)].join('/');
}

/** builder.go rbacPolicyMatchNever: a policy without rules (an ALLOW that allows nothing). */
export const matchNeverPolicy: JsonObject = {
	permissions: [{ not_rule: { any: true } }],
	principals: [{ not_id: { any: true } }],
};
