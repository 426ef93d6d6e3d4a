/**
 * explainStartupFailure (src/envoy-binary/startup-failure.ts) names the refused plugin's own reason. Found by CI's
 * warm ≡ fresh check (.ci/run): on a warm Envoy the log the sandbox reads may end with lines no plugin of the
 * sandbox claims (a VM of an earlier sandbox being torn down), which then stood in for the reason.
 */
import test from 'ava';
import type { EnvoyLogEntry, PluginLogEntry } from '../../src/envoy-admin/logs.ts';
import { explainStartupFailure } from '../../src/envoy-binary/startup-failure.ts';

const pluginLine = (plugin: string | undefined, message: string): PluginLogEntry => ({ time: '2026-12-07 07:00:00.000', level: 'error', plugin, candidates: plugin === undefined ? [] : [plugin], context: 'root', message });
const envoyLine = (level: EnvoyLogEntry['level'], message: string): EnvoyLogEntry => ({ time: '2026-12-07 07:00:00.000', thread: 1, level, logger: 'wasm', source: 'wasm.cc:1', message });

test('a refused plugin\'s reason is its own last complaint, not a later line no plugin of the sandbox claims', t => {
	const error = explainStartupFailure({
		entries: [envoyLine('error', 'Wasm VM failed Failed to configure base Wasm plugin'), envoyLine('critical', 'Plugin cfg failed to load')],
		pluginEntries: [
			pluginLine('cfg', 'invalid plugin configuration: not json'),
			pluginLine(undefined, 'abort: Key does not exist in ~lib/map.ts(105:17)'),
		],
		tail: [],
		exitCode: undefined,
		rejected: ['Unable to create Wasm plugin cfg'],
	});
	t.is(error.code, 'ENVOY_REJECTED_CONFIG');
	t.is(error.message, 'Envoy refused to load plugin "cfg": invalid plugin configuration: not json');
	t.true((error.details ?? []).includes('plugin ? [error] abort: Key does not exist in ~lib/map.ts(105:17)'), 'the other line is still shown');
});

test('without a line of the refused plugin, the last plugin line is the reason, as before', t => {
	const error = explainStartupFailure({
		entries: [],
		pluginEntries: [pluginLine(undefined, 'on_vm_start failed')],
		tail: [],
		exitCode: undefined,
		rejected: ['Unable to create Wasm plugin cfg'],
	});
	t.is(error.message, 'Envoy refused to load plugin "cfg": on_vm_start failed');
});
