/**
 * Warm Envoys (src/runtime/local/warm-envoy.ts): sandboxes of one process take turns on a long-lived Envoy.
 * The isolation contract, one assertion per point: the same Envoy, yet each sandbox has its own VMs (shared
 * data does not carry over), its own log, its own counters; a trap in one leaves the next one alone; if the
 * Envoy dies, its sandbox fails and the next start gets a new Envoy; `fresh: true` gives a dedicated one.
 * (Start-up speed is measured by `npm run bench`, not asserted here.)
 */
import test from 'ava';
import { isMeshboxError, startSandbox, type Sandbox } from '../../src/index.ts';
import { warmPoolSize } from '../../src/runtime/local/warm-envoy.ts';
import { fixturePlugin, seedWasm } from '../helpers/paths.ts';

const sharedData = fixturePlugin('rust-shared-data');
const trap = fixturePlugin('rust-trap');

// One sandbox at a time: what is under test is what the next sandbox on the same Envoy sees.
async function inTurn<T>(options: Parameters<typeof startSandbox>[0], use: (box: Sandbox) => Promise<T>): Promise<T> {
	const box = await startSandbox({ fresh: false, ...options });
	try {
		return await use(box);
	} finally {
		await box.stop();
	}
}

test.serial('sandboxes in turn share one warm Envoy, and each starts with its own shared data, log and counters', async t => {
	const plugins = [{ name: 'first', wasm: sharedData, vmId: 'shared' }, { name: 'second', wasm: sharedData, vmId: 'shared' }];
	const first = await inTurn({ plugins }, async box => {
		const one = await box.request('/');
		t.is(one.headers['x-shared-first'], '1');
		t.is(one.headers['x-shared-second'], '2', 'two plugins with one vm_id share data within a sandbox');
		t.is((await box.request('/')).headers['x-shared-second'], '4');
		return { admin: box.adminUrl, requests: (await box.stats('http.ingress_http.downstream_rq_total')).counters.get('http.ingress_http.downstream_rq_total') };
	});
	t.is(first.requests, 2);

	await inTurn({ plugins }, async box => {
		t.is(box.adminUrl, first.admin, 'the same Envoy');
		const again = await box.request('/');
		t.is(again.headers['x-shared-first'], '1', 'the shared data of the sandbox before is not there');
		t.is(again.headers['x-shared-second'], '2');
		const counters = (await box.stats('http.ingress_http.downstream_rq_total')).counters;
		t.is(counters.get('http.ingress_http.downstream_rq_total'), 1, 'counters start at zero for each sandbox');
		const lines = (await box.logs()).map(entry => entry.message);
		t.deepEqual(lines.filter(line => line.startsWith('shared ')), ['shared meshbox_counter = 1', 'shared meshbox_counter = 2'], 'only this sandbox\'s log lines');
		t.is(box.configVersion, 1);
	});
});

test.serial('a trap in one sandbox leaves the next one on the same Envoy alone', async t => {
	const admin = await inTurn({ plugins: [{ name: 'trap', wasm: trap }] }, async box => {
		t.is((await box.request('/trap')).status, 503);
		t.is((await box.request('/')).status, 503, 'this sandbox\'s VM is dead');
		return box.adminUrl;
	});
	await inTurn({ plugins: [{ name: 'trap', wasm: trap }] }, async box => {
		t.is(box.adminUrl, admin);
		const response = await box.request('/');
		t.is(response.status, 200);
		t.is(response.headers['x-trap-plugin'], 'alive', 'a new VM for the new sandbox');
	});
});

test.serial('if the warm Envoy dies, its sandbox fails with ENVOY_EXITED and the next start gets a new Envoy', async t => {
	const dead = await startSandbox({ fresh: false, plugins: [seedWasm] });
	const admin = dead.adminUrl;
	await fetch(`${admin}/quitquitquit`, { method: 'POST' });
	const error = await t.throwsAsync(dead.request('/'));
	t.true(isMeshboxError(error) && error.code === 'ENVOY_EXITED', String(error));
	await dead.stop();

	await inTurn({ plugins: [seedWasm] }, async box => {
		t.not(box.adminUrl, admin, 'a new Envoy');
		t.is((await box.request('/')).body, 'Hello from Wasm!\n');
	});
});

test.serial('fresh: true gives a sandbox an Envoy of its own', async t => {
	const warmAdmin = await inTurn({ plugins: [seedWasm] }, async box => box.adminUrl);
	const box = await startSandbox({ fresh: true, plugins: [seedWasm] });
	try {
		t.not(box.adminUrl, warmAdmin);
		t.is((await box.request('/')).body, 'Hello from Wasm!\n');
	} finally {
		await box.stop();
	}

	t.is(await inTurn({ plugins: [seedWasm] }, async next => next.adminUrl), warmAdmin, 'the warm Envoy is still there for the next sandbox');
});

// What ava does with a file's tests: they run at once, each a scenario (start, requests, stop).
test.serial('scenarios started at once share a few warm Envoys, and each sees only its own requests, log and counters', async t => {
	const count = 8;
	const seen = await Promise.all(Array.from({ length: count }, async (_, index) => inTurn({ plugins: [seedWasm] }, async box => {
		const response = await box.request(`/scenario-${index}`);
		const lines = (await box.logs({ message: /^Received request for: / })).map(entry => entry.message);
		const requests = (await box.stats('http.ingress_http.downstream_rq_total')).counters.get('http.ingress_http.downstream_rq_total');
		return { admin: box.adminUrl, status: response.status, lines, requests, index };
	})));
	for (const scenario of seen) {
		t.is(scenario.status, 200);
		t.deepEqual(scenario.lines.map(line => line.replace(/^.* \//, '/')), [`/scenario-${scenario.index}`], 'only its own log line');
		t.is(scenario.requests, 1, 'only its own request counted');
	}

	const envoys = new Set(seen.map(scenario => scenario.admin)).size;
	t.true(envoys <= warmPoolSize(), `${count} scenarios on ${envoys} Envoys (the pool holds at most ${warmPoolSize()})`);
});

test.serial('sandboxes a test holds at once never wait on each other: more than the Envoys of the pool all start', async t => {
	const count = warmPoolSize() + 1;
	const boxes = await Promise.all(Array.from({ length: count }, async () => startSandbox({ fresh: false, plugins: [seedWasm] })));
	try {
		t.is(new Set(boxes.map(box => box.adminUrl)).size, count, 'one Envoy each: a sandbox in use is never shared');
		for (const box of boxes) {
			t.is((await box.request('/')).body, 'Hello from Wasm!\n');
		}
	} finally {
		await Promise.all(boxes.map(async box => box.stop()));
	}
});
