import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import net from 'node:net';
import os from 'node:os';
import test from 'ava';
import { execa } from 'execa';
import got from 'got';
import { MeshboxError, mockService, startSandbox, type Sandbox } from '../../src/index.ts';
import { sendRequest } from '../../src/scenario/http-client.ts';
import { moduleExporting } from '../helpers/wasm-bytes.ts';
import { childEnvoys, isRunning, ownWorkDirs } from '../helpers/leftovers.ts';
import { repoRoot, seedWasm, strictConfigWasm } from '../helpers/paths.ts';

// This file is about a dedicated Envoy's life (a process per sandbox, gone at stop(), its ports freed):
// every sandbox here gets one. Warm Envoys, which outlive their sandboxes, have ./warm.test.ts.
process.env.MESHBOX_FRESH = '1';

// Tests in this file start and stop Envoys and check that none is left: run them one at a time.
const serial = test.serial;

async function withSandbox(box: Sandbox, body: () => Promise<void>): Promise<void> {
	try {
		await body();
	} finally {
		await box.stop();
	}
}

async function assertNothingLeft(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }): Promise<void> {
	t.deepEqual(await childEnvoys(), [], 'no Envoy process is left');
	t.deepEqual(await ownWorkDirs(), [], 'no work directory is left');
}

serial('without plugins a request reaches the hello-world upstream, which records it', async t => {
	const box = await startSandbox();
	await withSandbox(box, async () => {
		const response = await box.request('/greet?x=1', { method: 'POST', headers: { host: 'app.example.com', 'x-test': 'yes' }, body: 'ping' });
		t.is(response.status, 200);
		t.is(response.body, 'Hello, world!\n');
		t.truthy(response.headers['x-envoy-upstream-service-time'], 'the router forwarded it');
		t.is(await box.upstream.hits(), 1);
		const [recorded] = await box.upstream.requests();
		t.like(recorded, { method: 'POST', path: '/greet?x=1', body: 'ping' });
		t.like(recorded?.headers, { host: 'app.example.com', 'x-test': 'yes', 'x-forwarded-proto': 'http' });
		t.regex(recorded?.headers['x-request-id'] ?? '', /^[\da-f-]{36}$/, 'Envoy added a request id');
		await box.upstream.clear();
		t.is(await box.upstream.hits(), 0);
	});
	await assertNothingLeft(t);
});

serial('free ports are chosen when none are given, so sandboxes run side by side', async t => {
	const [first, second] = await Promise.all([startSandbox(), startSandbox()]);
	try {
		t.not(first.url, second.url);
		t.not(first.adminUrl, second.adminUrl);
		t.regex(first.url, /^http:\/\/127\.0\.0\.1:\d+$/);
		t.is((await first.request('/')).status, 200);
		t.is((await second.request('/')).status, 200);
	} finally {
		await Promise.all([first.stop(), second.stop()]);
	}

	await assertNothingLeft(t);
});

serial('stop() ends Envoy and frees its ports', async t => {
	const box = await startSandbox({ plugins: [{ name: 'seed', wasm: seedWasm }] });
	const port = Number(new URL(box.url).port);
	await box.stop();
	await box.stop();
	await assertNothingLeft(t);
	await t.notThrowsAsync(listenOnce(port), 'the listener port is free again');
});

serial('Envoy stats are read by prefix', async t => {
	const box = await startSandbox();
	await withSandbox(box, async () => {
		for (let index = 0; index < 3; index++) {
			await box.request('/');
		}

		const stats = await box.stats('http.ingress_http.downstream_rq_');
		t.is(stats.counters.get('http.ingress_http.downstream_rq_total'), 3);
		t.is(stats.counters.get('http.ingress_http.downstream_rq_2xx'), 3);
		t.false([...stats.counters.keys()].some(name => !name.startsWith('http.ingress_http.downstream_rq_')));
	});
});

serial('a port already in use is reported before Envoy starts, and nothing is left behind', async t => {
	const blocker = net.createServer();
	await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve));
	const { port } = blocker.address() as net.AddressInfo;
	try {
		const error = await t.throwsAsync(startSandbox({ port, plugins: [{ name: 'seed', wasm: seedWasm }] }), { instanceOf: MeshboxError });
		t.is(error?.code, 'PORT_IN_USE');
		t.is(error?.message, `listener port ${port} on 127.0.0.1 is already in use by another process`);
		t.regex(error?.hint ?? '', /--port/);
	} finally {
		blocker.close();
	}

	await assertNothingLeft(t);
});

