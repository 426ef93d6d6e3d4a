/**
 * AuthorizationPolicy → Envoy RBAC and ext_authz HTTP filters, as istiod builds them for the emulated release:
 * pilot/pkg/security/authz/builder/builder.go (one RBAC filter per action, AUDIT then DENY then ALLOW; CUSTOM as
 * a shadow RBAC filter + ext_authz gated by filter_enabled_metadata; a policy without rules matches nothing; dry-run
 * policies as shadow rules), builder/extauthz.go (meshConfig extensionProviders envoyExtAuthzHttp/Grpc), and
 * ./rbac.ts for each rule. The builder's testdata (*-in.yaml / *-out.yaml) are the oracles of
 * test/istio/security-table.test.ts.
 */
import type { MeshEndpointRef, ProxyClusterModel, SidecarFilter } from '../../config/model.ts';
import { typeUrls } from '../../envoy-api/type-urls.ts';
import type { JsonObject } from '../../util/json.ts';
import type { AuthorizationPolicyResource } from '../config-resources.ts';
import type { VersionTraits } from '../version.ts';
import { matchNeverPolicy, rulePolicy, type RbacAction } from './rbac.ts';
import type { ExtAuthzGrpcProvider, ExtAuthzHttpProvider, MeshConfigSpec } from './types.ts';
import { durationMs } from './validate.ts';

const extAuthzType = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
/** pilot/pkg/security/authz/model/model.go. */
const statPrefixes = { allow: 'istio_dry_run_allow_', deny: 'istio_dry_run_deny_', extAuthz: 'istio_ext_authz_' } as const;
const shadowEffectivePolicyId = 'shadow_effective_policy_id';
/** builder/extauthz.go. */
const extAuthzMatchPrefix = 'istio-ext-authz';
const badCustomActionSuffix = '-deny-due-to-bad-CUSTOM-action';
/** annotation.IoIstioDryRun. */
export const dryRunAnnotation = 'istio.io/dry-run';

/** How istiod's model.LookupCluster finds a provider's service: its hostname, cluster name and where it is. */
export type ServiceLookup = (service: string, port: number) => { readonly hostname: string; readonly cluster: string; readonly endpoints: readonly MeshEndpointRef[] } | undefined;

export type AuthzBuild = {
	/** CUSTOM: [shadow RBAC, ext_authz] per provider, or a deny RBAC when the provider is unusable. */
	readonly custom: SidecarFilter[];
	/** AUDIT, DENY, ALLOW RBAC filters (those with policies). */
	readonly local: SidecarFilter[];
	/** The ext_authz providers' clusters. */
	readonly clusters: ProxyClusterModel[];
	readonly notes: string[];
};

export type AuthzOptions = {
	readonly traits: VersionTraits;
	readonly meshConfig: MeshConfigSpec;
	readonly lookupService: ServiceLookup;
};

const origin = (policy: AuthorizationPolicyResource) => `AuthorizationPolicy ${policy.namespace}/${policy.name} (${policy.origin.file}:${policy.origin.line})`;

function isDryRun(policy: AuthorizationPolicyResource, notes: string[]): boolean {
	const value = policy.annotations[dryRunAnnotation];
	if (value === undefined) {
		return false;
	}

	// Go's strconv.ParseBool.
	if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) {
		return true;
	}

	if (!['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) {
		notes.push(`istiod: ${origin(policy)}: failed to parse the value of ${dryRunAnnotation}: ${JSON.stringify(value)} is not a boolean; enforced`);
	}

	return false;
}

/** 1.30 names CUSTOM rules per provider (builder.go policyName) so one workload may use several providers. */
const customNamesProvider = (traits: VersionTraits) => Number(traits.version.split('.')[1]) >= 30;

function policyName(policy: AuthorizationPolicyResource, rule: number, custom: { provider: string; traits: VersionTraits } | undefined): string {
	const prefix = !custom ? '' : (customNamesProvider(custom.traits) && custom.provider ? `${extAuthzMatchPrefix}-${custom.provider}-` : `${extAuthzMatchPrefix}-`);
	return `${prefix}ns[${policy.namespace}]-policy[${policy.name}]-rule[${rule}]`;
}

type RuleSet = { readonly action: RbacAction; readonly policies: Record<string, JsonObject>; readonly origins: string[] };

