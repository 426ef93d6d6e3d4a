/**
 * EnvoyFilter values as istiod's webhook reads them (pkg/config/validation/envoyfilter/envoyfilter.go,
 * pkg/config/xds/xds.go → pkg/util/protomarshal → legacy github.com/golang/protobuf/jsonpb; proxyVersion with
 * Go's regexp): Go durations accepted (and reach Envoy in its own form), wrong-typed fields and v2 types refused,
 * proxyVersion in RE2 syntax. `meshbox check` and a sandbox on real Envoy.
 */
import test from 'ava';
import got from 'got';
import { startSandbox, wasmPlugin } from 'meshbox';
import { errors as errorsAt, parse } from './helpers.ts';
import type { ParsedIstio } from '../../src/istio/parse.ts';

/** The errors without their line:col (each names its field). */
const errors = (parsed: ParsedIstio) => errorsAt(parsed).map(error => error.replace(/^test\.yaml:\d+:\d+ /, ''));

const hcm = 'envoy.filters.network.http_connection_manager';
const luaType = 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua';

function envoyFilter(patch: string, name = 'ef'): string {
	return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ${name}, namespace: default}
spec:
  configPatches:
${patch}`;
}

const clusterTimeout = (timeout: string) => envoyFilter(`  - applyTo: CLUSTER
    match: {context: SIDECAR_INBOUND}
    patch: {operation: MERGE, value: {connect_timeout: ${timeout}}}`);

const luaFirst = (extra: { proxyVersion?: string; value?: string }) => envoyFilter(`  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      ${extra.proxyVersion === undefined ? '' : `proxy: {proxyVersion: '${extra.proxyVersion}'}`}
      listener: {filterChain: {filter: {name: ${hcm}}}}
    patch:
      operation: INSERT_FIRST
      value: ${extra.value ?? `{name: lua, typed_config: {'@type': ${luaType}, default_source_code: {inline_string: 'function envoy_on_response(h) h:headers():add("x-lua", "yes") end'}}}`}`);

test('Go durations are what the webhook reads (time.ParseDuration): 500ms, 1m, 1h30m accepted; a malformed one is refused in Go\'s words', t => {
	for (const [written, proto] of [['500ms', '0.5s'], ['1m', '60s'], ['1h30m', '5400s'], ['3s', '3s'], ['1.5s', '1.5s']] as const) {
		const parsed = parse(clusterTimeout(written));
		t.deepEqual(errors(parsed), [], written);
		t.deepEqual(parsed.envoyFilters[0]?.patches[0]?.patch.value, { connect_timeout: proto }, `${written}: handed to Envoy as ${proto}`);
	}

	t.deepEqual(errors(parse(clusterTimeout('5d'))), [
		'spec.configPatches[0].patch.value.connect_timeout: Envoy filter: bad Duration: time: unknown unit "d" in duration "5d"',
	]);
	t.deepEqual(errors(parse(clusterTimeout('"10"'))), [
		'spec.configPatches[0].patch.value.connect_timeout: Envoy filter: bad Duration: time: missing unit in duration "10"',
	]);
});

test('a wrong-typed field is refused as jsonpb refuses it (name: false), and so is a string for a bool', t => {
	t.deepEqual(errors(parse(luaFirst({ value: `{name: false, typed_config: {'@type': ${luaType}}}` }))), [
		'spec.configPatches[0].patch.value.name: Envoy filter: json: cannot unmarshal bool into Go value of type string',
	]);
	t.deepEqual(errors(parse(clusterTimeout('1s').replace('connect_timeout: 1s', 'connect_timeout: 1s, respect_dns_ttl: "yes"'))), [
		'spec.configPatches[0].patch.value.respect_dns_ttl: Envoy filter: json: cannot unmarshal string into Go value of type bool',
	]);
});

test('a v2 type URL is refused with the webhook\'s hint to use the v3 API', t => {
	const found = errors(parse(luaFirst({ value: '{name: lua, typed_config: {\'@type\': type.googleapis.com/envoy.config.filter.http.lua.v2.Lua, inline_code: x}}' })));
	t.deepEqual(found, [
		'spec.configPatches[0].patch.value.typed_config.@type: referenced type unknown (hint: try using the v3 XDS API): Envoy filter: could not resolve Any message type: type.googleapis.com/envoy.config.filter.http.lua.v2.Lua',
	]);
});

test('proxyVersion is Go RE2: named groups (?P<name>…) accepted and matched; lookaheads and backreferences refused', t => {
	t.deepEqual(errors(parse(luaFirst({ proxyVersion: String.raw`^(?P<major>1)\.(?P<minor>29)\..*` }))), []);
	t.deepEqual(errors(parse(luaFirst({ proxyVersion: String.raw`^1\.(?!28)` }))), [
		'spec.configPatches[0].match.proxy.proxyVersion: Envoy filter: invalid regex for proxy version, [error parsing regexp: invalid or unsupported Perl syntax: `(?!`]',
	]);
	t.deepEqual(errors(parse(luaFirst({ proxyVersion: String.raw`^(1)\.\1` }))), [
		'spec.configPatches[0].match.proxy.proxyVersion: Envoy filter: invalid regex for proxy version, [error parsing regexp: invalid escape sequence: `\\1`]',
	]);
});

test('on real Envoy: a Go duration reaches Envoy as the same time, and a named-group proxyVersion selects the sidecar', async t => {
	const box = await startSandbox({
		workload: { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 },
		// The default Envoy (CI installs it beforehand), not Istio 1.29's own (1.37): the patch is the point.
		envoy: { version: '1.40' },
		istio: {
			version: '1.29.0',
			resources: [
				wasmPlugin({ name: 'seed', url: 'file://fixtures/plugins/seed-rust/seed-rust.wasm' }),
				clusterTimeout('1h30m'),
				luaFirst({ proxyVersion: String.raw`^(?P<major>1)\.(?P<minor>29)\.0$` }).replace('name: ef', 'name: lua'),
			],
		},
	});
	t.teardown(async () => box.stop());
	const response = await box.request('/hello');
	t.is(response.status, 200);
	t.is(response.headers['x-lua'], 'yes', 'the patch whose proxyVersion has named groups applied');
	const dump = await got(`${box.adminUrl}/config_dump?resource=dynamic_active_clusters`).json<{ configs: Array<{ cluster?: { name: string; connect_timeout?: string } }> }>();
	const inbound = dump.configs.map(config => config.cluster).find(cluster => cluster?.name === 'inbound|8080||');
	t.is(inbound?.connect_timeout, '5400s');
});