serial('a plugin whose on_configure returns false: Envoy\'s reason and the plugin\'s own message', async t => {
	const error = await t.throwsAsync(startSandbox({ plugins: [{ name: 'strict', wasm: strictConfigWasm, configuration: { header: 'x-a' } }] }), { instanceOf: MeshboxError });
	t.is(error?.code, 'ENVOY_REJECTED_CONFIG');
	t.is(error?.message, 'Envoy refused to load plugin "strict": invalid plugin configuration: missing string field "value" (got: {"header":"x-a"})');
	t.true(error?.details?.some(line => line.includes('Unable to create Wasm plugin strict')), error?.describe());
	await assertNothingLeft(t);
});

serial('the same plugin with a valid configuration adds its header', async t => {
	const box = await startSandbox({ plugins: [{ name: 'strict', wasm: strictConfigWasm, configuration: { header: 'x-configured', value: 'yes' } }] });
	await withSandbox(box, async () => {
		const response = await box.request('/');
		t.is(response.headers['x-configured'], 'yes');
		t.is(response.body, 'Hello, world!\n');
	});
});

serial('a wasm file that is not a proxy-wasm plugin is refused before any Envoy starts', async t => {
	const { writeFile, mkdtemp, rm } = await import('node:fs/promises');
	const dir = await mkdtemp(`${os.tmpdir()}/meshbox-test-noabi-`);
	try {
		await writeFile(`${dir}/plain.wasm`, moduleExporting(['run', 'malloc']));
		const error = await t.throwsAsync(startSandbox({ plugins: [`${dir}/plain.wasm`] }), { instanceOf: MeshboxError });
		t.is(error?.code, 'PLUGIN_NO_ABI');
		t.regex(error?.message ?? '', /plugin "plain" .*exports no proxy_abi_version_\* function/);
	} finally {
		await rm(dir, { recursive: true, force: true });
	}

	await assertNothingLeft(t);
});

serial('the Envoy of a harness killed with SIGKILL is reaped by the next start', async t => {
	const child = execa('node', ['--import', 'tsx', 'test/helpers/orphan-sandbox.ts'], { cwd: repoRoot, reject: false });
	const report = await new Promise<{ envoyPid: number; workDir: string }>((resolve, reject) => {
		child.stdout?.on('data', (chunk: Buffer) => {
			resolve(JSON.parse(chunk.toString()) as { envoyPid: number; workDir: string });
		});
		void child.then(result => reject(new Error(`orphan-sandbox exited early: ${result.stderr}`)));
	});
	child.kill('SIGKILL');
	await child;
	t.true(await isRunning(report.envoyPid), 'the orphaned Envoy still runs after its owner was killed');

	const box = await startSandbox();
	await box.stop();
	t.false(await isRunning(report.envoyPid), 'the next start killed it');
	t.false((await readdir(os.tmpdir())).includes(report.workDir), 'and removed its work directory');
});

serial('a work dir left without its owner.json (its process killed right after making it) is removed by a start a minute later; other meshbox-* dirs stay', async t => {
	const leftover = await mkdtemp(path.join(os.tmpdir(), 'meshbox-'));
	const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-scratch-'));
	const fresh = await mkdtemp(path.join(os.tmpdir(), 'meshbox-'));
	try {
		const twoMinutesAgo = new Date(Date.now() - 120_000);
		await utimes(leftover, twoMinutesAgo, twoMinutesAgo);
		await utimes(scratch, twoMinutesAgo, twoMinutesAgo);
		const box = await startSandbox();
		await box.stop();
		const names = await readdir(os.tmpdir());
		t.false(names.includes(path.basename(leftover)), 'the old ownerless work dir is gone');
		t.true(names.includes(path.basename(scratch)), 'a dir named otherwise is not a work dir');
		t.true(names.includes(path.basename(fresh)), 'a new one may still be getting its owner.json');
	} finally {
		await Promise.all([leftover, scratch, fresh].map(async dir => rm(dir, { recursive: true, force: true })));
	}
});

serial('if Envoy dies mid-scenario, the next request says so, with the end of its log', async t => {
	const box = await startSandbox();
	await withSandbox(box, async () => {
		t.is((await box.request('/')).status, 200);
		const [envoyPid] = await childEnvoys();
		process.kill(envoyPid!, 'SIGKILL');
		const waiting = await t.throwsAsync(box.waitFor(() => false), { instanceOf: MeshboxError }, 'waitFor gives up as soon as Envoy is gone');
		t.is(waiting?.code, 'ENVOY_EXITED');
		const error = await t.throwsAsync(box.request('/'), { instanceOf: MeshboxError });
		t.is(error?.code, 'ENVOY_EXITED');
		t.regex(error?.message ?? '', /Envoy exited \(signal SIGKILL\) while the scenario was running/);
	});
	await assertNothingLeft(t);
});

