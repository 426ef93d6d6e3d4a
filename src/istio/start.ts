/**
 * Starting Envoy as a sidecar that received its WasmPlugins over ECDS. meshbox configures the plugins
 * statically, where a plugin that fails to load (VM start, on_vm_start or on_configure returns false, a
 * missing import) makes Envoy refuse the whole bootstrap; a sidecar instead NACKs that one ECDS resource and
 * serves the listener with the filter's config missing (500 on every request). So when Envoy refuses a
 * plugin, meshbox marks it rejected and starts again, reaching the state the sidecar is in.
 */
import type { SandboxModel } from '../config/model.ts';
import { isMeshboxError } from '../errors.ts';
import { markRejected } from './sidecar.ts';

export async function startSidecar<T>(model: SandboxModel, start: (model: SandboxModel) => Promise<T>): Promise<{ running: T; model: SandboxModel }> {
	let current = model;
	for (let attempt = 0; ; attempt++) {
		try {
			return { running: await start(current), model: current };
		} catch (error) {
			const sidecar = current.sidecar;
			if (!sidecar || !isMeshboxError(error) || error.code !== 'ENVOY_REJECTED_CONFIG' || attempt > current.plugins.length) {
				throw error;
			}

			const named = /plugin "([^"]+)"/.exec(error.message)?.[1];
			const rejected = sidecar.httpFilters.concat(sidecar.networkFilters)
				.find(filter => filter.kind === 'wasm' && filter.plugin.name === named);
			if (!named || !rejected) {
				throw error;
			}

			const reason = error.message.replace(/^Envoy refused to load plugin "[^"]+":?\s*/, '') || 'it failed to load';
			current = { ...current, sidecar: markRejected(sidecar, [named], reason) };
		}
	}
}
