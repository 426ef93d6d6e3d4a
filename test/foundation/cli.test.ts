import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import got from 'got';
import { runCli, RunningCli } from '../helpers/cli.ts';
import { repoRoot, strictConfigWasm } from '../helpers/paths.ts';

const listening = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/;

test.serial('`meshbox up` (npm run sandbox) serves the seed plugin on port 10000 and stops cleanly on SIGTERM', async t => {
	const cli = RunningCli.start(['up']);
	try {
		const [, url, port] = await cli.waitForLine(listening);
		t.is(port, '10000');
		const response = await got(`${url}/hello`, { headers: { host: 'my-app.example.com' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.statusCode, 200);
		t.is(response.headers['x-service-name'], 'my-custom-service');
		t.is(response.body, 'Hello from Wasm!\n');
		await cli.waitForLine(/my-wasm-plugin: Received request for: my-app\.example\.com \/hello$/);
	} finally {
		t.is(await cli.stop('SIGTERM'), 0, cli.lines.join('\n'));
	}

	t.true(cli.lines.some(line => line.startsWith('meshbox: using envoy 1.')), 'the Envoy version is printed at start');
	t.false(await isListening(10_000), 'nothing listens on 10000 afterwards');
});

test.serial('Ctrl+C (SIGINT) stops everything and exits 0', async t => {
	const cli = RunningCli.start(['up', '--port', '0']);
	const [, , port] = await cli.waitForLine(listening);
	const [, adminPort] = await cli.waitForLine(/^meshbox: admin on http:\/\/127\.0\.0\.1:(\d+)$/);
	t.is(await cli.stop('SIGINT'), 0, cli.lines.join('\n'));
	t.false(await isListening(Number(port)));
	t.false(await isListening(Number(adminPort)));
});

test('--plugin replaces the config\'s plugins; a missing file is one clear error and exit 1', async t => {
	const result = await runCli(['up', '--port', '0', '--plugin', 'no/such/plugin.wasm']);
	t.is(result.exitCode, 1);
	t.regex(result.stderr, /^meshbox up: plugin "plugin": wasm file not found: .*no\/such\/plugin\.wasm$/m);
	t.regex(result.stderr, /^→ /m, 'followed by what to do');
	t.notRegex(result.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

test('a port in use: one line naming the port and the flag, exit 1', async t => {
	const blocker = net.createServer();
	await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve));
	const { port } = blocker.address() as net.AddressInfo;
	try {
		const result = await runCli(['up', '--port', String(port)]);
		t.is(result.exitCode, 1);
		t.regex(result.stderr, new RegExp(`listener port ${port} on 127\\.0\\.0\\.1 is already in use`));
		t.regex(result.stderr, /pass --port/);
	} finally {
		blocker.close();
	}
});

test('a plugin that refuses its configuration: Envoy\'s reason, exit 1', async t => {
	const config = path.join(repoRoot, 'test', 'foundation', 'strict-bad.meshbox.yaml');
	const result = await runCli(['up', '--port', '0', '--config', config]);
	t.is(result.exitCode, 1);
	t.regex(result.stderr, /Envoy refused to load plugin "strict": invalid plugin configuration: missing string field "header"/);
});

test('usage errors exit 2 and show the usage', async t => {
	const result = await runCli(['up', '--prot', '1']);
	t.is(result.exitCode, 2);
	t.regex(result.stderr, /Unknown option '--prot'/);
	t.regex(result.stderr, /usage: meshbox up/);
	const unknown = await runCli(['upp']);
	t.is(unknown.exitCode, 2);
	t.regex(unknown.stderr, /unknown command "upp"/);
});

test('envoy-configs/default.yaml is what `meshbox render` prints for meshbox.yaml', async t => {
	const result = await runCli(['render']);
	t.is(result.exitCode, 0, result.stderr);
	const committed = await readFile(path.join(repoRoot, 'envoy-configs', 'default.yaml'), 'utf8');
	t.is(`${result.stdout}\n`, committed, 'run `node bin/meshbox.js render > envoy-configs/default.yaml` to refresh it');
});

test('`meshbox render --validate` has real Envoy check the output', async t => {
	const result = await runCli(['render', '--validate', '--plugin', strictConfigWasm]);
	t.is(result.exitCode, 1, 'the strict plugin without configuration does not load');
	t.regex(result.stderr, /rejects this configuration/);
	const good = await runCli(['render', '--validate']);
	t.is(good.exitCode, 0, good.stderr);
	t.regex(good.stderr, /envoy 1\.\d+\.\d+ accepts this configuration/);
});

async function isListening(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect(port, '127.0.0.1');
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});
}
