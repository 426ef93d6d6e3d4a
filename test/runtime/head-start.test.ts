/**
 * `meshbox up`'s head start (src/runtime/local/head-start.ts): the second `up` of a command in a directory
 * starts Envoy as the first one did, before its code is loaded, with that run's modules compiled from Envoy's
 * boot on, and adopts it only when it is the Envoy it would start. Each test works in a directory of its own, so
 * the record it reads is the one it wrote.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import got from 'got';
import { RunningCli } from '../helpers/cli.ts';
import { isRunning } from '../helpers/leftovers.ts';
import { cacheDir } from '../../src/util/cache-dir.ts';
import { provisionEnvoy } from '../../src/envoy-binary/provision.ts';
import { fixturePlugin, seedWasm } from '../helpers/paths.ts';
import { freePort } from '../helpers/ports.ts';

const listening = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/;
const startedAhead = /^meshbox: Envoy started ahead, as this command started it last time/;

async function project(plugin: string, config = ''): Promise<string> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-head-start-'));
	await copyFile(plugin, path.join(dir, 'plugin.wasm'));
	await writeFile(path.join(dir, 'meshbox.yaml'), `plugins:\n  - name: mine\n    wasm: plugin.wasm\n${config}`);
	return dir;
}

/** Runs `meshbox up` in `dir` until "listening on", then `inside(url, cli)`, then Ctrl+C. */
async function up(dir: string, args: readonly string[], inside: (url: string, cli: RunningCli) => Promise<void> = async () => undefined): Promise<RunningCli> {
	const cli = RunningCli.start(['up', '--port', '0', ...args], { cwd: dir });
	try {
		const [, url] = await cli.waitForLine(listening);
		await inside(url!, cli);
	} finally {
		await cli.stop('SIGINT');
	}

	return cli;
}

/** The work dirs (`$TMPDIR/meshbox-*`) process `ownerPid` left, with their Envoys still running. */
async function leftBy(ownerPid: number): Promise<{ dirs: string[]; envoys: number[] }> {
	const left = { dirs: [] as string[], envoys: [] as number[] };
	for (const name of await readdir(os.tmpdir())) {
		const owner = await readFile(path.join(os.tmpdir(), name, 'owner.json'), 'utf8').then(text => JSON.parse(text) as { ownerPid?: number; envoyPid?: number }, () => undefined);
		if (owner?.ownerPid === ownerPid) {
			left.dirs.push(name);
			if (owner.envoyPid && await isRunning(owner.envoyPid)) {
				left.envoys.push(owner.envoyPid);
			}
		}
	}

	return left;
}

/** Running Envoys whose command line names a file under `dir`. */
async function envoysUnder(dir: string): Promise<number[]> {
	const pids: number[] = [];
	for (const name of (await readdir('/proc')).filter(entry => /^\d+$/.test(entry))) {
		const commandLine = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
		if (commandLine.includes('envoy') && commandLine.includes(dir) && await isRunning(Number(name))) {
			pids.push(Number(name));
		}
	}

	return pids;
}