function addPolicy(set: RuleSet, policy: AuthorizationPolicyResource, custom: { provider: string; traits: VersionTraits } | undefined, trustDomain: string): void {
	const rules = policy.spec.rules ?? [];
	rules.forEach((rule, index) => {
		set.policies[policyName(policy, index, custom)] = rulePolicy(rule, policy.namespace, trustDomain);
	});
	if (rules.length === 0) {
		// builder.go: a policy without rules gets an explicit policy that never matches.
		set.policies[policyName(policy, 0, custom)] = matchNeverPolicy;
	}

	set.origins.push(`${origin(policy)}${rules.length === 0 ? ' (no rules: matches nothing)' : (rules.length === 1 ? ' rule 0' : ` rules 0-${rules.length - 1}`)}`);
}

const rbacAction = (action: 'ALLOW' | 'DENY' | 'AUDIT'): RbacAction => (action === 'AUDIT' ? 'LOG' : action);

/** Envoy JSON of an RBAC `rules` message: `action` ALLOW is the proto default and left out, as protojson does. */
const rulesJson = (set: RuleSet): JsonObject => ({ ...(set.action === 'ALLOW' ? {} : { action: set.action }), policies: set.policies });

/** builder.go shadowRuleStatPrefix: of the shadow rules' action; no shadow rules read as ALLOW (the proto default). */
function shadowStatPrefix(shadow: RuleSet | undefined): string | undefined {
	const action = shadow?.action ?? 'ALLOW';
	return action === 'ALLOW' ? statPrefixes.allow : (action === 'DENY' ? statPrefixes.deny : undefined);
}

function rbacFilter(config: JsonObject, comment: string): SidecarFilter {
	return { kind: 'typed', name: 'envoy.filters.http.rbac', typedConfig: { '@type': typeUrls.httpRbac, ...config }, comment };
}

/** The AUDIT, DENY and ALLOW filters (builder.go build / buildHTTP for non-CUSTOM actions). */
function localFilters(policies: readonly AuthorizationPolicyResource[], trustDomain: string, notes: string[]): SidecarFilter[] {
	const filters: SidecarFilter[] = [];
	for (const action of ['AUDIT', 'DENY', 'ALLOW'] as const) {
		const ofAction = policies.filter(policy => policy.spec.action === action);
		if (ofAction.length === 0) {
			continue;
		}

		const enforce: RuleSet = { action: rbacAction(action), policies: {}, origins: [] };
		const shadow: RuleSet = { action: rbacAction(action), policies: {}, origins: [] };
		for (const policy of ofAction) {
			addPolicy(isDryRun(policy, notes) ? shadow : enforce, policy, undefined, trustDomain);
		}

		const rules = enforce.origins.length > 0 ? enforce : undefined;
		const shadowRules = shadow.origins.length > 0 ? shadow : undefined;
		const prefix = shadowStatPrefix(shadowRules);
		const comment = [`Istio RBAC for ${action}: ${[...enforce.origins].join('; ')}`, ...(shadowRules ? [`dry-run (shadow): ${shadow.origins.join('; ')}`] : [])].join('; ');
		filters.push(rbacFilter({
			...(rules ? { rules: rulesJson(rules) } : {}),
			...(shadowRules ? { shadow_rules: rulesJson(shadowRules) } : {}),
			...(prefix ? { shadow_rules_stat_prefix: prefix } : {}),
		}, comment));
	}

	return filters;
}

type BuiltProvider = { readonly filter?: JsonObject; readonly cluster?: ProxyClusterModel; readonly error?: string };

/** extauthz.go processExtensionProvider: each provider built once, with its errors. */
function resolveProviders(meshConfig: MeshConfigSpec, options: AuthzOptions): Map<string, BuiltProvider> {
	const resolved = new Map<string, BuiltProvider>();
	meshConfig.extensionProviders.forEach((provider, index) => {
		const errors: string[] = [];
		if (provider.name === '') {
			errors.push(`extension provider name must not be empty, found empty at index: ${index}`);
		} else if (resolved.has(provider.name)) {
			errors.push(`extension provider name must be unique, found duplicate: ${provider.name}`);
		}

		// 1.30 (extauthz.go validateProviderName): the name goes into metadata keys and policy names.
		const nameProblem = customNamesProvider(options.traits) && provider.name !== '' ? providerNameError(provider.name) : undefined;
		if (nameProblem) {
			errors.push(`invalid provider name ${JSON.stringify(provider.name)}: ${nameProblem}`);
		}

		if ('other' in provider) {
			return;
		}

		const built = 'envoyExtAuthzHttp' in provider ? buildHttp(provider.envoyExtAuthzHttp, options) : buildGrpc(provider.envoyExtAuthzGrpc, options);
		if (built.error) {
			errors.push(`failed to parse extension provider ${JSON.stringify(provider.name)}: ${built.error}`);
		}

		resolved.set(provider.name, errors.length > 0 ? { error: errors.join('; ') } : built);
	});
	return resolved;
}

