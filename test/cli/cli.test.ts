import { access, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import got from 'got';
import { parse } from 'yaml';
import { runCli, RunningCli, workDirOf } from '../helpers/cli.ts';
import { isRunning } from '../helpers/leftovers.ts';
import { fixturePlugin, repoRoot, seedWasm, strictConfigWasm } from '../helpers/paths.ts';
import { freePort } from '../helpers/ports.ts';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-cli-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

async function scratchFile(name: string, text: string): Promise<string> {
	const file = path.join(scratch, name);
	await writeFile(file, text);
	return file;
}

async function scratchDir(name: string): Promise<string> {
	const dir = path.join(scratch, name);
	await mkdir(dir);
	return dir;
}

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
	t.regex(result.stderr, /^meshbox up: --plugin #1 \(no\/such\/plugin\.wasm\): plugin "plugin": wasm file not found: .*no\/such\/plugin\.wasm$/m);
	t.regex(result.stderr, /^→ /m, 'followed by what to do');
	t.notRegex(result.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

test('`meshbox up` shows what plugins log while Envoy starts (on_vm_start, on_configure), before "listening on"', async t => {
	const config = await scratchFile('start-logs.yaml', [
		'plugins:',
		'  - name: cfg',
		`    wasm: ${fixturePlugin('rust-config')}`,
		'    vmConfiguration: hello-vm',
		'    configuration: { header: x-start, value: v }',
	].join('\n'));
	const cli = RunningCli.start(['up', '--port', '0', '--config', config]);
	try {
		await cli.waitForLine(listening);
		// Printed on stdout before the "listening on" line, so they are there once it is.
		const listeningAt = cli.lines.findIndex(line => listening.test(line));
		const vmStart = cli.lines.findIndex(line => line.endsWith(' cfg: vm configuration: hello-vm'));
		const configure = cli.lines.findIndex(line => line.endsWith(' cfg: plugin configuration: {"header":"x-start","value":"v"}'));
		t.true(vmStart >= 0 && vmStart < listeningAt, `on_vm_start's log line is shown:\n${cli.lines.join('\n')}`);
		t.true(configure >= 0 && configure < listeningAt, `on_configure's log line is shown:\n${cli.lines.join('\n')}`);
		t.false(cli.lines.some(line => line.startsWith('envoy [info]')), 'without --verbose, Envoy\'s own start-up log is not');
	} finally {
		t.is(await cli.stop('SIGTERM'), 0, cli.lines.join('\n'));
	}
});

test('`meshbox up --verbose` also shows Envoy\'s start-up log', async t => {
	const cli = RunningCli.start(['up', '--port', '0', '--verbose']);
	try {
		await cli.waitForLine(listening);
		const listeningAt = cli.lines.findIndex(line => listening.test(line));
		const initializing = cli.lines.findIndex(line => /^envoy \[info\]\[main\] initializing epoch 0/.test(line));
		t.true(initializing >= 0 && initializing < listeningAt, cli.lines.join('\n'));
	} finally {
		t.is(await cli.stop('SIGTERM'), 0, cli.lines.join('\n'));
	}
});

test('`port: 0` in the config file: `meshbox up` listens on a free port (not 10000) and prints it', async t => {
	const config = await scratchFile('port-zero.yaml', `port: 0\nplugins:\n  - name: seed\n    wasm: ${seedWasm}\n`);
	const cli = RunningCli.start(['up', '--config', config]);
	try {
		const [, url, port] = await cli.waitForLine(listening);
		t.not(port, '10000');
		const response = await got(`${url}/hello`, { headers: { host: 'my-app.example.com' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.body, 'Hello from Wasm!\n', 'the printed port is where the sandbox listens');
	} finally {
		t.is(await cli.stop('SIGTERM'), 0, cli.lines.join('\n'));
	}
});

test('--plugin NAME=FILE names plugins: two builds called main.wasm run side by side', async t => {
	const dir = await scratchDir('named');
	await mkdir(path.join(dir, 'a'));
	await mkdir(path.join(dir, 'b'));
	await copyFile(fixturePlugin('rust-headers'), path.join(dir, 'a', 'main.wasm'));
	await copyFile(fixturePlugin('rust-config'), path.join(dir, 'b', 'main.wasm'));
	const result = await runCli(['render', '--plugin', 'headers=a/main.wasm', '--plugin', 'config=b/main.wasm'], { cwd: dir });
	t.is(result.exitCode, 0, result.stderr);
	t.deepEqual(wasmFilters(result.stdout), [{ name: 'headers', file: 'a/main.wasm' }, { name: 'config', file: 'b/main.wasm' }]);
});

test('--plugin: a path that contains "=" and exists is a path; NAME=FILE names it', async t => {
	const dir = await scratchDir('equals');
	const file = path.join(dir, 'v=1.wasm');
	await copyFile(seedWasm, file);
	const named = await runCli(['render', '--plugin', `seed=${file}`], { cwd: dir });
	t.is(named.exitCode, 0, named.stderr);
	t.deepEqual(wasmFilters(named.stdout), [{ name: 'seed', file: 'v=1.wasm' }]);
	// As a path it exists, so it is one; its base name "v=1" cannot name a plugin, and the error says how to name it.
	const unnamed = await runCli(['render', '--plugin', file], { cwd: dir });
	t.is(unnamed.exitCode, 2);
	t.regex(unnamed.stderr, /^meshbox render: --plugin #1 \(.*v=1\.wasm\): "v=1" is not a usable plugin name \(the file's base name\)$/m);
	t.regex(unnamed.stderr, /^→ name it: --plugin NAME=.*v=1\.wasm/m);
});

test('two --plugin files with one base name: the error names both flags, not meshbox.yaml', async t => {
	const dir = await scratchDir('collide');
	await mkdir(path.join(dir, 'a'));
	await mkdir(path.join(dir, 'b'));
	await copyFile(seedWasm, path.join(dir, 'a', 'main.wasm'));
	await copyFile(seedWasm, path.join(dir, 'b', 'main.wasm'));
	// Run where a meshbox.yaml is: the plugins still come from the command line only.
	const result = await runCli(['up', '--port', '0', '--plugin', path.join(dir, 'a', 'main.wasm'), '--plugin', path.join(dir, 'b', 'main.wasm')]);
	t.is(result.exitCode, 2, result.stderr);
	t.regex(result.stderr, /^meshbox up: --plugin #2 \(.*\/b\/main\.wasm\): plugin name "main" is used twice \(also --plugin #1 \(.*\/a\/main\.wasm\)\)$/m);
	t.regex(result.stderr, /^→ name them on the command line: --plugin NAME=FILE/m);
	t.notRegex(result.stderr, /meshbox\.yaml/);
});

test('SIGHUP (the terminal closed) stops `meshbox up`: Envoy and the work dir are gone', async t => {
	const cli = RunningCli.start(['up', '--port', '0']);
	const pid = cli.process.pid!;
	let exitCode: number | undefined;
	try {
		await cli.waitForLine(listening);
		const workDir = await workDirOf(pid);
		t.truthy(workDir?.envoyPid, 'the running sandbox has a work dir naming its Envoy');
		exitCode = await cli.hangUp();
		t.is(exitCode, 0);
		t.is(await workDirOf(pid), undefined, 'the work dir is removed');
		t.false(await access(workDir!.dir).then(() => true, () => false));
		t.false(await isRunning(workDir!.envoyPid!), 'Envoy is stopped');
	} finally {
		if (exitCode === undefined) {
			await cli.stop('SIGKILL');
		}
	}
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

test('two `meshbox up` on one port at the same moment: one serves it, the other says the port is taken and exits 1', async t => {
	// Both find the port free, so both Envoys get to bind it. Envoy's listeners default to SO_REUSEPORT, with
	// which both used to listen on it and answer its requests in turn; now the later one is refused.
	const port = await freePort();
	const clis = [RunningCli.start(['up', '--port', String(port)]), RunningCli.start(['up', '--port', String(port)])];
	try {
		const outcomes = await Promise.all(clis.map(async cli => Promise.race([
			cli.waitForLine(listening).then(() => 'serving' as const, () => 'exited' as const),
			cli.process.then(() => 'exited' as const),
		])));
		t.deepEqual([...outcomes].sort(), ['exited', 'serving'], clis.map(cli => cli.lines.join('\n')).join('\n---\n'));
		const loser = clis[outcomes.indexOf('exited')]!;
		t.is((await loser.process).exitCode, 1);
		// Refused when its Envoy binds the port (a NACK), or when it listens (the other Envoy bound it too).
		const taken = new RegExp(`listener port ${port} on 127\\.0\\.0\\.1 is already in use by another process|Envoy cannot listen on 127\\.0\\.0\\.1:${port}: Address already in use`);
		t.true(loser.lines.some(line => taken.test(line)), loser.lines.join('\n'));
		t.is(await workDirOf(loser.process.pid!), undefined, 'the refused sandbox left no work dir');
		const winner = clis[outcomes.indexOf('serving')]!;
		const hits = await Promise.all(Array.from({ length: 8 }, async () => got(`http://127.0.0.1:${port}/hello`, { headers: { host: 'my-app.example.com' }, retry: { limit: 0 } })));
		t.true(hits.every(hit => hit.body === 'Hello from Wasm!\n'));
		t.is(await winner.stop('SIGINT'), 0);
	} finally {
		await Promise.all(clis.map(async cli => (cli.process.exitCode === null ? cli.stop('SIGKILL') : undefined)));
	}
});

test('a plugin that refuses its configuration: Envoy\'s reason, exit 1', async t => {
	const config = path.join(repoRoot, 'test', 'cli', 'strict-bad.meshbox.yaml');
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

/** The wasm filters of a rendered bootstrap, in order: the plugin's name and its file. */
function wasmFilters(bootstrapYaml: string): Array<{ name: string; file: string }> {
	type Filter = { name: string; typed_config: { config?: { vm_config: { code: { local: { filename: string } } } } } };
	const bootstrap = parse(bootstrapYaml) as { static_resources: { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { http_filters: Filter[] } }> }> }> } };
	return bootstrap.static_resources.listeners[0]!.filter_chains[0]!.filters[0]!.typed_config.http_filters
		.filter(filter => filter.typed_config.config)
		.map(filter => ({ name: filter.name, file: filter.typed_config.config!.vm_config.code.local.filename }));
}

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