test.serial('the second `meshbox up` of a command starts Envoy ahead, with the plugin compiled from its boot on, and serves the same', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	// The same command twice (its arguments are part of what is recorded).
	const first = await up(dir, ['--verbose']);
	t.false(first.lines.some(line => startedAhead.test(line)), 'a first run has nothing to start ahead from');

	const second = await up(dir, ['--verbose'], async (url, cli) => {
		const response = await got(`${url}/hello`, { headers: { host: 'my-app.example.com' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.statusCode, 200);
		t.is(response.body, 'Hello from Wasm!\n');
		const [, admin] = await cli.waitForLine(/^meshbox: admin on (http:\/\/127\.0\.0\.1:\d+)$/);
		t.regex(await got(`${admin!}/listeners`).text(), /^meshbox_pins::/m, 'the pins listener is in Envoy (README: what a head start adds)');
		await cli.waitForLine(/ mine: Received request for: my-app\.example\.com \/hello$/);
	});
	t.true(second.lines.some(line => /^meshbox: Envoy started ahead, as this command started it last time \(1 plugin\(s\) loaded from its boot on\)$/.test(line)), second.lines.join('\n'));
	t.false(second.lines.some(line => line.includes('meshbox-pin-')), 'no pin\'s line is shown, not even with --verbose');
	t.is(second.process.exitCode, 0);
});

test.serial('a plugin started at Envoy\'s boot logs its start once, as without a head start; a changed configuration is not adopted', async t => {
	const dir = await project(fixturePlugin('rust-config'), '    vmConfiguration: hello-vm\n    configuration: { header: x-start, value: v }\n');
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const startLines = (cli: RunningCli) => cli.lines.filter(line => / mine: (vm configuration: hello-vm|plugin configuration: .*)$/.test(line));
	const first = await up(dir, []);
	const second = await up(dir, [], async url => {
		const response = await got(`${url}/`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.headers['x-start'], 'v', 'the preloaded plugin answers with its configuration');
	});
	t.true(second.lines.some(line => startedAhead.test(line)), second.lines.join('\n'));
	t.true(startLines(first).length > 0);
	t.deepEqual(startLines(second).map(line => line.replace(/^\[[^\]]*\] /, '')), startLines(first).map(line => line.replace(/^\[[^\]]*\] /, '')),
		'on_vm_start and on_configure ran as often as without a head start (the sandbox\'s filter found the VMs and root contexts made at boot)');

	await writeFile(path.join(dir, 'meshbox.yaml'), 'plugins:\n  - name: mine\n    wasm: plugin.wasm\n    vmConfiguration: hello-vm\n    configuration: { header: x-start, value: w }\n');
	const third = await up(dir, [], async url => {
		const response = await got(`${url}/`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.headers['x-start'], 'w');
	});
	t.true(third.lines.includes('meshbox: the config changed since the last `meshbox up` of this command: starting Envoy anew'), third.lines.join('\n'));
	t.false(third.lines.some(line => line.endsWith('"value":"v"}')), 'no root context of the old configuration is left logging');
});

test.serial('under --watch the modules are preloaded as pins only (a reload leaves no old root context logging under the plugin\'s name)', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	await up(dir, ['--watch']);
	const second = await up(dir, ['--watch'], async url => {
		const response = await got(`${url}/hello`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.body, 'Hello from Wasm!\n');
	});
	t.true(second.lines.includes('meshbox: Envoy started ahead, as this command started it last time (1 module(s) compiled from its boot on)'), second.lines.join('\n'));
});

type RecordJson = { envoyPath: string; preloads: Array<{ source: string; module: string }> };

/** The head-start record of `dir`'s runs (the one whose preload is this project's plugin file), and its file. */
async function recordOf(dir: string): Promise<{ file: string; record: RecordJson }> {
	const records = path.join(cacheDir(), 'head-start');
	const plugin = path.join(dir, 'plugin.wasm');
	const found: Array<{ file: string; record: RecordJson }> = [];
	for (const name of (await readdir(records)).filter(entry => entry.endsWith('.json'))) {
		const file = path.join(records, name);
		const record = await readFile(file, 'utf8').then(text => JSON.parse(text) as RecordJson, () => undefined);
		if (record?.preloads.some(preload => preload.source === plugin)) {
			found.push({ file, record });
		}
	}

	if (found.length !== 1) {
		throw new Error(`${found.length} head-start records name ${plugin}`);
	}

	return found[0]!;
}

async function sha256Of(file: string): Promise<string> {
	return createHash('sha256').update(await readFile(file)).digest('hex');
}

test.serial('a recorded Envoy that cannot be started (not executable any more): `up` starts its own', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	await up(dir, []);
	const { file, record } = await recordOf(dir);
	const notExecutable = path.join(dir, 'envoy');
	await writeFile(notExecutable, 'not a program\n');
	await writeFile(file, JSON.stringify({ ...record, envoyPath: notExecutable }));
	const second = await up(dir, [], async url => {
		const response = await got(`${url}/hello`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.body, 'Hello from Wasm!\n');
	});
	t.is(second.process.exitCode, 0, second.lines.join('\n'));
	t.false(second.lines.some(line => startedAhead.test(line)), second.lines.join('\n'));
});

