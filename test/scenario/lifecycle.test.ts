/**
 * A sandbox's changes over its life (issue #19, items 3 and 4), on a warm Envoy and on a fresh one:
 * - after stop(), update(), swapPlugin(), rollback() and applyIstio() reject at once with SANDBOX_STOPPED, and
 *   the sandbox started next (on a warm Envoy: where the stopped one ran) keeps serving its own plugin; so does
 *   a change still pending when stop() was called;
 * - changes started together apply in call order: the last call's config is served and configVersion names it.
 */
import test from 'ava';
import { isMeshboxError, startSandbox, type Sandbox } from '../../src/index.ts';
import { fixturePlugin, seedWasm } from '../helpers/paths.ts';

const headersWasm = fixturePlugin('rust-headers');
const configWasms = [fixturePlugin('rust-config'), fixturePlugin('as-config')];
const seedHost = { host: 'my-app.example.com' };

/** Resolves with what `change` did, or with 'unsettled' if it neither resolved nor rejected within `ms`: a change that hangs fails the test instead of ava's timeout. */
async function settledWithin(change: Promise<unknown>, ms: number): Promise<{ error: unknown } | 'resolved' | 'unsettled'> {
	let timer: NodeJS.Timeout | undefined;
	const outcome = await Promise.race([
		change.then(() => 'resolved' as const, (error: unknown) => ({ error })),
		new Promise<'unsettled'>(resolve => {
			timer = setTimeout(() => resolve('unsettled'), ms);
		}),
	]);
	clearTimeout(timer);
	return outcome;
}

// Serial: on the warm path the sandbox started after a stop must take the stopped one's Envoy, which is the case under test.
for (const fresh of [false, true]) {
	const label = fresh ? '[fresh]' : '[warm]';

	test.serial(`${label} a stopped sandbox refuses every change with SANDBOX_STOPPED, and the next sandbox keeps its plugin`, async t => {
		const stopped = await startSandbox({ fresh, plugins: [{ name: 'answer', wasm: seedWasm }] });
		// A change before the stop, so that rollback() would have a config to go back to.
		await stopped.swapPlugin('answer', headersWasm);
		await stopped.stop();

		const next = await startSandbox({ fresh, plugins: [{ name: 'answer', wasm: seedWasm }] });
		t.teardown(async () => next.stop());
		if (!fresh) {
			t.is(next.adminUrl, stopped.adminUrl, 'the next sandbox runs on the warm Envoy the stopped one ran on');
		}

		const changes: Array<[string, () => Promise<unknown>]> = [
			['swapPlugin', async () => stopped.swapPlugin('answer', headersWasm)],
			['update', async () => stopped.update({ plugins: [{ name: 'answer', wasm: headersWasm }], upstream: { status: 202 } })],
			['rollback', async () => stopped.rollback()],
			['applyIstio', async () => stopped.applyIstio('apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: late, namespace: default}\nspec: {url: file:///nowhere.wasm}\n')],
		];
		for (const [name, change] of changes) {
			const outcome = await settledWithin(change(), 10_000);
			t.true(typeof outcome === 'object' && isMeshboxError(outcome.error) && outcome.error.code === 'SANDBOX_STOPPED',
				`${name}() after stop() rejects with SANDBOX_STOPPED (got: ${typeof outcome === 'object' ? String(outcome.error) : outcome})`);
		}

		const response = await next.request('/after', { headers: seedHost });
		t.is(response.status, 200, 'the next sandbox still answers');
		t.is(response.body, 'Hello from Wasm!\n', 'with its own plugin (the seed)');
		t.is(next.configVersion, 1, 'its config did not change');
	});

	test.serial(`${label} a change still pending when stop() is called rejects with SANDBOX_STOPPED, and the next sandbox keeps its plugin`, async t => {
		const stopping = await startSandbox({ fresh, plugins: [{ name: 'answer', wasm: seedWasm }] });
		const pending = stopping.swapPlugin('answer', headersWasm);
		// Not awaited by stop(): a pending change must neither hold the stop up nor land after it.
		pending.catch(() => undefined);
		await stopping.stop();

		const next = await startSandbox({ fresh, plugins: [{ name: 'answer', wasm: seedWasm }] });
		t.teardown(async () => next.stop());
		const outcome = await settledWithin(pending, 10_000);
		t.true(typeof outcome === 'object' && isMeshboxError(outcome.error) && outcome.error.code === 'SANDBOX_STOPPED',
			`the pending swapPlugin() rejects with SANDBOX_STOPPED (got: ${typeof outcome === 'object' ? String(outcome.error) : outcome})`);
		const response = await next.request('/after', { headers: seedHost });
		t.is(response.body, 'Hello from Wasm!\n', 'the next sandbox answers with its own plugin (the seed)');
	});

	test.serial(`${label} ten swapPlugin() calls started together apply in call order: the last one's config is served`, async t => {
		const box: Sandbox = await startSandbox({ fresh, plugins: [{ name: 'config', wasm: configWasms[0]!, configuration: '{"header":"x-call","value":"start"}' }] });
		t.teardown(async () => box.stop());
		t.is(box.configVersion, 1);

		// Alternating two SDKs' builds (a Rust and an AssemblyScript module), as a suite switching between them would.
		const settledOrder: number[] = [];
		const calls = Array.from({ length: 10 }, async (_, call) => {
			await box.swapPlugin('config', { wasm: configWasms[call % 2]!, configuration: JSON.stringify({ header: 'x-call', value: String(call) }) });
			settledOrder.push(call);
		});
		await Promise.all(calls);

		t.deepEqual(settledOrder, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'each call resolved after the one called before it');
		const response = await box.request('/served');
		t.is(response.headers['x-call'], '9', 'the last call\'s config is served');
		t.is(box.configVersion, 11, 'configVersion names it: version 1 at start, then one per accepted call');
	});
}