function providerNameError(name: string): string | undefined {
	if (name.length > 63) {
		return `provider name too long (max 63 characters): ${name.length}`;
	}

	for (const [index, character] of [...name].entries()) {
		if (/[A-Z]/.test(character)) {
			return `uppercase letters not allowed (use lowercase): character '${character}' at position ${index}`;
		}

		if (!/[a-z0-9-]/.test(character)) {
			return `invalid character '${character}' at position ${index} (only lowercase letters, digits, and hyphens allowed)`;
		}
	}

	return name.startsWith('-') || name.endsWith('-') ? 'provider name cannot start or end with hyphen' : undefined;
}

function lookup(service: string, port: number, options: AuthzOptions, grpc: boolean): { hostname: string; cluster: ProxyClusterModel } | string {
	if (!(port >= 1 && port <= 65_535)) {
		return `port must be in the range [1, 65535], found: ${port}`;
	}

	const found = options.lookupService(service, port);
	if (!found) {
		return `could not find service ${service} in Istio service registry (meshbox: on a single sidecar, declare a cluster named ${service} or ${service.split('.')[0]} under \`clusters:\`, e.g. a mockService())`;
	}

	return {
		hostname: found.hostname,
		cluster: {
			name: found.cluster, endpoints: found.endpoints, fields: {}, ...(grpc ? { protocol: 'http2' as const } : {}),
			comment: `meshConfig extension provider service ${service}:${port} (ext_authz)`,
		},
	};
}

function timeout(text: string | undefined): string {
	const ms = text === undefined ? undefined : durationMs(text);
	return ms === undefined ? '600s' : `${ms / 1000}s`;
}

/** envoy.type.v3.StatusCode names of the codes a provider usually answers with on error (Envoy JSON takes names or numbers). */
const statusNames: Readonly<Record<number, string>> = {
	200: 'OK', 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 429: 'TooManyRequests',
	500: 'InternalServerError', 502: 'BadGateway', 503: 'ServiceUnavailable', 504: 'GatewayTimeout',
};

function statusOnError(text: string | undefined): JsonObject | string | undefined {
	if (text === undefined || text === '') {
		return undefined;
	}

	const code = Number(text);
	// envoy.type.v3.StatusCode: 100..511 named codes (the proto enum; unknown numbers are refused).
	return Number.isInteger(code) && code >= 100 && code <= 511 ? { code: statusNames[code] ?? code } : `unsupported statusOnError ${text}`;
}

/** extauthz.go generateHeaders. */
function headerPatterns(headers: readonly string[] | undefined): JsonObject | undefined {
	if (!headers || headers.length === 0) {
		return undefined;
	}

	return { patterns: headers.map((header): JsonObject => (header.startsWith('*') ? { suffix: header.slice(1), ignore_case: true }
		: (header.endsWith('*') ? { prefix: header.slice(0, -1), ignore_case: true } : { exact: header, ignore_case: true }))) };
}

function withRequestBody(body: ExtAuthzHttpProvider['includeRequestBodyInCheck']): JsonObject | undefined {
	if (!body) {
		return undefined;
	}

	// Defaults (0, false) are left out, as protojson prints the message istiod sends.
	return {
		...(body.maxRequestBytes ? { max_request_bytes: body.maxRequestBytes } : {}),
		...(body.allowPartialMessage ? { allow_partial_message: true } : {}),
		...(body.packAsBytes ? { pack_as_bytes: true } : {}),
	};
}