test.serial('a record naming another program as Envoy: it is never run, and `up` starts its own Envoy', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	await up(dir, []);
	const { file, record } = await recordOf(dir);
	// What a record edited by someone else (or left by another tool) could name: any executable.
	const marker = path.join(dir, 'it-ran');
	const program = path.join(dir, 'not-envoy.sh');
	await writeFile(program, `#!/bin/sh\necho "$@" > '${marker}'\nexec '${record.envoyPath}' "$@"\n`);
	await chmod(program, 0o755);
	await writeFile(file, JSON.stringify({ ...record, envoyPath: program }));
	const second = await up(dir, [], async url => {
		const response = await got(`${url}/hello`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.body, 'Hello from Wasm!\n');
	});
	t.is(second.process.exitCode, 0, second.lines.join('\n'));
	await t.throwsAsync(readFile(marker, 'utf8'), { code: 'ENOENT' }, 'the recorded program was not run');
	t.false(second.lines.some(line => startedAhead.test(line)), second.lines.join('\n'));
});

test.serial('a record whose bootstrap is not what meshbox writes (an admin access log) is never run', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	await up(dir, []);
	const { file, record } = await recordOf(dir);
	const marker = path.join(dir, 'admin-access.log');
	const { bootstrap } = record as RecordJson & { bootstrap: { admin: Record<string, unknown> } };
	// Envoy creates an access log's file as it starts: the file says whether this bootstrap ran.
	bootstrap.admin.access_log = [{ name: 'envoy.access_loggers.file', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: marker } }];
	await writeFile(file, JSON.stringify(record));
	const second = await up(dir, [], async url => {
		const response = await got(`${url}/hello`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.body, 'Hello from Wasm!\n');
	});
	t.is(second.process.exitCode, 0, second.lines.join('\n'));
	await t.throwsAsync(readFile(marker, 'utf8'), { code: 'ENOENT' }, 'the recorded bootstrap was not run');
});

test.serial('a module copy in the cache replaced by another plugin is not run: the user\'s plugin runs, its log lines are its own', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	await up(dir, []);
	const { record } = await recordOf(dir);
	const copy = record.preloads[0]!.module;
	// rust-config logs `vm configuration: …` and `plugin configuration: …` as it starts; seed-rust logs neither.
	await copyFile(fixturePlugin('rust-config'), copy);
	const second = await up(dir, [], async (url, cli) => {
		const response = await got(`${url}/hello`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.body, 'Hello from Wasm!\n');
		await cli.waitForLine(/ mine: Received request for: x \/hello$/);
	});
	t.is(second.process.exitCode, 0, second.lines.join('\n'));
	t.false(second.lines.some(line => / mine: (vm|plugin) configuration: /.test(line)), `no line of the other plugin under the name mine:\n${second.lines.join('\n')}`);
	t.is(await sha256Of(copy), path.basename(copy, '.wasm'), 'the copy is the module its name says again (written by the second run)');
});

test.serial('a module copy cut short: `up` works, and the next `up` has its head start again', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	await up(dir, []);
	const { record } = await recordOf(dir);
	const copy = record.preloads[0]!.module;
	// What a full disk or a killed copy leaves.
	await truncate(copy, 1000);
	const hello = async (url: string) => {
		const response = await got(`${url}/hello`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.body, 'Hello from Wasm!\n');
	};

	const second = await up(dir, [], hello);
	t.is(second.process.exitCode, 0, second.lines.join('\n'));
	t.is(await sha256Of(copy), path.basename(copy, '.wasm'), 'the copy was repaired');
	const third = await up(dir, [], hello);
	t.true(third.lines.includes('meshbox: Envoy started ahead, as this command started it last time (1 plugin(s) loaded from its boot on)'), third.lines.join('\n'));
});

