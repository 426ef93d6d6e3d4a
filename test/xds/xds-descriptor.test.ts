import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { modelFromSpec } from '../../src/compose/model.ts';
import { buildResources, type JsonObject } from '../../src/envoy/bootstrap.ts';
import { typeUrls } from '../../src/envoy-api/type-urls.ts';
import { buildDescriptor } from '../../src/xds/descriptor.ts';
import { descriptorModuleText } from '../../src/xds/descriptor-module.ts';
import { EnvoySchemas } from '../../src/xds/protobuf.ts';
import { protobufjsCodec } from '../../src/xds/reference-codec.ts';
import { repoRoot, seedWasm, strictConfigWasm } from '../helpers/paths.ts';
import { testPlacement } from '../helpers/placement.ts';

const generatedModule = path.join(repoRoot, 'src', 'xds', 'envoy-descriptor.generated.ts');

test('the checked-in xDS descriptor is what src/xds/envoy-api.generated.ts gives (else: npm run gen:xds-descriptor)', t => {
	const fresh = descriptorModuleText(buildDescriptor());
	t.true(fresh === readFileSync(generatedModule, 'utf8'),
		'src/xds/envoy-descriptor.generated.ts is stale: run `npm run gen:xds-descriptor` and commit the result');
});

const placement = testPlacement;

/** A sandbox's resources, plus fields of every JSON shape the encoder rewrites (durations, wrappers, Struct, maps, packed repeated scalars, enums). */
async function sampleResources(): Promise<Array<[string, JsonObject]>> {
	const model = await modelFromSpec({
		plugins: [
			{ name: 'first', wasm: seedWasm, rootId: 'first_root', vmId: 'shared', vmConfiguration: { vm: 1 }, env: { MODE: 'test' }, hostEnv: ['HOME'] },
			{ name: 'second', wasm: strictConfigWasm, configuration: { header: 'x-a', value: 'b' }, failOpen: true },
		],
	}, { baseDir: repoRoot });
	// Envoy 1.40's PluginConfig.failure_policy (Istio's sidecars send it), which older API copies lack.
	const failurePolicy: JsonObject = { name: 'fail-closed', typed_config: { '@type': typeUrls.httpWasm, config: { name: 'p', vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: seedWasm } } }, failure_policy: 'FAIL_CLOSED' } } };
	const sandbox = buildResources(model, placement, { ecds: true });
	const plain = buildResources(model, placement);
	const rich: JsonObject = {
		name: 'rich',
		address: { socket_address: { address: '127.0.0.1', port_value: 10_001 } },
		per_connection_buffer_limit_bytes: 32_768,
		metadata: { filter_metadata: { meshbox: { nested: { list: [1, 'two', true, null] } } } },
		listener_filters_timeout: '0.250s',
		filter_chains: [{
			filters: [
				{ name: 'net-rbac', typed_config: { '@type': typeUrls.networkRbac, stat_prefix: 'rbac', rules: { action: 'DENY', policies: { none: { permissions: [{ destination_port: 1 }], principals: [{ any: true }] } } } } },
				{
					name: 'envoy.filters.network.http_connection_manager',
					typed_config: {
						'@type': typeUrls.hcm,
						stat_prefix: 'rich',
						codec_type: 'HTTP1',
						stream_idle_timeout: '30s',
						route_config: {
							name: 'rich',
							virtual_hosts: [{
								name: 'all',
								domains: ['*'],
								routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream', retry_policy: { retry_on: '5xx', num_retries: 2, retriable_status_codes: [503, 504] } } }],
							}],
						},
						http_filters: [
							{ name: 'lua', typed_config: { '@type': typeUrls.lua, default_source_code: { inline_bytes: Buffer.from('function envoy_on_request(h) end').toString('base64') } } },
							{ name: 'fault', typed_config: { '@type': typeUrls.fault, abort: { http_status: 503, percentage: { numerator: 10, denominator: 'HUNDRED' } } } },
							{ name: 'cors', typed_config: { '@type': typeUrls.cors } },
							{ name: 'grpc_stats', typed_config: { '@type': typeUrls.grpcStats, emit_filter_state: true } },
							{ name: 'router', typed_config: { '@type': typeUrls.router } },
						],
					},
				},
			],
		}],
	};
	return [
		...sandbox.listeners.map(resource => [typeUrls.listener, resource] as [string, JsonObject]),
		...plain.listeners.map(resource => [typeUrls.listener, resource] as [string, JsonObject]),
		...sandbox.clusters.map(resource => [typeUrls.cluster, resource] as [string, JsonObject]),
		...sandbox.extensionConfigs.map(resource => [typeUrls.extensionConfig, resource] as [string, JsonObject]),
		[typeUrls.listener, rich],
		[typeUrls.extensionConfig, failurePolicy],
		// 64-bit integers (Int64Range), bytes, nested repeated messages.
		[typeUrls.cluster, { ...sandbox.clusters[0]!, name: 'checked', health_checks: [{ timeout: '1s', interval: '5s', unhealthy_threshold: 1, healthy_threshold: 1,
			http_health_check: { path: '/healthz', expected_statuses: [{ start: 200, end: '300' }], send: { binary: 'AAEC' } } }] }],
	];
}

