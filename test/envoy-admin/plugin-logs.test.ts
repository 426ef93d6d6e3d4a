/**
 * Plugin logs a user can trust (issue #20 items 16, 17), with real Envoy and real plugins: every line is
 * attributed (root contexts that share root_id and vm_id print no plugin name: such a line names all the
 * plugins it fits, and root_id tells plugins apart when it differs), `message` filters are a substring, the
 * whole message (`{ exact }`) or a RegExp, and assertLogged says how to raise Envoy's wasm logger when the
 * wanted level is below it. One sandbox at a time: they compete for the CPU.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { assertLogged, MeshboxError, startSandbox, type Sandbox, type SandboxOptions } from '../../src/index.ts';
import type { PluginSpec } from '../../src/config/spec.ts';
import { RunningCli } from '../helpers/cli.ts';
import { fixturePlugin, seedWasm } from '../helpers/paths.ts';

const queueWasm = fixturePlugin('rust-shared-queue');

/**
 * Two queue receivers in one vm_id, `<prefix>-<queue>` registering `queue` (logged from the root context in
 * on_configure); `rootIds` gives each its own root_id.
 */
function twoReceivers(prefix: string, vmId: string, queues: readonly [string, string], rootIds?: readonly [string, string]): PluginSpec[] {
	return queues.map((queue, index) => ({
		name: `${prefix}-${queue}`,
		wasm: queueWasm,
		vmId,
		...(rootIds ? { rootId: rootIds[index] } : {}),
		configuration: { role: 'receiver', queue },
	}));
}

/** Services `drain-first` and `drain-second` sharing the vm_id `receiver`. */
function twoDrains(rootIds?: readonly [string, string]): PluginSpec[] {
	return twoReceivers('drain', 'receiver', ['first', 'second'], rootIds);
}

async function sandbox(t: ExecutionContext, options: SandboxOptions): Promise<Sandbox> {
	const box = await startSandbox(options);
	t.teardown(async () => box.stop());
	return box;
}

/** Runs an assertion helper as an ava attempt and discards it: whether it passed, and its failure message. */
async function attempt(t: ExecutionContext, assertion: (tt: ExecutionContext) => Promise<unknown>): Promise<{ passed: boolean; message: string }> {
	const result = await t.try(async tt => {
		await assertion(tt);
	});
	const outcome = { passed: result.passed, message: result.errors.map(error => error.message).join('\n') };
	result.discard();
	return outcome;
}

test.serial('services or plugins sharing a vm_id: a root-context line names every plugin it fits; a root_id each attributes it to one', async t => {
	const shared = await sandbox(t, { services: twoDrains(), plugins: twoReceivers('http', 'workers', ['third', 'fourth']) });
	// Envoy prints `wasm log receiver: registered queue second` for either service: the line cannot say which.
	const ambiguous = await shared.logs({ message: 'registered queue second' });
	t.true(ambiguous.length > 0, 'the service logged in on_configure');
	for (const entry of ambiguous) {
		t.like(entry, { plugin: undefined, candidates: ['drain-first', 'drain-second'], context: 'root' });
	}

	// A filter by plugin does not guess; assertLogged says why nothing matched.
	t.deepEqual(await shared.logs({ plugin: 'drain-second', message: 'registered queue second' }), []);
	const failed = await attempt(t, async tt => assertLogged(tt, shared, { plugin: 'drain-second', message: 'registered queue second' }));
	t.false(failed.passed);
	t.regex(failed.message, /\[info\] drain-first\|drain-second: registered queue second/);
	t.regex(failed.message, /may be drain-second's but name no single plugin: they come from root contexts of drain-first, drain-second, which share root_id and vm_id/);
	// HTTP plugins too (their root contexts run on every worker): `wasm log workers: registered queue fourth`.
	const plugins = await shared.logs({ message: { exact: 'registered queue fourth' } });
	t.true(plugins.length > 0);
	for (const entry of plugins) {
		t.like(entry, { plugin: undefined, candidates: ['http-third', 'http-fourth'], context: 'root' });
	}

	await shared.stop();

	const apart = await sandbox(t, { services: twoDrains(['first-root', 'second-root']), plugins: twoReceivers('http', 'workers', ['third', 'fourth'], ['third-root', 'fourth-root']) });
	const attributed = await apart.logs({ message: 'registered queue second' });
	t.true(attributed.length > 0);
	for (const entry of attributed) {
		t.like(entry, { plugin: 'drain-second', candidates: ['drain-second'], context: 'root' });
	}

	t.deepEqual(await apart.logs({ plugin: 'drain-first', message: 'registered queue second' }), []);
	const plugin = await apart.logs({ message: { exact: 'registered queue fourth' } });
	t.true(plugin.length > 0);
	for (const entry of plugin) {
		t.like(entry, { plugin: 'http-fourth', candidates: ['http-fourth'], context: 'root' });
	}
});

test.serial('`meshbox up`: services sharing a vm_id log as "drain-first|drain-second", never as a blank "(root)", and it says why', async t => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-plugin-logs-'));
	t.teardown(async () => rm(dir, { recursive: true, force: true }));
	const config = path.join(dir, 'meshbox.yaml');
	await writeFile(config, [
		'plugins: []',
		'services:',
		...twoDrains().map(service => `  - { name: ${service.name}, wasm: ${queueWasm}, vmId: receiver, configuration: ${JSON.stringify(service.configuration)} }`),
	].join('\n'));
	const cli = RunningCli.start(['up', '--port', '0', '--config', config]);
	try {
		await cli.waitForLine(/^listening on http:\/\/127\.0\.0\.1:\d+$/);
		await cli.waitForLine(/ drain-first\|drain-second: registered queue second$/);
		t.true(cli.lines.some(line => line.startsWith('meshbox: drain-first, drain-second share root_id and vm_id: their root contexts all log as "wasm log receiver: …"')), cli.lines.join('\n'));
		t.false(cli.lines.some(line => line.includes('(root):') || / info {2}?: /.test(line)), `every line names its plugin(s):\n${cli.lines.join('\n')}`);
	} finally {
		t.is(await cli.stop('SIGTERM'), 0, cli.lines.join('\n'));
	}
});