test.serial('an Envoy started ahead that dies before its sandbox started: `up` starts its own, and the next `up` has its head start again', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	// The user's Envoy (--envoy-bin): a wrapper of the real one that, once armed, starts, lives 3 s and exits 1,
	// long enough to be adopted: what an Envoy that cannot load what it was started with does, later.
	const real = (await provisionEnvoy()).path;
	const armed = path.join(dir, 'die-once');
	const wrapper = path.join(dir, 'envoy.sh');
	await writeFile(wrapper, `#!/bin/sh\nif [ "$1" != --version ] && [ -e '${armed}' ]; then sleep "$(cat '${armed}')"; rm -f '${armed}'; exit 1; fi\nexec '${real}' "$@"\n`);
	await chmod(wrapper, 0o755);
	const hello = async (url: string) => {
		const response = await got(`${url}/hello`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.body, 'Hello from Wasm!\n');
	};

	await up(dir, ['--envoy-bin', wrapper]);
	await writeFile(armed, '3');
	const second = await up(dir, ['--envoy-bin', wrapper], hello);
	t.is(second.process.exitCode, 0, second.lines.join('\n'));
	t.true(second.lines.some(line => startedAhead.test(line)), `the Envoy started ahead was adopted, then died:\n${second.lines.join('\n')}`);
	const third = await up(dir, ['--envoy-bin', wrapper], hello);
	t.true(third.lines.includes('meshbox: Envoy started ahead, as this command started it last time (1 plugin(s) loaded from its boot on)'), third.lines.join('\n'));

	// Dead at once: gone before `up` could adopt it. No head start, and nothing said about a config that did not change.
	await writeFile(armed, '0');
	const fourth = await up(dir, ['--envoy-bin', wrapper], hello);
	t.is(fourth.process.exitCode, 0, fourth.lines.join('\n'));
	t.false(fourth.lines.some(line => startedAhead.test(line) || line.includes('the config changed')), fourth.lines.join('\n'));
});

test.serial('a changed Envoy setting: the Envoy started ahead is stopped, and one with the new setting serves', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	await up(dir, []);
	await writeFile(path.join(dir, 'meshbox.yaml'), 'plugins:\n  - name: mine\n    wasm: plugin.wasm\nenvoy:\n  logLevel: warning\n');
	const second = await up(dir, [], async url => {
		const response = await got(`${url}/hello`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.statusCode, 200);
	});
	t.true(second.lines.includes('meshbox: the config changed since the last `meshbox up` of this command: starting Envoy anew'), second.lines.join('\n'));
	t.false(second.lines.some(line => startedAhead.test(line)));
	t.deepEqual(await leftBy(second.process.pid!), { dirs: [], envoys: [] }, 'neither Envoy nor its dir is left');
});