test('resources encode to the same bytes through the descriptor as through protobufjs\'s own code on the whole API', async t => {
	const precompiled = new EnvoySchemas();
	const fromProtos = new EnvoySchemas({ reference: protobufjsCodec() });
	for (const [typeUrl, resource] of await sampleResources()) {
		const json = { '@type': typeUrl, ...resource };
		t.deepEqual(Buffer.from(precompiled.encodeAny(json).value).toString('hex'), Buffer.from(fromProtos.encodeAny(json).value).toString('hex'), String(resource.name));
	}
});

test('a type outside the descriptor (the buffer filter) is found in the whole API', t => {
	const schemas = new EnvoySchemas();
	const encoded = schemas.encodeAny({ '@type': 'type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer', max_request_bytes: 1024 });
	const decoded = protobufjsCodec().decode('envoy.extensions.filters.http.buffer.v3.Buffer', encoded.value);
	t.deepEqual(decoded, { max_request_bytes: { value: 1024 } });
});

test('an unknown field or enum name is refused with its path, through the descriptor too', t => {
	const schemas = new EnvoySchemas();
	const field = t.throws(() => schemas.encodeAny({ '@type': typeUrls.listener, name: 'l', filter_chains: [{ filters: [{ name: 'x', typo: 1 }] }] }));
	t.regex(field?.message ?? '', /filter_chains\[0\]\.filters\[0\]\.typo: unknown field in envoy\.config\.listener\.v3\.Filter/);
	// protobufjs's own fromObject drops an enum name it does not know, silently.
	const enumName = t.throws(() => schemas.encodeAny({ '@type': typeUrls.hcm, stat_prefix: 's', codec_type: 'HTTP9' }));
	t.regex(enumName?.message ?? '', /codec_type: expected one of AUTO, HTTP1, HTTP2, HTTP3 .*got "HTTP9"/);
});

test('discovery requests decode and responses encode as through protobufjs\'s own code on the whole API', t => {
	const precompiled = new EnvoySchemas();
	const fromProtos = new EnvoySchemas({ reference: protobufjsCodec() });
	const request = {
		version_info: '3',
		node: { id: 'sidecar~10.0.0.1~app.default~default.svc.cluster.local', cluster: 'app', metadata: { ISTIO_VERSION: '1.24', LABELS: { app: 'x' }, ON: true, N: 2 }, user_agent_name: 'envoy', client_features: ['a', 'b'] },
		resource_names: ['first', 'second'],
		type_url: typeUrls.extensionConfig,
		response_nonce: '7',
		error_detail: { code: 13, message: 'Failed to load Wasm module', details: [{ '@type': 'type.googleapis.com/google.protobuf.StringValue', value: 'x' }] },
	};
	const bytes = fromProtos.encode('envoy.service.discovery.v3.DiscoveryRequest', request);
	t.deepEqual(precompiled.decode('envoy.service.discovery.v3.DiscoveryRequest', bytes), fromProtos.decode('envoy.service.discovery.v3.DiscoveryRequest', bytes));
	t.like(precompiled.decode('envoy.service.discovery.v3.DiscoveryRequest', bytes), { response_nonce: '7', resource_names: ['first', 'second'], error_detail: { code: 13, message: 'Failed to load Wasm module' } });

	const response = { version_info: '4', resources: [precompiled.encodeAny({ '@type': typeUrls.stringValue, value: 'v' })], type_url: typeUrls.extensionConfig, nonce: '8' };
	t.deepEqual(Buffer.from(precompiled.encodeObject('envoy.service.discovery.v3.DiscoveryResponse', response)), Buffer.from(fromProtos.encodeObject('envoy.service.discovery.v3.DiscoveryResponse', response)));
});