serial('waitForLog resolves when a matching plugin line arrives, and with undefined after its timeout', async t => {
	const box = await startSandbox({ plugins: [{ name: 'seed', wasm: seedWasm }] });
	await withSandbox(box, async () => {
		const waiting = box.waitForLog({ plugin: 'seed', message: /Received request for: later\.example \/late/ }, 10_000);
		await box.request('/late', { headers: { host: 'later.example' } });
		t.like(await waiting, { plugin: 'seed', level: 'info', context: 'stream' });
		t.is(await box.waitForLog({ message: 'never logged' }, 200), undefined);
		t.deepEqual((await box.logs({ minLevel: 'warn' })).map(entry => entry.message), [], 'nothing at warn or above');
	});
});

serial('mock services: a cluster per mock, each call recorded, the handler\'s answer served', async t => {
	const box = await startSandbox({
		clusters: {
			auth: mockService(request => ({ status: request.path === '/deny' ? 403 : 200, headers: { 'x-mock': 'auth' }, body: `seen ${request.method} ${request.path}` })),
		},
	});
	await withSandbox(box, async () => {
		const clusters = await got(`${box.adminUrl}/clusters`).text();
		const [, mockAddress] = /^auth::(127\.0\.0\.1:\d+)::/m.exec(clusters) ?? [];
		t.truthy(mockAddress, 'Envoy has a cluster named auth');
		const response = await got(`http://${mockAddress!}/deny`, { throwHttpErrors: false });
		t.is(response.statusCode, 403);
		t.is(response.headers['x-mock'], 'auth');
		t.is(response.body, 'seen GET /deny');
		t.is(await box.mocks.auth?.hits(), 1);
		t.is(await box.upstream.hits(), 0);
	});
});

async function listenOnce(port: number): Promise<void> {
	const server = net.createServer();
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, '127.0.0.1', resolve);
	});
	await new Promise<void>(resolve => server.close(() => resolve()));
}

serial('HTTP/2 cleartext and trailers both ways reach the app through Envoy', async t => {
	const box = await startSandbox();
	await withSandbox(box, async () => {
		const h2 = await box.request('/over-h2', { http2: true, method: 'POST', headers: { host: 'h2.example' }, body: 'abc', trailers: { 'x-client-trailer': 'two' } });
		t.is(h2.status, 200);
		t.is(h2.httpVersion, '2');
		t.is(h2.body, 'Hello, world!\n');
		const h1 = await box.request('/over-h1', { method: 'POST', body: 'def', trailers: { 'x-client-trailer': 'one' } });
		t.is(h1.httpVersion, '1.1');
		const [viaH2, viaH1] = await box.upstream.requests();
		t.like(viaH2, { path: '/over-h2', body: 'abc', trailers: { 'x-client-trailer': 'two' } });
		t.is(viaH2?.headers.host, 'h2.example', 'the :authority became the upstream host header');
		t.like(viaH1, { path: '/over-h1', body: 'def', trailers: { 'x-client-trailer': 'one' } });
	});
});

serial('mock services can send trailers and can reset the connection', async t => {
	const box = await startSandbox({
		clusters: {
			trailing: mockService({ status: 200, body: 'with trailers', trailers: { 'x-mock-trailer': 'yes' } }),
			broken: mockService({ reset: true }),
		},
	});
	await withSandbox(box, async () => {
		const clusters = await got(`${box.adminUrl}/clusters`).text();
		const address = (name: string) => new RegExp(`^${name}::(127\\.0\\.0\\.1:\\d+)::`, 'm').exec(clusters)?.[1];
		const trailing = await sendRequest({ url: new URL(`http://${address('trailing')!}/`), method: 'GET', headers: {}, http2: false, timeoutMs: 5000 });
		t.is(trailing.body, 'with trailers');
		t.deepEqual(trailing.trailers, { 'x-mock-trailer': 'yes' });
		await t.throwsAsync(sendRequest({ url: new URL(`http://${address('broken')!}/`), method: 'GET', headers: {}, http2: false, timeoutMs: 5000 }), { message: /socket hang up|ECONNRESET/ });
		t.is(await box.mocks.broken?.hits(), 1, 'the reset call was still recorded');
	});
});
