/**
 * RequestAuthentication → Envoy jwt_authn, as istiod builds it: pilot/pkg/security/authn/policy_applier.go
 * `convertToEnvoyJwtConfig` (one provider `origins-<i>` per jwtRule, rules sorted by issuer; a requirement that
 * lets a request without a token through but refuses an invalid one: 401) and pilot/pkg/model/jwks_resolver.go
 * `BuildLocalJwks` (PILOT_JWT_ENABLE_REMOTE_JWKS defaults to `false` = istiod mode: istiod fetches `jwksUri`
 * itself and inlines the keys; when that fails it inlines a fake JWKS, so every token fails → 401).
 * Identical in 1.25–1.30 except NormalizePayloadInMetadata's claims (1.28 reads `spaceDelimitedClaims`).
 */
import type { SidecarFilter } from '../../config/model.ts';
import type { JsonObject } from '../../util/json.ts';
import type { RequestAuthenticationResource } from '../config-resources.ts';
import type { VersionTraits } from '../version.ts';
import { jwtFilterName, jwtPayloadKey } from './rbac.ts';
import type { JwtRule } from './types.ts';
import { durationMs } from './validate.ts';

const jwtAuthnType = 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';

/** Fetches a JWKS as istiod does (the caller decides how a cluster-local host is reached); undefined when it fails. */
export type JwksFetcher = (uri: string, timeoutMs: number) => Promise<string | undefined>;

export type JwtBuild = { readonly filter: SidecarFilter | undefined; readonly notes: string[] };

/**
 * pilot/pkg/model/jwks_resolver.go FakeJwks: a key set no token is signed with. istiod inlines it while (or when) it
 * cannot fetch `jwksUri`, so requests with a token get 401 and requests without one pass.
 */
export const fakeJwks = JSON.stringify({ keys: [{ e: 'AQAB', kty: 'RSA', n: 'vqS7RN4b34i3_5YyhygtBe33gI6GK_0ldW8WMZaunS28T-WAzJOAoZ7E9Y0mHS8vcDES0eZIUpp6Ft9sRPhOlzQfo_7l-3DnaD9LxJVKdXjE1jugxfI9YX1qJpD9S9wRZxQIhPky9UzZDkpFh_KpL6pZUt4cbPtW0VCctjqvpI11yHNk4CEbzw-RRFLMJkLFJqgPa2JPzGZ-TqJdkSDQ7UtRiKzjRcWGnAdLsTq6WabDA1Fn1JVI9TWu-YDbLufDUDco46qyPgpxAqcRQG39cWZAQzMwNEZ-Yec_WiqDYqGTU6K8BBWeEIuMhiWfxGmtqX35rb9Qk_qeYDsqqT95Pw' }] });

/** policy_applier.go buildSpaceDelimitedClaims (1.28+): the rule's claims plus `permission` and `scope`, sorted. */
function spaceDelimitedClaims(rule: JwtRule, traits: VersionTraits): string[] {
	if (Number(traits.version.split('.')[1]) < 28) {
		return ['scope', 'permission'];
	}

	return rule.spaceDelimitedClaims === undefined ? ['permission', 'scope'] : [...new Set([...rule.spaceDelimitedClaims, 'permission', 'scope'])].sort();
}

/** The jwt_authn filter for the RequestAuthentications that attach to one proxy (undefined without jwtRules). */
export async function jwtAuthnFilter(policies: readonly RequestAuthenticationResource[], options: {
	readonly traits: VersionTraits;
	/** policy_applier.go JwtFilter(clearRouteCache): true for gateways, false for sidecars. */
	readonly clearRouteCache: boolean;
	readonly fetchJwks: JwksFetcher;
}): Promise<JwtBuild> {
	const notes: string[] = [];
	const rules = policies.flatMap(policy => (policy.spec.jwtRules ?? []).map((rule, index) => ({ rule, policy, index })));
	if (rules.length === 0) {
		return { filter: undefined, notes };
	}

	// policy_applier.go newPolicyApplier: every rule of every policy, sorted by issuer (stable here; istiod's sort is not).
	rules.sort((a, b) => (a.rule.issuer < b.rule.issuer ? -1 : (a.rule.issuer > b.rule.issuer ? 1 : 0)));
	const providers: Record<string, JsonObject> = {};
	const inner: JsonObject[] = [];
	const outer: JsonObject[] = [];
	const origins: string[] = [];
	for (const [position, { rule, policy, index }] of rules.entries()) {
		const name = `origins-${position}`;
		const timeoutMs = rule.timeout === undefined ? 5000 : (durationMs(rule.timeout) ?? 5000);
		let jwks = rule.jwks ?? '';
		if (jwks === '' && rule.jwksUri) {
			const fetched = await options.fetchJwks(rule.jwksUri, timeoutMs);
			if (fetched === undefined) {
				notes.push(`istiod: the JWKS key is not yet fetched for issuer ${rule.issuer} (${rule.jwksUri}), using a fake JWKS for now: every token for this issuer gets 401`);
			}

			jwks = fetched ?? fakeJwks;
		}

		providers[name] = {
			issuer: rule.issuer,
			...(rule.audiences && rule.audiences.length > 0 ? { audiences: [...rule.audiences] } : {}),
			...(rule.forwardOriginalToken ? { forward: true } : {}),
			...(rule.outputPayloadToHeader ? { forward_payload_header: rule.outputPayloadToHeader } : {}),
			payload_in_metadata: jwtPayloadKey,
			normalize_payload_in_metadata: { space_delimited_claims: spaceDelimitedClaims(rule, options.traits) },
			...(options.clearRouteCache ? { clear_route_cache: true } : {}),
			...(rule.outputClaimToHeaders ? { claim_to_headers: rule.outputClaimToHeaders.map(entry => ({ header_name: entry.header, claim_name: entry.claim })) } : {}),
			...(rule.fromHeaders ? { from_headers: rule.fromHeaders.map(header => ({ name: header.name, ...(header.prefix ? { value_prefix: header.prefix } : {}) })) } : {}),
			...(rule.fromParams ? { from_params: [...rule.fromParams] } : {}),
			...(rule.fromCookies ? { from_cookies: [...rule.fromCookies] } : {}),
			local_jwks: { inline_string: jwks },
		};
		inner.push({ requires_any: { requirements: [{ provider_name: name }, { allow_missing: {} }] } });
		outer.push({ provider_name: name });
		origins.push(`${name}: RequestAuthentication ${policy.namespace}/${policy.name} (${policy.origin.file}:${policy.origin.line}) jwtRules[${index}] issuer ${rule.issuer}`);
	}

	const requires: JsonObject = inner.length === 1 ? inner[0]! : { requires_any: { requirements: [...outer, { requires_all: { requirements: inner } }] } };
	return {
		filter: {
			kind: 'typed',
			name: jwtFilterName,
			typedConfig: { '@type': jwtAuthnType, rules: [{ match: { prefix: '/' }, requires }], providers, bypass_cors_preflight: true },
			comment: `Istio jwt_authn from RequestAuthentication: ${origins.join('; ')}. A request without a token passes; an invalid token gets 401; the verified payload is dynamic metadata ${jwtFilterName}.${jwtPayloadKey}`,
		},
		notes,
	};
}

/** istiod's JWKS fetch (jwks_resolver.go GetPublicKey): a GET within the rule's timeout, the body when it is 200. */
export const fetchJwksOverHttp: JwksFetcher = async (uri, timeoutMs) => {
	try {
		const response = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs) });
		return response.ok ? await response.text() : undefined;
	} catch {
		return undefined;
	}
};
