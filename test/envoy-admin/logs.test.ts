import test from 'ava';
import { EnvoyLogParser, pluginLabel, sharedRootPrefixes, toPluginLog, type EnvoyLogEntry } from '../../src/envoy-admin/logs.ts';

function parse(lines: string[]): EnvoyLogEntry[] {
	const entries: EnvoyLogEntry[] = [];
	const parser = new EnvoyLogParser(entry => entries.push(entry));
	for (const line of lines) {
		parser.push(line);
	}

	parser.flush();
	return entries;
}

const plugins = [
	{ name: 'auth', rootId: '', vmId: '' },
	{ name: 'headers', rootId: 'headers_root', vmId: 'shared' },
];

test('an Envoy log line is split into its fields', t => {
	const [entry] = parse(['[2026-11-24 22:08:15.627][3725][info][main] [source/server/server.cc:1098] starting main dispatch loop']);
	t.deepEqual(entry, {
		time: '2026-11-24 22:08:15.627', thread: 3725, level: 'info', logger: 'main',
		source: 'source/server/server.cc:1098', message: 'starting main dispatch loop',
	});
});

test('lines that do not start an entry continue the previous one (backtraces)', t => {
	const entries = parse([
		'[2026-11-24 22:08:15.627][7][error][wasm] [source/extensions/common/wasm/wasm_vm.cc:38] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable',
		'Proxy-Wasm plugin in-VM backtrace:',
		'  0:  0x1a2b - rust_panic',
		'[2026-11-24 22:08:15.628][7][info][main] [x.cc:1] next',
	]);
	t.is(entries.length, 2);
	t.is(entries[0]?.message.split('\n').length, 3);
	t.regex(entries[0]?.message ?? '', /0x1a2b - rust_panic$/);
});

test('a stream context\'s wasm log line names its plugin', t => {
	const [entry] = parse(['[2026-11-24 22:08:15.627][7][info][wasm] [source/extensions/common/wasm/context.cc:1157] wasm log auth: Received request for: a.example /x']);
	t.deepEqual(toPluginLog(entry!, plugins), {
		time: '2026-11-24 22:08:15.627', level: 'info', plugin: 'auth', candidates: ['auth'], context: 'stream', message: 'Received request for: a.example /x',
	});
});

test('root_id and vm_id are part of the prefix and attribute the line', t => {
	const [stream, root] = parse([
		'[2026-11-24 22:08:15.627][7][warning][wasm] [c.cc:1] wasm log headers headers_root shared: careful: colons stay',
		'[2026-11-24 22:08:15.627][7][debug][wasm] [c.cc:1] wasm log headers_root shared: configured',
	]);
	t.like(toPluginLog(stream!, plugins), { plugin: 'headers', context: 'stream', level: 'warn', message: 'careful: colons stay' });
	t.like(toPluginLog(root!, plugins), { plugin: 'headers', context: 'root', level: 'debug', message: 'configured' });
});

test('a root context line with an empty prefix is attributed to one plugin only when one fits; else to all that fit', t => {
	const [entry] = parse(['[2026-11-24 22:08:15.627][7][info][wasm] [c.cc:1] wasm log: on_vm_start']);
	t.like(toPluginLog(entry!, plugins), { plugin: 'auth', candidates: ['auth'], context: 'root' });
	const shared = toPluginLog(entry!, [...plugins, { name: 'other', rootId: '', vmId: '' }]);
	t.like(shared, { plugin: undefined, candidates: ['auth', 'other'], context: 'root' });
	t.is(pluginLabel(shared!), 'auth|other');
});

test('plugins sharing a vm_id: the root_id attributes a root context line; a prefix nobody has is "?"', t => {
	const sharing = [
		{ name: 'a', rootId: 'root_a', vmId: 'shared' },
		{ name: 'b', rootId: 'root_b', vmId: 'shared' },
		{ name: 'c', rootId: '', vmId: 'shared' },
		{ name: 'd', rootId: '', vmId: 'shared' },
	];
	const [b, cd, unknown] = parse([
		'[2026-11-24 22:08:15.627][7][info][wasm] [c.cc:1] wasm log root_b shared: tick',
		'[2026-11-24 22:08:15.627][7][info][wasm] [c.cc:1] wasm log shared: tick',
		'[2026-11-24 22:08:15.627][7][info][wasm] [c.cc:1] wasm log gone shared: tick',
	]);
	t.like(toPluginLog(b!, sharing), { plugin: 'b', candidates: ['b'] });
	t.like(toPluginLog(cd!, sharing), { plugin: undefined, candidates: ['c', 'd'] });
	t.like(toPluginLog(unknown!, sharing), { plugin: undefined, candidates: [] });
	t.is(pluginLabel(toPluginLog(unknown!, sharing)!), '?');
	t.deepEqual(sharedRootPrefixes(sharing), [{ prefix: 'shared', names: ['c', 'd'] }]);
	// After a live update the old and the new version of a plugin are both known: one name, not two.
	t.like(toPluginLog(b!, [...sharing, { name: 'b', rootId: 'root_b', vmId: 'shared' }]), { plugin: 'b', candidates: ['b'] });
});

test('Envoy\'s own wasm messages are not plugin logs', t => {
	const [entry] = parse(['[2026-11-24 22:08:15.627][7][error][wasm] [wasm.cc:104] Wasm VM failed Failed to configure base Wasm plugin']);
	t.is(toPluginLog(entry!, plugins), undefined);
});
