/**
 * MESHBOX_FRESH=1 is what CI's "warm ≡ fresh" pass (.ci/run, scripts/compare-tap.ts) runs the scenarios and the
 * conformance tests with: every way they start sandboxes must honour it (startSandbox, forEachRuntime,
 * stories/sandboxFor, the conformance tests' sandboxFor), or that pass would compare warm with warm.
 * A sandbox on a warm Envoy runs on that Envoy's bootstrap, which says so (`box.bootstrapYaml`: only the shell, the
 * sandbox's resources come over xDS); a dedicated Envoy's bootstrap is the sandbox's own.
 */
import test, { type ExecutionContext } from 'ava';
import { forEachRuntime, sandboxFor, startSandbox, stories, type Sandbox } from '../../src/index.ts';
import { sandboxFor as conformanceSandboxFor } from '../conformance/helpers.ts';
import { seedWasm } from '../helpers/paths.ts';

process.env.MESHBOX_FRESH = '1';
// stories() asks which runtimes to tell a story on; MESHBOX_FRESH is about the local runtime's warm Envoys.
process.env.MESHBOX_RUNTIMES = 'local';

const plugins = [{ name: 'answer', wasm: seedWasm }];

/** Whether the sandbox is a lease on a warm Envoy: it runs on a warm Envoy's bootstrap (src/runtime/local/warm-envoy.ts). */
async function onWarmEnvoy(box: Sandbox): Promise<boolean> {
	return box.bootstrapYaml.includes('(local runtime, warm Envoy)');
}

async function assertDedicated(t: ExecutionContext, box: Sandbox): Promise<void> {
	t.is((await box.request('/', { headers: { host: 'my-app.example.com' } })).body, 'Hello from Wasm!\n', 'the sandbox serves');
	t.false(await onWarmEnvoy(box), 'a dedicated Envoy, not a lease on a warm one');
}

test('startSandbox() without `fresh` honours MESHBOX_FRESH=1, and `fresh: false` still picks a warm Envoy', async t => {
	const box = await startSandbox({ plugins });
	t.teardown(async () => box.stop());
	await assertDedicated(t, box);

	// The other way round, so the check above can tell the two apart.
	const warm = await startSandbox({ plugins, fresh: false });
	t.teardown(async () => warm.stop());
	t.true(await onWarmEnvoy(warm), 'fresh: false is a lease on a warm Envoy');
});

forEachRuntime(['local'], ({ title, startSandbox: start }) => {
	test(title('forEachRuntime()\'s startSandbox honours MESHBOX_FRESH=1'), async t => {
		const box = await start({ plugins });
		t.teardown(async () => box.stop());
		await assertDedicated(t, box);
	});
});

const story = await stories(test);
story('stories()\' sandbox (sandboxFor) honours MESHBOX_FRESH=1', async (t, { sandbox }) => {
	await assertDedicated(t, await sandbox({ plugins }));
});

test('sandboxFor() honours MESHBOX_FRESH=1', async t => {
	await assertDedicated(t, await sandboxFor(t, { plugins }));
});

test('the conformance tests\' sandboxFor honours MESHBOX_FRESH=1', async t => {
	await assertDedicated(t, await conformanceSandboxFor(t, { plugins }));
});
