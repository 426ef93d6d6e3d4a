/**
 * `meshbox up` / `meshbox render` of a mesh (src/cli/commands/mesh-cli.ts), fed a hand-made MeshModel
 * (./mesh-models.ts) where the CLI reads meshbox.yaml through src/istio/mesh/resolve.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { meshUp, renderMesh } from '../../src/cli/commands/mesh-cli.ts';
import { sendRequest } from '../../src/scenario/http-client.ts';
import { childEnvoys } from '../helpers/leftovers.ts';
import { runCli } from '../helpers/cli.ts';
import { bookinfoMesh } from './mesh-models.ts';

test.serial('render prints every proxy, gateways first, each filter\'s origin above it, endpoints by proxy name and port', async t => {
	const lines: string[] = [];
	const code = renderMesh(await bookinfoMesh({ gateway: ['rust-headers'] }), line => lines.push(line), () => undefined, file => file);
	t.is(code, 0);
	const text = lines.join('\n');
	const documents = parseAllDocuments(text).map(document => document.toJS() as { node?: { id?: string }; static_resources?: { clusters: Array<{ name: string; load_assignment: unknown }> } } | null).filter(document => document?.node);
	t.deepEqual(documents.map(document => document!.node!.id!.split('~')[2]), ['istio-ingressgateway-0.istio-system', 'productpage-0.default', 'reviews-0.default']);
	t.regex(text, /# WasmPlugin default\/istio-ingressgateway\.rust-headers \(test\/mesh\/mesh-models\.ts\)\n\s+- name: istio-ingressgateway\.rust-headers/);
	t.regex(text, /# proxy productpage \(sidecar, namespace default, spiffe:\/\/cluster\.local\/ns\/default\/sa\/default\)/);
	const toReviews = documents[1]!.static_resources!.clusters.find(cluster => cluster.name === 'outbound|9080||reviews.default.svc.cluster.local');
	t.deepEqual(toReviews?.load_assignment, {
		cluster_name: 'outbound|9080||reviews.default.svc.cluster.local',
		endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'reviews', port_value: 9080 } } }, metadata: { filter_metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } } }] }],
	});
});

test.serial('up prints the gateway\'s URL first, then each proxy\'s admin, serves until a signal, then stops every Envoy', async t => {
	const envoysBefore = await childEnvoys();
	const out: string[] = [];
	let listening: (url: string) => void = () => undefined;
	const url = new Promise<string>(resolve => {
		listening = resolve;
	});
	const done = meshUp({ configFile: 'meshbox.yaml', watch: false, verbose: false, load: async () => bookinfoMesh() }, line => {
		out.push(line);
		const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
		if (match) {
			listening(match[1]!);
		}
	}, () => undefined);
	const gateway = await Promise.race([url, done.then(code => `exited ${code}`)]);
	t.regex(gateway, /^http:/);
	t.regex(out[0] ?? '', /^listening on /, 'the gateway\'s URL is the first line');
	t.deepEqual(out.slice(1, 4).map(line => /^proxy (\S+) \((\w+)/.exec(line)?.slice(1, 3)), [['istio-ingressgateway', 'gateway'], ['productpage', 'sidecar'], ['reviews', 'sidecar']]);
	t.regex(out[1]!, /admin http:\/\/127\.0\.0\.1:\d+/);
	t.regex(out.at(-1)!, /^try: curl -i -H 'host: bookinfo\.example\.com' http:/);
	const response = await sendRequest({ url: new URL('/x', gateway), method: 'GET', headers: { host: 'bookinfo.example.com' }, http2: false, timeoutMs: 10_000 });
	t.is(response.body, 'productpage says hi\n');

	process.emit('SIGTERM', 'SIGTERM');
	t.is(await done, 0);
	t.deepEqual(await childEnvoys(), envoysBefore);
});

test.serial('the CLI tells a mesh config by its `mesh:` and refuses --plugin and --admin-port for it, naming the file', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-mesh-cli-'));
	try {
		await writeFile(path.join(dir, 'meshbox.yaml'), 'mesh:\n  workloads:\n    - name: reviews\n');
		const result = await runCli(['up', '--plugin', 'x.wasm'], { cwd: dir });
		t.is(result.exitCode, 2);
		t.regex(result.stderr, /--plugin: meshbox\.yaml is a mesh, whose plugins come from its WasmPlugin resources/);
		const adminPort = await runCli(['up', '--admin-port', '9901'], { cwd: dir });
		t.is(adminPort.exitCode, 2);
		t.regex(adminPort.stderr, /--admin-port: meshbox\.yaml is a mesh, whose proxies each have an admin of their own/);
		t.deepEqual(await childEnvoys(), [], 'nothing started');
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
});

test.serial('up --watch: a change of the config resolves the mesh again and pushes to the proxies it changes', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-mesh-watch-'));
	const configFile = path.join(dir, 'meshbox.yaml');
	await writeFile(configFile, 'mesh: {}\n');
	const model = await bookinfoMesh();
	let body = 'reviews says hi\n';
	// The "resolver": reviews' app answers what the test set last.
	const load = async () => ({ ...model, proxies: model.proxies.map(proxy => (proxy.name === 'reviews' ? { ...proxy, sandbox: { ...proxy.sandbox, upstream: { ...proxy.sandbox.upstream, body } } } : proxy)) });
	const out: string[] = [];
	let wake = () => undefined as void;
	const next = async (pattern: RegExp) => {
		for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
			const found = out.find(line => pattern.test(line));
			if (found) {
				return found;
			}

			await new Promise<void>(resolve => {
				wake = resolve;
				setTimeout(resolve, 200);
			});
		}

		return undefined;
	};

	const done = meshUp({ configFile, watch: true, verbose: false, load }, line => {
		out.push(line);
		wake();
	}, () => undefined);
	try {
		t.truthy(await next(/^listening on /));
		const outbound = /0\.0\.0\.0_9080 \(outbound\) (http:\/\/127\.0\.0\.1:\d+)/.exec((await next(/^proxy productpage /))!)![1]!;
		body = 'reviews v2\n';
		await writeFile(configFile, 'mesh: { }\n');
		t.regex(await next(/proxy reviews reloaded/) ?? 'no reload line', /meshbox\.yaml changed: proxy reviews reloaded \(config version \d+\)/);
		t.falsy(out.find(line => /proxy (productpage|istio-ingressgateway) reloaded/.test(line)), 'only reviews changed');
		const response = await sendRequest({ url: new URL('/r', outbound), method: 'GET', headers: { host: 'reviews:9080' }, http2: false, timeoutMs: 10_000 });
		t.is(response.body, 'reviews v2\n');
	} finally {
		process.emit('SIGTERM', 'SIGTERM');
		t.is(await done, 0);
		await rm(dir, { recursive: true, force: true });
	}
});