test.serial('a rebuilt plugin is not pinned from the old build: the new module serves', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	await up(dir, []);
	// Another module at the same path: what a rebuild does.
	await copyFile(fixturePlugin('rust-headers'), path.join(dir, 'plugin.wasm'));
	const second = await up(dir, [], async url => {
		const response = await got(`${url}/hello`, { headers: { host: 'x' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.not(response.body, 'Hello from Wasm!\n', 'the old build does not answer');
		t.is(response.statusCode, 200);
	});
	t.true(second.lines.some(line => /^meshbox: Envoy started ahead, as this command started it last time$/.test(line)), second.lines.join('\n'));
});

test.serial('a head start whose sandbox cannot start (its port is taken): `up` says so, exits 1 and leaves nothing', async t => {
	const dir = await project(seedWasm);
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const port = String(await freePort());
	const first = RunningCli.start(['up', '--port', port], { cwd: dir });
	await first.waitForLine(listening);
	t.is(await first.stop('SIGINT'), 0);

	const blocker = net.createServer();
	await new Promise<void>(resolve => blocker.listen(Number(port), '127.0.0.1', resolve));
	t.teardown(() => blocker.close());
	const second = RunningCli.start(['up', '--port', port], { cwd: dir });
	// The control plane's port, bound ahead, used to keep the process alive after the error.
	const exited = await Promise.race([second.process.then(result => result.exitCode), new Promise(resolve => setTimeout(resolve, 20_000, 'still running'))]);
	if (exited === 'still running') {
		await second.stop('SIGKILL');
	}

	t.is(exited, 1, second.lines.join('\n'));
	t.true(second.lines.some(line => startedAhead.test(line)), second.lines.join('\n'));
	t.true(second.lines.includes(`meshbox up: listener port ${port} on 127.0.0.1 is already in use by another process`), second.lines.join('\n'));
	t.deepEqual(await leftBy(second.process.pid!), { dirs: [], envoys: [] });
});

test.serial('Ctrl+C while Envoy starts ahead leaves no Envoy and no work dir', async t => {
	const dir = await project(seedWasm);
	// The runs' own temp dir: whatever they make there, and leave, is theirs.
	const tmp = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-head-start-tmp-'));
	t.teardown(async () => Promise.all([dir, tmp].map(async each => rm(each, { recursive: true, force: true }))));
	const env = { TMPDIR: tmp };
	const first = RunningCli.start(['up', '--port', '0'], { cwd: dir, env });
	await first.waitForLine(listening);
	await first.stop('SIGINT');
	for (const delayMs of [60, 70, 80, 90, 100, 120, 160, 220]) {
		const cli = RunningCli.start(['up', '--port', '0'], { cwd: dir, env });
		await new Promise(resolve => setTimeout(resolve, delayMs));
		const pid = cli.process.pid!;
		await cli.stop('SIGINT');
		// Work dirs (the start slots' lock dir stays by design, src/runtime/start-slots.ts; tsx keeps a cache there).
		t.deepEqual((await readdir(tmp)).filter(name => name.startsWith('meshbox-')), [], `after Ctrl+C at ${delayMs} ms:\n${cli.lines.join('\n')}`);
		t.deepEqual(await envoysUnder(tmp), [], `no Envoy after Ctrl+C at ${delayMs} ms`);
		t.false(await isRunning(pid));
	}
});

test.serial('after `kill -9` of `meshbox up` (its Envoy orphaned), the next `up` on the same port starts, every time', async t => {
	const dir = await project(seedWasm);
	// The runs' own temp dir: the work dirs (and owner records) the reaper reads are theirs alone.
	const tmp = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-head-start-tmp-'));
	t.teardown(async () => Promise.all([dir, tmp].map(async each => rm(each, { recursive: true, force: true }))));
	const env = { TMPDIR: tmp };
	const port = String(await freePort());
	// The first run records the head start: the runs below start Envoy ahead, as a user's second `up` does.
	const first = RunningCli.start(['up', '--port', port], { cwd: dir, env });
	await first.waitForLine(listening);
	t.is(await first.stop('SIGINT'), 0);
	for (let attempt = 1; attempt <= 5; attempt++) {
		const cli = RunningCli.start(['up', '--port', port], { cwd: dir, env });
		const started = await cli.waitForLine(listening).then(() => true, () => false);
		// What closing a terminal with `kill -9 <meshbox>` leaves: Envoy, its child, orphaned and still listening.
		await cli.stop('SIGKILL');
		t.true(started, `attempt ${attempt}:\n${cli.lines.join('\n')}`);
		if (!started) {
			break;
		}
	}

	const final = RunningCli.start(['up', '--port', port], { cwd: dir, env });
	t.truthy(await final.waitForLine(listening).catch(() => undefined), final.lines.join('\n'));
	t.is(await final.stop('SIGINT'), 0);
	t.deepEqual(await envoysUnder(tmp), [], 'the orphans were reaped, and the last run stopped its own');
	t.deepEqual((await readdir(tmp)).filter(name => /^meshbox-\w{6}$/.test(name)), []);
});