function buildHttp(config: ExtAuthzHttpProvider, options: AuthzOptions): BuiltProvider {
	const errors: string[] = [];
	const found = lookup(config.service, config.port, options, false);
	if (typeof found === 'string') {
		errors.push(found);
	}

	const status = statusOnError(config.statusOnError);
	if (typeof status === 'string') {
		errors.push(status);
	}

	if (config.pathPrefix && !config.pathPrefix.startsWith('/')) {
		errors.push(`pathPrefix must begin with \`/\`, found: ${JSON.stringify(config.pathPrefix)}`);
	}

	for (const [field, values] of Object.entries({ IncludeRequestHeadersInCheck: config.includeRequestHeadersInCheck, HeadersToDownstreamOnDeny: config.headersToDownstreamOnDeny,
		HeadersToDownstreamOnAllow: config.headersToDownstreamOnAllow, HeadersToUpstreamOnAllow: config.headersToUpstreamOnAllow })) {
		if ((values ?? []).includes('*')) {
			errors.push(`a single wildcard ("*") is not supported, change it to either prefix or suffix match: ${field}`);
		}
	}

	if (errors.length > 0 || typeof found === 'string' || typeof status === 'string') {
		return { error: errors.join('; ') };
	}

	const additional = Object.keys(config.includeAdditionalHeadersInCheck ?? {}).sort();
	const response: JsonObject = config.headersToUpstreamOnAllow?.length || config.headersToDownstreamOnDeny?.length || config.headersToDownstreamOnAllow?.length ? {
		authorization_response: {
			...optional('allowed_upstream_headers', headerPatterns(config.headersToUpstreamOnAllow)),
			...optional('allowed_client_headers', headerPatterns(config.headersToDownstreamOnDeny)),
			...optional('allowed_client_headers_on_success', headerPatterns(config.headersToDownstreamOnAllow)),
		},
	} : {};
	const filter: JsonObject = {
		'@type': extAuthzType,
		...optional('status_on_error', status),
		...(config.failOpen ? { failure_mode_allow: true } : {}),
		transport_api_version: 'V3',
		http_service: {
			...(config.pathPrefix ? { path_prefix: config.pathPrefix } : {}),
			server_uri: { uri: `http://${found.hostname}`, cluster: found.cluster.name, timeout: timeout(config.timeout) },
			...(additional.length > 0 ? { authorization_request: { headers_to_add: additional.map(key => ({ key, value: config.includeAdditionalHeadersInCheck![key]! })) } } : {}),
			...response,
		},
		...optional('with_request_body', withRequestBody(config.includeRequestBodyInCheck)),
		...optional('allowed_headers', headerPatterns(config.includeRequestHeadersInCheck)),
	};
	return { filter, cluster: found.cluster };
}

function buildGrpc(config: ExtAuthzGrpcProvider, options: AuthzOptions): BuiltProvider {
	const found = lookup(config.service, config.port, options, true);
	const status = statusOnError(config.statusOnError);
	const errors = [typeof found === 'string' ? found : undefined, typeof status === 'string' ? status : undefined].filter(Boolean);
	if (errors.length > 0 || typeof found === 'string' || typeof status === 'string') {
		return { error: errors.join('; ') };
	}

	const filter: JsonObject = {
		'@type': extAuthzType,
		...optional('status_on_error', status),
		...(config.failOpen ? { failure_mode_allow: true } : {}),
		grpc_service: { envoy_grpc: { cluster_name: found.cluster.name, authority: found.hostname }, timeout: timeout(config.timeout) },
		transport_api_version: 'V3',
		...optional('with_request_body', withRequestBody(config.includeRequestBodyInCheck)),
	};
	return { filter, cluster: found.cluster };
}

function optional(key: string, value: JsonObject | undefined): JsonObject {
	return value === undefined ? {} : { [key]: value };
}

/** extauthz.go generateFilterMatcher(ForProvider): ext_authz runs only when the shadow RBAC matched a CUSTOM rule. */
function filterEnabledMetadata(prefix: string): JsonObject {
	return {
		filter: 'envoy.filters.http.rbac',
		path: [{ key: `${statPrefixes.extAuthz}${shadowEffectivePolicyId}` }],
		value: { string_match: { prefix } },
	};
}

/** builder.go getBadCustomDenyRules: the CUSTOM rules, enforced as DENY, when the provider cannot be used. */
function badCustomDeny(set: RuleSet, why: string): SidecarFilter {
	const policies = Object.fromEntries(Object.entries(set.policies).map(([name, policy]) => [`${name}${badCustomActionSuffix}`, policy]));
	return rbacFilter({ rules: { action: 'DENY', policies } }, `Istio RBAC denying what the CUSTOM policies match, because ${why}: ${set.origins.join('; ')}`);
}

