/**
 * The mesh scenario API (src/scenario/mesh.ts) on real Envoys, with the hand-made bookinfo MeshModel
 * (./mesh-models.ts): requests through the gateway, from a workload's app through its sidecar, straight to an
 * inbound; each proxy's logs, stats and config; a stop that leaves nothing.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { meshFor, startMeshFromModel } from '../../src/scenario/mesh.ts';
import { isMeshboxError } from '../../src/errors.ts';
import { childEnvoys, ownWorkDirs } from '../helpers/leftovers.ts';
import { bookinfoMesh } from './mesh-models.ts';

test.serial('mesh.request goes through the gateway, workload.request through the caller\'s sidecar to the callee', async t => {
	const mesh = await meshFor(t, { model: await bookinfoMesh({ gateway: ['rust-headers'], reviews: ['rust-headers'] }) });

	const page = await mesh.request('/productpage', { host: 'bookinfo.example.com' });
	t.is(page.status, 200);
	t.is(page.body, 'productpage says hi\n');
	t.is(page.headers['x-chain'], 'istio-ingressgateway.rust-headers', 'the gateway\'s plugin saw the response');
	// Only a virtual host of the gateway's routes is served: another authority is Envoy's 404.
	t.is((await mesh.request('/productpage', { host: 'other.example.com' })).status, 404);

	const reviews = await mesh.workload('productpage').request('http://reviews:9080/reviews/1?x=y');
	t.is(reviews.status, 200);
	t.is(reviews.body, 'reviews says hi\n');
	const [received] = await mesh.workload('reviews').recordings.requests();
	t.is(received?.path, '/reviews/1?x=y');
	t.is(received?.headers.host, 'reviews:9080', 'the authority the app called');
	t.is(received?.headers['x-meshbox-request-id'], reviews.requestId);

	// The plugin on reviews' inbound logged on reviews' Envoy, not on the gateway's.
	t.true((await mesh.proxy('reviews').logs({ message: 'chain request reviews.rust-headers' })).length > 0);
	t.deepEqual(await mesh.proxy('istio-ingressgateway').logs({ message: 'chain request reviews.rust-headers' }), []);
	const inboundStats = await mesh.proxy('reviews').stats('http.inbound_0.0.0.0_9080.downstream_rq_2xx');
	t.is(inboundStats.counters.get('http.inbound_0.0.0.0_9080.downstream_rq_2xx'), 1);

	// Straight to reviews' inbound from outside the mesh (plain text).
	const direct = await mesh.workload('reviews').requestInbound('/direct');
	t.is(direct.body, 'reviews says hi\n');
	t.is(await mesh.workload('reviews').recordings.hits(), 2);

	// The endpoints of the second push: productpage's cluster to reviews names reviews' inbound port.
	const dump = JSON.stringify(await mesh.proxy('productpage').configDump());
	const reviewsInbound = mesh.proxy('reviews').listeners.find(listener => listener.role === 'inbound')!;
	t.true(dump.includes(`"port_value":${new URL(reviewsInbound.url).port}`));
});

test.serial('a call to a port the caller\'s sidecar has no listener for is a clear error', async t => {
	const mesh = await meshFor(t, { model: await bookinfoMesh() });
	const error = await t.throwsAsync(mesh.workload('productpage').request('http://ratings:9999/'));
	t.true(isMeshboxError(error));
	t.regex(error!.message, /workload productpage: its sidecar has no outbound listener for port 9999/);
	t.regex((error as { hint?: string }).hint ?? '', /9080/);
	t.throws(() => mesh.workload('istio-ingressgateway'), { message: /is a gateway/ });
	t.throws(() => mesh.proxy('ratings'), { message: /no proxy "ratings"/ });
});

test.serial('the failure report has every proxy\'s bootstrap, config dump, stats and logs', async t => {
	const mesh = await meshFor(t, { model: await bookinfoMesh({ reviews: ['rust-headers'] }) });
	await mesh.workload('productpage').request('http://reviews:9080/r');
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-mesh-report-'));
	try {
		await mesh.writeReport(dir);
		t.deepEqual((await readdir(dir)).sort(), ['istio-ingressgateway', 'productpage', 'reviews']);
		t.deepEqual((await readdir(path.join(dir, 'reviews'))).sort(), ['bootstrap.yaml', 'config_dump.json', 'envoy.log', 'plugin-logs.txt', 'stats.txt']);
		t.regex(await readFile(path.join(dir, 'reviews', 'plugin-logs.txt'), 'utf8'), /chain request reviews\.rust-headers/);
		t.regex(await readFile(path.join(dir, 'productpage', 'config_dump.json'), 'utf8'), /outbound\|9080\|\|reviews\.default\.svc\.cluster\.local/);
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
});

test.serial('stop() stops every proxy: no Envoy, no work directory left', async t => {
	// Warm Envoys of the tests before stay for the next sandboxes: what this mesh started must go.
	const before = await childEnvoys();
	const dirsBefore = await ownWorkDirs();
	const mesh = await startMeshFromModel(await bookinfoMesh({ reviews: ['rust-headers'] }), { fresh: true });
	try {
		t.is((await mesh.request('/', { host: 'bookinfo.example.com' })).status, 200);
		t.is((await childEnvoys()).length, before.length + 3, 'one Envoy per proxy');
	} finally {
		await mesh.stop();
		await mesh.stop();
	}

	t.deepEqual(await childEnvoys(), before);
	t.deepEqual(await ownWorkDirs(), dirsBefore);
});

test.serial('a plugin config one proxy\'s Envoy refuses: the mesh starts, that filter answers 500, its notes say why', async t => {
	// rust-strict-config refuses to configure without its JSON configuration: Envoy NACKs its ECDS config.
	const mesh = await meshFor(t, { model: await bookinfoMesh({ reviews: ['rust-strict-config'] }) });
	t.is((await mesh.request('/', { host: 'bookinfo.example.com' })).status, 200, 'the other proxies serve');
	const response = await mesh.workload('productpage').request('http://reviews:9080/x');
	t.is(response.status, 500);
	t.is(await mesh.workload('reviews').recordings.hits(), 0);
	t.true(mesh.proxy('reviews').notes.some(note => /^envoy: refused TypedExtensionConfig at start: .*reviews\.rust-strict-config/.test(note)), mesh.proxy('reviews').notes.join('\n'));
	t.deepEqual(mesh.proxy('productpage').notes.filter(note => note.startsWith('envoy:')), []);
});
