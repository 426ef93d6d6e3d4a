/**
 * The Envoy around an HTTP plugin (issue #10), told on every runtime: routes with their own metadata, a Lua or
 * set_metadata filter before the plugin, routing by header and host to named apps, a plugin turned off on one
 * route, and a plugin metric tagged by `stats.tags`. The plugins are conformance fixtures
 * (fixtures/plugins/CONFORMANCE.md): `rust-properties` answers the property named in the request header
 * `x-property` as `x-property-value`, `rust-metrics` counts requests in `meshbox_fixture_requests`.
 */
import test from 'ava';
import { stories } from 'meshbox';

const story = await stories(test);

const properties = { name: 'props', wasm: 'fixtures/plugins/rust-properties/rust-properties.wasm' };
const probe = (property: string) => ({ 'x-property': property });

story('a plugin reads the metadata of the route it matched, and another value on another route', async (t, { sandbox }) => {
	const box = await sandbox({
		plugins: [properties],
		routes: [
			{ name: 'gold', match: { prefix: '/gold' }, metadata: { meshbox: { tier: 'gold' } } },
			{ name: 'silver', match: { prefix: '/silver' }, metadata: { meshbox: { tier: 'silver' } } },
		],
	});
	const tier = 'xds.route_metadata.filter_metadata.meshbox.tier';
	t.is((await box.request('/gold/a', { headers: probe(tier) })).headers['x-property-value'], 'gold');
	t.is((await box.request('/silver/b', { headers: probe(tier) })).headers['x-property-value'], 'silver');
	t.is((await box.request('/silver/b', { headers: probe('xds.route_name') })).headers['x-property-value'], 'silver', 'the route\'s name is xds.route_name');
	t.is((await box.request('/other', { headers: probe(tier) })).headers['x-property-hex'], '-', 'the default route has no metadata');
	t.is(await box.upstream.hits(), 4, 'every route goes to the default app');

	// Routes are part of the listener: they change while Envoy runs.
	await box.update({ routes: [{ name: 'gold', match: { prefix: '/gold' }, metadata: { meshbox: { tier: 'platinum' } } }] });
	t.is((await box.request('/gold/a', { headers: probe(tier) })).headers['x-property-value'], 'platinum');
	t.is((await box.request('/silver/b', { headers: probe('xds.route_name') })).headers['x-property-hex'], '-', 'the silver route is gone');
});

story('a Lua filter and a set_metadata filter before the plugin write dynamic metadata the plugin reads', async (t, { sandbox }) => {
	const box = await sandbox({
		plugins: [properties],
		httpFilters: [
			{
				name: 'envoy.filters.http.lua',
				before: 'props',
				typedConfig: {
					'@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
					default_source_code: { inline_string: 'function envoy_on_request(h) h:streamInfo():dynamicMetadata():set("meshbox", "tenant", h:headers():get("x-tenant") or "none") end' },
				},
			},
			{
				name: 'envoy.filters.http.set_metadata',
				before: 'props',
				typedConfig: {
					'@type': 'type.googleapis.com/envoy.extensions.filters.http.set_metadata.v3.Config',
					metadata: [{ metadata_namespace: 'fixed', value: { source: 'set_metadata' } }],
				},
			},
		],
	});
	const tenant = await box.request('/', { headers: { ...probe('metadata.filter_metadata.meshbox.tenant'), 'x-tenant': 'acme' } });
	t.is(tenant.headers['x-property-value'], 'acme', 'the plugin read what Lua wrote from this request');
	const source = await box.request('/', { headers: probe('metadata.filter_metadata.fixed.source') });
	t.is(source.headers['x-property-value'], 'set_metadata', 'the plugin read what set_metadata wrote');
});

story('routing by header and by host sends requests to two apps; each app records only its own', async (t, { sandbox }) => {
	const box = await sandbox({
		plugins: [properties],
		apps: { canary: { status: 202, headers: { 'x-app': 'canary' }, body: 'canary\n' } },
		routes: [
			{ name: 'by-host', hosts: ['canary.example.com'], app: 'canary' },
			{ name: 'by-header', match: { headers: { 'x-canary': '1' } }, app: 'canary', plugins: { props: { disabled: true } } },
		],
	});
	const byHost = await box.request('/a', { headers: { host: 'canary.example.com' } });
	const byHeader = await box.request('/b', { headers: { 'x-canary': '1' } });
	const primary = await box.request('/c', { headers: { host: 'shop.example.com' } });
	t.is(byHost.status, 202);
	t.is(byHost.body, 'canary\n');
	t.is(byHeader.headers['x-app'], 'canary');
	t.is(primary.status, 200);
	t.is(primary.body, 'Hello, world!\n');

	t.deepEqual((await box.apps.canary.requests()).map(request => request.headers['x-meshbox-request-id']), [byHost.requestId, byHeader.requestId]);
	t.deepEqual((await box.upstream.requests()).map(request => request.headers['x-meshbox-request-id']), [primary.requestId]);
	t.is(await box.apps.upstream.hits(), 1, 'box.apps.upstream is the default app');

	t.is(byHost.headers['x-prop-request-path'], '/a', 'the plugin ran on the host route');
	t.is(byHeader.headers['x-prop-request-path'], undefined, 'the plugin is disabled on the header route');
	await box.apps.canary.clear();
	t.is(await box.apps.canary.hits(), 0);
});

story('a plugin metric with a tag extracted by stats.tags is a tagged Prometheus series', async (t, { sandbox }) => {
	const box = await sandbox({
		plugins: [{ name: 'metrics', wasm: 'fixtures/plugins/rust-metrics/rust-metrics.wasm' }],
		// wasmcustom.meshbox_fixture_requests → requests{component="fixture"}: the first group leaves the name, the last is the value.
		stats: { tags: [{ name: 'component', regex: '^wasmcustom\\.(meshbox_(\\w+?)_)requests$' }] },
	});
	await box.request('/');
	await box.request('/');
	const series = await box.waitFor(async () => (await box.prometheus('requests')).find(entry => entry.labels.component === 'fixture' && entry.value === 2));
	t.like(series, { name: 'requests', type: 'counter', labels: { component: 'fixture' } });
	t.false((await box.prometheus()).some(entry => entry.name === 'meshbox_fixture_requests'), 'the untagged name is gone');
});