test.serial('message filters: a string is a substring, { exact } the whole message, a RegExp a pattern (also with /g); anything else is a USAGE error', async t => {
	const box = await sandbox(t, { plugins: [{ name: 'seed', wasm: seedWasm }] });
	await box.request('/hello', { headers: { host: 'a.example' } });
	await box.request('/hello', { headers: { host: 'a.example' } });
	const whole = 'Received request for: a.example /hello';

	t.is((await box.logs({ message: 'a.example /hell' })).length, 2, 'a substring matches a longer message');
	t.deepEqual(await box.logs({ message: { exact: 'Received request for: a.example /hell' } }), [], '{ exact } does not match a longer message');
	t.deepEqual((await box.logs({ message: { exact: whole } })).map(entry => entry.message), [whole, whole]);
	// test() on a /g pattern would start the second entry at the first one's lastIndex and miss it.
	const global = /a\.example \/hello$/g;
	t.is((await box.logs({ message: global })).length, 2);
	t.is((await box.logs({ message: global })).length, 2, 'the same pattern again: same answer');
	// Envoy's own entry carries the `wasm log <prefix>: ` (its vm_id differs on a warm Envoy): take it from the first one.
	const [envoyEntry] = await box.envoyLogs({ logger: 'wasm', message: / a\.example \/hello$/ });
	t.is((await box.envoyLogs({ logger: 'wasm', message: { exact: envoyEntry?.message ?? '' } })).length, 2, 'box.envoyLogs() takes the same forms');
	t.deepEqual(await box.envoyLogs({ logger: 'wasm', message: { exact: whole } }), [], 'the whole of Envoy\'s message, prefix included');
	t.like(await box.waitForLog({ message: { exact: whole } }, 1000), { plugin: 'seed', message: whole });

	const wrong = await t.throwsAsync(box.logs({ message: { contains: 'Received' } as unknown as string }));
	t.true(wrong instanceof MeshboxError);
	t.is((wrong as MeshboxError).code, 'USAGE');
	t.regex(wrong?.message ?? '', /^box\.logs\(\): filter\.message must be a string \(a substring of the message\), \{ exact: string \} \(the whole message\) or a RegExp; got \{"contains":"Received"\}$/);
});

test.serial('assertLogged below the wasm logger\'s level says how to raise it, and raising it that way makes the line appear', async t => {
	const wanted = { plugin: 'log', level: 'debug', message: { exact: 'debug message' } } as const;
	const quiet = await sandbox(t, { plugins: [{ name: 'log', wasm: fixturePlugin('rust-logging') }], envoy: { componentLogLevels: { wasm: 'info' } } });
	await quiet.request('/');
	const failed = await attempt(t, async tt => assertLogged(tt, quiet, wanted));
	t.false(failed.passed);
	t.regex(failed.message, /no plugin log entry matches \{ plugin: "log", level: "debug", message: \{ exact: "debug message" \} \}/);
	t.regex(failed.message, /\[info\] log: info message/, 'it lists what the plugin did log');
	t.regex(failed.message, /Envoy's wasm logger runs at info, so Envoy does not print a plugin's debug lines\. Raise it in the sandbox's spec: envoy: \{ componentLogLevels: \{ wasm: debug \} \}/);
	// A level Envoy prints gets no such advice.
	const missing = await attempt(t, async tt => assertLogged(tt, quiet, { plugin: 'log', level: 'info', message: { exact: 'no such message' } }));
	t.false(missing.passed);
	t.notRegex(missing.message, /wasm logger runs at/);
	await quiet.stop();

	const raised = await sandbox(t, { plugins: [{ name: 'log', wasm: fixturePlugin('rust-logging') }], envoy: { componentLogLevels: { wasm: 'debug' } } });
	await raised.request('/');
	t.like(await assertLogged(t, raised, wanted), { plugin: 'log', level: 'debug', message: 'debug message' });
});

test.serial('an update Envoy refuses names the plugins a refusing root context\'s line fits, not "?"', async t => {
	const box = await sandbox(t, { plugins: twoReceivers('http', 'workers', ['third', 'fourth']) });
	// on_configure of a configuration that is not a JSON object logs `invalid plugin configuration` and fails.
	const refused = await t.throwsAsync(box.swapPlugin('http-fourth', { name: 'http-fourth', wasm: queueWasm, vmId: 'workers', configuration: 'not json' }));
	t.is((refused as MeshboxError | undefined)?.code, 'ENVOY_REJECTED_CONFIG');
	const details = (refused as MeshboxError | undefined)?.details ?? [];
	t.true(details.includes('plugin http-third|http-fourth [error] invalid plugin configuration: not json'), details.join('\n'));
});
