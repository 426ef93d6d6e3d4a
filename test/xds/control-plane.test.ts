/**
 * The xDS control plane (src/xds/control-plane.ts) with a real Envoy that connects before anything is pushed:
 * what `meshbox up`'s head start does (Envoy runs before the control plane exists). Answering it then with empty
 * clusters and listeners would let it finish its start without the sandbox, and a listener pushed next could
 * arrive before the clusters it routes to (a CI run once got "unknown cluster 'upstream'").
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { modelFromSpec } from '../../src/compose/model.ts';
import type { SandboxModel } from '../../src/config/model.ts';
import { EnvoyAdmin } from '../../src/envoy-admin/admin.ts';
import { buildAdsBootstrap, buildResources, type Placement } from '../../src/envoy/bootstrap.ts';
import { envoyArguments } from '../../src/envoy-binary/command-line.ts';
import { provisionEnvoy } from '../../src/envoy-binary/provision.ts';
import { renderBootstrapYaml } from '../../src/envoy/render.ts';
import { pinFilter, pinsListener } from '../../src/envoy/pins.ts';
import { EnvoyProcess } from '../../src/runtime/local/envoy-process.ts';
import { ControlPlane, snapshotOf, type PushResult } from '../../src/xds/control-plane.ts';
import { fixturePlugin, repoRoot } from '../helpers/paths.ts';

/** A real Envoy of `model`'s settings whose only config source is a new control plane (ADS), stopped at teardown. */
async function envoyOnPlane(t: ExecutionContext, model: SandboxModel): Promise<{ plane: ControlPlane; placement: Placement; dir: string }> {
	const envoy = await provisionEnvoy({ version: model.envoy.version, versionOrigin: model.envoy.versionOrigin });
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-control-plane-'));
	const plane = await ControlPlane.start();
	const placement: Placement = { listener: { address: '127.0.0.1', port: 0 }, admin: { address: '127.0.0.1', port: 0 }, upstream: { address: '127.0.0.1', port: 9 }, wasmPath: () => '' };
	await writeFile(path.join(dir, 'envoy.yaml'), renderBootstrapYaml(buildAdsBootstrap(model, placement, { address: '127.0.0.1', port: plane.port }), []));
	const child = EnvoyProcess.spawn(envoy.path, [...envoyArguments(model.envoy, path.join(dir, 'envoy.yaml')), '--admin-address-path', path.join(dir, 'admin-address')]);
	child.stderr.resume();
	child.stdout.resume();
	t.teardown(async () => {
		await child.stop();
		await plane.stop();
		await rm(dir, { recursive: true, force: true });
	});
	return { plane, placement, dir };
}

test('an Envoy that connects before the first push waits for it: it is not answered with empty clusters and listeners', async t => {
	const model = await modelFromSpec({}, { baseDir: repoRoot });
	const { plane, placement, dir } = await envoyOnPlane(t, model);

	await plane.connected();
	const admin = EnvoyAdmin.fromAddressFile(path.join(dir, 'admin-address'));
	let client: EnvoyAdmin | undefined;
	for (const deadline = Date.now() + 10_000; !client && Date.now() < deadline;) {
		client = await admin();
		await new Promise(resolve => setTimeout(resolve, 10));
	}

	// Half a second for Envoy to ask for clusters and listeners, and be answered if the server answered.
	await new Promise(resolve => setTimeout(resolve, 500));
	t.false(await client!.isReady(), 'Envoy still waits for its clusters and listeners');

	const result = await plane.push(snapshotOf(buildResources(model, placement, { ecds: true })));
	t.deepEqual(result.rejections, []);
	let ready = false;
	for (const deadline = Date.now() + 10_000; !ready && Date.now() < deadline;) {
		ready = await client!.isReady();
		await new Promise(resolve => setTimeout(resolve, 10));
	}

	t.true(ready, 'ready once the first push arrived');
	t.truthy(await client!.listenerAddress('meshbox_listener'), 'with the pushed listener');
});

test('a late NACK of one push is never taken for the next: the next push, sent while the first was being answered, is served and settles', async t => {
	// A warm Envoy's next sandbox is pushed while the last one's release may still be answered (issue #19, item 5):
	// a NACK of the earlier version used to take the server back to the last accepted resources, dropping the
	// newer push, whose promise then never settled (a start that hung until the test timed out).
	const model = await modelFromSpec({ plugins: [{ name: 'refused', wasm: fixturePlugin('go-config'), configuration: '{not json' }] }, { baseDir: repoRoot });
	const { plane, dir } = await envoyOnPlane(t, model);

	// Only the shell first (no plugin anywhere), until Envoy runs it: from then on each push is sent at once.
	const served = { listeners: [], clusters: [], extensionConfigs: [] };
	await plane.push(snapshotOf(served));
	const admin = EnvoyAdmin.fromAddressFile(path.join(dir, 'admin-address'));
	let ready = false;
	for (const deadline = Date.now() + 30_000; !ready && Date.now() < deadline;) {
		ready = (await (await admin())?.isReady()) ?? false;
		await new Promise(resolve => setTimeout(resolve, 10));
	}

	t.true(ready, 'Envoy runs the shell');
	// A listener Envoy refuses, but only after compiling its Go module (a second or so): its NACK comes late.
	const refused = pinsListener([pinFilter(model.plugins[0]!, fixturePlugin('go-config'))], path.join(dir, 'pins.sock'));
	const first = plane.push(snapshotOf({ ...served, listeners: [refused] }));
	// The next push, at once: its version is desired while the first one's answer is outstanding.
	const next = plane.push(snapshotOf(served));
	const firstResult = await first;
	t.true(firstResult.rejections.length > 0, `the refused listener is NACKed: ${JSON.stringify(firstResult)}`);
	const nextResult = await Promise.race([next, new Promise<'unsettled'>(resolve => {
		setTimeout(() => resolve('unsettled'), 20_000).unref();
	})]);
	t.not(nextResult, 'unsettled', 'the next push settles');
	t.deepEqual((nextResult as PushResult).rejections, [], 'and is not blamed for the first one\'s NACK');
	t.is(plane.acceptedVersion, (nextResult as PushResult).version, 'Envoy runs the next push');
});
