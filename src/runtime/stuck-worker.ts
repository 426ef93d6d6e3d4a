/**
 * A plugin that never returns (a loop in `proxy_on_request_headers`) holds the Envoy thread that runs it: the
 * request times out, and the thread serves nothing else for the rest of Envoy's life. Envoy's main thread still
 * answers admin, so `/ready` says LIVE; what tells is Envoy's guard dog (source/server/guarddog_impl.cc in
 * envoyproxy/envoy), which counts a thread that has not touched its watchdog for `megamiss_timeout` (1 s by
 * default, source/server/configuration_impl.cc) in `workers.watchdog_mega_miss`. Measured on Envoy 1.40: 1.5 s
 * after a request entered such a loop, `workers.watchdog_mega_miss` was 1 (and `server.worker_0.watchdog_mega_miss`,
 * the thread's own). The main thread's counter is left out: compiling a large Go module there takes longer than
 * a second, and is no loop. Counters count from the last `reset_counters` (a warm Envoy's lease) or Envoy's start.
 */
import type { PluginModel } from '../config/model.ts';
import type { EnvoyAdmin } from '../envoy-admin/admin.ts';
import { MeshboxError } from '../errors.ts';

/** The guard dog's counter of worker threads that stopped for more than `megamiss_timeout`. */
const workerMegaMisses = 'workers.watchdog_mega_miss';

/**
 * How many times an Envoy worker thread was found stuck (for more than a second) so far; undefined when admin
 * does not answer (then the main thread is stuck, or Envoy is on its way out).
 */
export async function stuckWorkerCount(admin: EnvoyAdmin): Promise<number | undefined> {
	try {
		// One admin request for one counter (EnvoyAdmin.stats asks for counters, gauges and histograms): it is
		// asked at every warm release. Text format: `workers.watchdog_mega_miss: 1`.
		const text = await admin.get(`stats?usedonly&filter=${encodeURIComponent(`^${workerMegaMisses.replaceAll('.', '\\.')}$`)}`);
		const value = new RegExp(`^${workerMegaMisses.replaceAll('.', '\\.')}: (\\d+)$`, 'm').exec(text)?.[1];
		return value === undefined ? 0 : Number(value);
	} catch {
		return undefined;
	}
}

/** The error of a request that timed out because a plugin of the sandbox never returned from a callback. */
export function pluginStuckError(plugins: readonly PluginModel[], timeout: MeshboxError): MeshboxError {
	const names = [...new Set(plugins.map(plugin => plugin.name))];
	const which = names.length === 1 ? `the plugin ${names[0]}` : `a plugin of this sandbox (${names.join(', ')})`;
	return new MeshboxError('PLUGIN_STUCK', `${timeout.message}: ${which} did not return from a callback (Envoy's watchdog found a thread stuck for more than 1 s)`,
		'look for a loop that never ends in the plugin\'s callbacks; the Envoy it holds is stopped with the sandbox (SIGKILL if need be) and serves no other sandbox');
}

/**
 * A request's timeout (REQUEST_TIMEOUT, naming the sandbox's plugins), or PLUGIN_STUCK when Envoy's watchdog saw a
 * worker stuck: what `RunningSandbox.explainTimeout` answers on both runtimes.
 */
export async function explainRequestTimeout(admin: EnvoyAdmin, plugins: readonly PluginModel[], timeout: MeshboxError): Promise<MeshboxError> {
	const stuck = await stuckWorkerCount(admin);
	if (stuck !== undefined && stuck > 0) {
		return pluginStuckError(plugins, timeout);
	}

	const names = [...new Set(plugins.map(plugin => plugin.name))];
	return names.length === 0 ? timeout : new MeshboxError(timeout.code, `${timeout.message} (through the plugin${names.length === 1 ? '' : 's'} ${names.join(', ')}; none was stuck in a callback)`, timeout.hint);
}
