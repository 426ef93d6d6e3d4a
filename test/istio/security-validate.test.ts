/**
 * `meshbox check` on security.istio.io resources: the API server's schema (unknown fields, types, enums) and
 * istiod's webhook (pkg/config/validation/validation.go ValidateAuthorizationPolicy, ValidateRequestAuthentication,
 * ValidatePeerAuthentication; pkg/config/security/security.go), each finding with its file:line:col.
 */
import test from 'ava';
import { errors, parse } from './helpers.ts';

function resource(kind: string, spec: string, metadata = 'name: p\n  namespace: shop'): string {
	return `apiVersion: security.istio.io/v1\nkind: ${kind}\nmetadata:\n  ${metadata}\nspec:\n${spec.split('\n').map(line => `  ${line}`).join('\n')}\n`;
}

const policy = (spec: string) => resource('AuthorizationPolicy', spec);

test('a full AuthorizationPolicy is read with every field, action ALLOW by default', t => {
	const parsed = parse(policy([
		'selector: {matchLabels: {app: shop}}',
		'rules:',
		'- from: [{source: {principals: [cluster.local/ns/shop/sa/web], notNamespaces: [dev], ipBlocks: [10.0.0.0/8], remoteIpBlocks: [1.2.3.4]}}]',
		'  to: [{operation: {methods: [GET], paths: ["/api/{*}/items/{**}"], ports: ["8080"], hosts: ["*.shop.com"]}}]',
		'  when: [{key: "request.headers[x-user]", values: [alice]}, {key: "request.auth.claims[groups]", notValues: [guests]}]',
	].join('\n')));
	t.deepEqual(errors(parsed), []);
	const [resource] = parsed.config;
	t.is(resource?.kind, 'AuthorizationPolicy');
	t.like(resource?.spec, { action: 'ALLOW', selector: { matchLabels: { app: 'shop' } } });
});

test('validation.go and security.go reasons, each at its field', t => {
	const cases: Array<[string, string, string]> = [
		// [spec, where (line:col), message]
		['action: DENY', '7:3', 'DENY action without `rules` is meaningless as it will never be triggered'],
		['action: CUSTOM', '7:3', 'CUSTOM action without `rules` is meaningless'],
		['action: CUSTOM\nrules: [{}]', '7:3', '`provider.name` must not be empty'],
		['action: DENY\nprovider: {name: ext}\nrules: [{}]', '8:3', '`provider` must not be with non CUSTOM action, found DENY'],
		['action: CUSTOM\nprovider: {name: ext}\nrules: [{from: [{source: {principals: [a]}}]}]', '9:29', 'From.Principals is currently not supported with CUSTOM action'],
		['action: CUSTOM\nprovider: {name: ext}\nrules: [{when: [{key: "request.auth.claims[iss]", values: [x]}]}]', '9:20', 'request.auth.claims[iss] is currently not supported with CUSTOM action'],
		['action: CUSTOM\nprovider: {name: ext}\nrules: [{when: [{key: source.principal, values: [x]}]}]', '9:20', 'source.principal is currently not supported with CUSTOM action'],
		['selector: {matchLabels: {app: a}}\ntargetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]', '7:3', 'only one of targetRefs or workloadSelector can be set'],
		['rules: [{to: [{operation: {paths: ["/a/{**}/b/{*}"]}}]}]', '7:38', '{**} is not the last operator'],
		['rules: [{to: [{operation: {paths: ["/a/{x}"]}}]}]', '7:38', "Contains '{' or '}' beyond a supported path template"],
		['rules: [{to: [{operation: {notPaths: ["/a/{*}/b?c"]}}]}]', '7:41', 'Contains segment b?c with invalid string literal'],
		['rules: [{to: [{operation: {ports: ["70000"]}}]}]', '7:38', 'bad port (70000)'],
		['rules: [{to: [{operation: {ports: [8080]}}]}]', '7:38', 'must be a string'],
		['rules: [{to: [{operation: {}}]}]', '7:18', '`to.operation` must not be empty, found at rule 0'],
		['rules: [{from: [{source: {}}]}]', '7:20', '`from.source` must not be empty, found at rule 0'],
		['rules: [{from: [{source: {ipBlocks: [10.0.0.300]}}]}]', '7:40', 'bad IP address (10.0.0.300)'],
		['rules: [{from: [{source: {remoteIpBlocks: [10.0.0.0/40]}}]}]', '7:46', 'bad CIDR range (10.0.0.0/40)'],
		['rules: [{from: [{source: {namespaces: [a], serviceAccounts: [b]}}]}]', '7:46', 'cannot set serviceAccounts with namespaces or principals, found at rule 0'],
		['rules: [{from: [{source: {serviceAccounts: ["a/b/c"]}}]}]', '7:29', "expected format 'serviceAccount' or 'namespace/serviceAccount'"],
		['rules: [{from: [{source: {principals: [""]}}]}]', '7:42', 'empty value not allowed, found in Principals'],
		['rules: [{when: [{key: request.headers, values: [a]}]}]', '7:42', 'bad key (request.headers): should have format a[b]'],
		['rules: [{when: [{key: "destination.labels[v]", values: [a]}]}]', '7:50', 'attribute destination.labels[v] is replaced by the workload selector'],
		['rules: [{when: [{key: source.ip, notValues: [x]}]}]', '7:36', 'invalid `notValue` for `key` source.ip: bad IP address (x)'],
		['rules: [{when: [{key: request.color, values: [a]}]}]', '7:40', 'unknown attribute: request.color'],
		['rules: [{when: [{key: source.ip}]}]', '7:19', 'at least one of `values` or `notValues` must be set for key source.ip'],
		['rules: [{to: [{operation: {methods: [GET]}}]}]\naction: ALLOWED', '8:3', 'Unsupported value: "ALLOWED": supported values: "ALLOW", "DENY", "AUDIT", "CUSTOM"'],
		['rules: [{from: [{source: {principal: [a]}}]}]', '7:29', 'unknown field "spec.rules[0].from[0].source.principal"'],
	];
	for (const [spec, where, message] of cases) {
		const found = errors(parse(policy(spec)));
		t.true(found.some(line => line.startsWith(`test.yaml:${where} `) && line.includes(message)), `${spec}\n→ ${found.join('\n  ')}`);
	}
});

