/**
 * What keeps a sandbox on a warm Envoy (./warm-envoy.ts) from observing the ones before it, while its plugins
 * run with exactly the vm_ids, names and configuration the user wrote (issue #19).
 *
 * What Envoy keeps per vm_id, and for how long (read in proxy-wasm-cpp-host, src/vm_id_handle.cc,
 * src/shared_data.cc, src/shared_queue.cc; measured on Envoy 1.36, 1.38 and 1.40):
 * - Shared data and shared queues are kept per vm_id while some VM (WasmBase) of that vm_id exists: each VM
 *   holds a VmIdHandle, and when the last one goes, `deleteByVmId` drops the vm_id's data and queues.
 * - A VM is shared by every filter config of the same vm_key (vm_id, vm configuration, code), and a root
 *   context by the plugins of the same plugin key: a new config whose vm_key still has a VM joins it (no
 *   on_vm_start, no on_configure, its globals as they were).
 * - A removed listener drains for `--drain-time-s` (600 s, Envoy's default, as on a fresh Envoy) and holds its
 *   filter configs meanwhile; its ECDS subscriptions (shared by name with any new listener) stay too.
 *
 * So a sandbox starts as on a fresh Envoy once every VM of the sandbox before is gone. At its stop, each of its
 * extension configs (ECDS) is replaced by an RBAC filter without rules (`releasedConfig`): the draining
 * listener's filters let go of their VMs at once, and its subscriptions hold nothing but that. Then the stop
 * waits (`vmsReleased`) until Envoy runs no VM but the pins' (../../envoy/pins.ts): their vm_ids are their own.
 * An Envoy where that is not confirmed (a request of the old sandbox still in flight, holding its VM) is
 * retired: no later sandbox runs on it.
 */
import type { EnvoyAdmin } from '../../envoy-admin/admin.ts';
import { typeUrls } from '../../envoy-api/type-urls.ts';
import type { JsonObject } from '../../util/json.ts';

/** The VM count of Envoy's V8 runtime (every VM meshbox configures is a V8 one, ../../envoy/wasm-config.ts). */
const activeVmsStat = 'wasm.envoy.wasm.runtime.v8.active';

/**
 * The config that replaces a stopped sandbox's extension config of the same name: an RBAC filter without rules
 * (it allows everything and holds no VM) of the same kind, HTTP or network. Listeners refer to their configs
 * with RBAC among the allowed types (../../envoy/bootstrap.ts, ../../envoy/listeners.ts), as Istio's do.
 */
export function releasedConfig(config: JsonObject): JsonObject {
	const type = (config.typed_config as JsonObject | undefined)?.['@type'];
	const network = type === typeUrls.networkWasm || type === typeUrls.networkRbac;
	return {
		name: config.name as string,
		typed_config: network ? { '@type': typeUrls.networkRbac, stat_prefix: 'meshbox_released' } : { '@type': typeUrls.httpRbac },
	};
}

/**
 * How many VMs Envoy runs per vm_key (measured: the base VM, the main thread's and one per worker), so what
 * `pins` pinned modules (each its own vm_id) leave once nothing else runs.
 */
export function pinnedVms(pins: number, concurrency: number): number {
	return pins * (2 + concurrency);
}

/**
 * Resolves true once Envoy runs at most `expected` VMs, false after `timeoutMs`: VMs go when every thread has
 * taken the configs that replace them, a few ms after Envoy's ACK. Polled, never a fixed sleep.
 */
export async function vmsReleased(admin: EnvoyAdmin, expected: number, timeoutMs: number): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const active = await activeVms(admin).catch(() => undefined);
		if (active !== undefined && active <= expected) {
			return true;
		}

		if (Date.now() > deadline) {
			return false;
		}

		await new Promise(resolve => setTimeout(resolve, 2));
	}
}

/** One admin request (text stats, `name: value`): the JSON `stats()` reads three. */
async function activeVms(admin: EnvoyAdmin): Promise<number> {
	const text = await admin.get(`stats?filter=${encodeURIComponent(`^${activeVmsStat.replaceAll('.', '\\.')}$`)}`);
	const line = text.split('\n').find(entry => entry.startsWith(`${activeVmsStat}: `));
	return line === undefined ? 0 : Number(line.slice(activeVmsStat.length + 2));
}

/**
 * How many listeners and filter chains Envoy drains now: each stays subscribed to its extension configs by name
 * for the drain time (600 s), and a push of a config goes to every subscriber of its name, so a warm Envoy gets
 * slower with each (measured ≈0.3–0.45 ms per sandbox start for each one sharing its plugin names). A warm Envoy
 * whose sandboxes in turn change the listener (different plugins, routes) is retired past `maxDraining`.
 */
export async function drainingCount(admin: EnvoyAdmin): Promise<number> {
	const names = ['listener_manager.total_listeners_draining', 'listener_manager.total_filter_chains_draining'];
	const text = await admin.get(`stats?filter=${encodeURIComponent(`^listener_manager\\.total_(listeners|filter_chains)_draining$`)}`);
	return text.split('\n').reduce((sum, line) => {
		const name = names.find(candidate => line.startsWith(`${candidate}: `));
		return name === undefined ? sum : sum + Number(line.slice(name.length + 2));
	}, 0);
}

/** See `drainingCount`: past this, the extra cost per sandbox (≈10 ms) outweighs a new Envoy's compiles. */
export const maxDraining = 32;