/** CUSTOM policies → [shadow RBAC, ext_authz] (builder.go buildHTTP with IsCustomBuilder, per release). */
function customFilters(policies: readonly AuthorizationPolicyResource[], options: AuthzOptions, notes: string[]): { filters: SidecarFilter[]; clusters: ProxyClusterModel[] } {
	const custom = policies.filter(policy => policy.spec.action === 'CUSTOM');
	if (custom.length === 0) {
		return { filters: [], clusters: [] };
	}

	const resolved = resolveProviders(options.meshConfig, options);
	const filters: SidecarFilter[] = [];
	const clusters: ProxyClusterModel[] = [];
	const providerNames = custom.map(policy => policy.spec.provider?.name ?? '');
	const available = options.meshConfig.extensionProviders.filter(provider => !('other' in provider)).map(provider => provider.name);
	const usable = (provider: string): BuiltProvider | string => {
		const found = resolved.get(provider);
		if (!found) {
			return `available providers are [${available.join(' ')}] but found ${JSON.stringify(provider)}`;
		}

		return found.error ? `found errors in provider ${provider}: ${found.error}` : found;
	};

	const pair = (enforce: RuleSet, shadow: RuleSet | undefined, built: BuiltProvider, prefix: string, provider: string) => {
		const origins = enforce.origins.join('; ');
		filters.push(rbacFilter({
			...(shadow && Object.keys(shadow.policies).length > 0 ? { rules: rulesJson(shadow) } : {}),
			shadow_rules: rulesJson(enforce),
			shadow_rules_stat_prefix: statPrefixes.extAuthz,
		}, `Istio shadow RBAC for CUSTOM (provider ${provider}): records which CUSTOM rule matched, enforces nothing: ${origins}`));
		filters.push({ kind: 'typed', name: 'envoy.filters.http.ext_authz', typedConfig: { ...built.filter!, filter_enabled_metadata: filterEnabledMetadata(prefix) },
			comment: `Istio ext_authz for CUSTOM (meshConfig extension provider ${provider}), asked only when a CUSTOM rule matched: ${origins}` });
		if (built.cluster && !clusters.some(cluster => cluster.name === built.cluster!.name)) {
			clusters.push(built.cluster);
		}
	};

	if (!customNamesProvider(options.traits)) {
		// 1.25–1.29: one provider per workload; dry-run CUSTOM policies are built as shadow rules the HTTP filter drops.
		const enforce: RuleSet = { action: 'DENY', policies: {}, origins: [] };
		for (const policy of custom) {
			if (isDryRun(policy, notes)) {
				notes.push(`istiod: ${origin(policy)} is dry-run: Istio ${options.traits.version} builds no filter for a dry-run CUSTOM policy`);
				continue;
			}

			addPolicy(enforce, policy, { provider: policy.spec.provider?.name ?? '', traits: options.traits }, options.meshConfig.trustDomain);
		}

		const distinct = [...new Set(providerNames)];
		const problem = distinct.length > 1 ? `only 1 provider can be used per workload, found multiple providers: [${providerNames.join(' ')}]` : usable(distinct[0]!);
		if (typeof problem === 'string') {
			notes.push(`istiod: failed to process CUSTOM action, will generate deny configs for the specified rules: ${problem}`);
			filters.push(badCustomDeny(enforce, problem));
			return { filters, clusters };
		}

		pair(enforce, undefined, problem, extAuthzMatchPrefix, distinct[0]!);
		return { filters, clusters };
	}

	// 1.30: rules grouped per provider (sorted); several providers need PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS (default false).
	const byProvider = new Map<string, { enforce: RuleSet; shadow: RuleSet }>();
	for (const policy of custom) {
		const provider = policy.spec.provider?.name ?? '';
		const sets = byProvider.get(provider) ?? { enforce: { action: 'DENY', policies: {}, origins: [] }, shadow: { action: 'DENY', policies: {}, origins: [] } };
		byProvider.set(provider, sets);
		addPolicy(isDryRun(policy, notes) ? sets.shadow : sets.enforce, policy, { provider, traits: options.traits }, options.meshConfig.trustDomain);
	}

	const providers = [...byProvider.keys()].sort();
	if (providers.length > 1) {
		const problem = `multiple CUSTOM authorization providers per workload requires PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS feature flag, found ${providers.length} providers: [${providers.join(' ')}]`;
		notes.push(`istiod: ${problem}`);
		for (const provider of providers) {
			filters.push(badCustomDeny(byProvider.get(provider)!.enforce, problem));
		}

		return { filters, clusters };
	}

	for (const provider of providers) {
		const sets = byProvider.get(provider)!;
		const built = usable(provider);
		if (typeof built === 'string') {
			notes.push(`istiod: failed to process CUSTOM action for provider ${provider}, will generate deny configs: ${built}`);
			filters.push(badCustomDeny(sets.enforce, built));
			continue;
		}

		pair(sets.enforce, sets.shadow, built, `${extAuthzMatchPrefix}-${provider}`, provider);
	}

	return { filters, clusters };
}

/** The HTTP authorization filters for the policies that attach to one proxy (in istiod's order). */
export function authorizationFilters(policies: readonly AuthorizationPolicyResource[], options: AuthzOptions): AuthzBuild {
	const notes: string[] = [];
	const custom = customFilters(policies, options, notes);
	return { custom: custom.filters, local: localFilters(policies, options.meshConfig.trustDomain, notes), clusters: custom.clusters, notes };
}