test('a DENY rule on HTTP attributes only: the webhook warns that it also denies TCP traffic', t => {
	const parsed = parse(policy('action: DENY\nrules: [{to: [{operation: {paths: [/admin]}}]}]'));
	t.deepEqual(errors(parsed), []);
	t.true(parsed.findings.some(finding => finding.severity === 'warning' && finding.message.includes('will deny all traffic to TCP ports under its scope')));
});

test('RequestAuthentication: jwtRules as the webhook checks them', t => {
	const cases: Array<[string, string, string]> = [
		['jwtRules: [{audiences: [a]}]', '7:14', 'issuer or jwksUri must be non-empty string'],
		['jwtRules: [{issuer: i, jwksUri: "ftp://keys"}]', '7:26', 'URI scheme "ftp" is not supported'],
		['jwtRules: [{issuer: i, jwks: "not json"}]', '7:26', 'jwks parse error'],
		['jwtRules: [{issuer: i, jwks: "{\\"keys\\": [{}]}"}]', '7:26', 'jwks parse error: key 0: missing or invalid "kty"'],
		['jwtRules: [{issuer: i, audiences: [""]}]', '7:38', 'audience must be non-empty string'],
		['jwtRules: [{issuer: i, fromHeaders: [{prefix: "Bearer "}]}]', '7:40', 'location header name must be non-empty string'],
		['jwtRules: [{issuer: i, fromParams: [""]}]', '7:39', 'location query must be non-empty string'],
		['jwtRules: [{issuer: i, outputClaimToHeaders: [{header: "x user", claim: sub}]}]', '7:50', 'is not a valid header name'],
		['jwtRules: [{issuer: i, outputClaimToHeaders: [{header: x-user}]}]', '7:49', 'outputClaimToHeaders header and claim value must be non-empty string'],
		['jwtRules: [{issuer: i, timeout: 0s}]', '7:26', 'duration must be greater than 1ms'],
		['jwtRules: [{issuer: i, jwksURI: "https://k"}]', '7:26', 'unknown field "spec.jwtRules[0].jwksURI"'],
	];
	for (const [spec, where, message] of cases) {
		const found = errors(parse(resource('RequestAuthentication', spec)));
		t.true(found.some(line => line.startsWith(`test.yaml:${where} `) && line.includes(message)), `${spec}\n→ ${found.join('\n  ')}`);
	}
});

test('PeerAuthentication: port-level modes need a selector and ports in range', t => {
	const cases: Array<[string, string, string]> = [
		['mtls: {mode: STRICT}\nportLevelMtls: {"8080": {mode: DISABLE}}', '8:3', 'mesh/namespace peer authentication cannot have port level mTLS'],
		['selector: {matchLabels: {app: a}}\nportLevelMtls: {"0": {mode: DISABLE}}', '8:19', 'port must be in range 1..65535'],
		['selector: {matchLabels: {app: a}}\nportLevelMtls: {}', '8:3', 'port level mTLS, if defined, must have at least one element'],
		['mtls: {mode: STRICTER}', '7:10', 'Unsupported value: "STRICTER"'],
	];
	for (const [spec, where, message] of cases) {
		const found = errors(parse(resource('PeerAuthentication', spec)));
		t.true(found.some(line => line.startsWith(`test.yaml:${where} `) && line.includes(message)), `${spec}\n→ ${found.join('\n  ')}`);
	}
});
