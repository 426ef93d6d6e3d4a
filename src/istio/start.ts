/**
 * What a sidecar is left with after its first ECDS push: a plugin Envoy refuses to load (VM start,
 * on_vm_start or on_configure returns false, a missing import) is NACKed, and its filter stays without
 * config, so every request through it gets 500 whatever failStrategy says. meshbox's runtimes serve the
 * sidecar over real ADS, so Envoy itself reaches that state; this marks the model the same way, for
 * `meshbox render`, `box.istioNotes` and the start output.
 */
import type { SandboxModel, SidecarFilter, SidecarModel } from '../config/model.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';

/** Envoy's NACK messages (e.g. "Unable to create Wasm plugin default.my-plugin") name the plugin's PluginConfig name. */
export function markRejectedAtStart(model: SandboxModel, rejections: ReadonlyArray<{ readonly message: string }>): SandboxModel {
	const { sidecar } = model;
	if (!sidecar || rejections.length === 0) {
		return model;
	}

	let marked = sidecar;
	for (const rejection of rejections) {
		const names = model.plugins
			.filter(plugin => rejection.message.includes(plugin.name) || (plugin.filterName !== undefined && rejection.message.includes(plugin.filterName)))
			.map(plugin => plugin.name);
		// The longest name that the message contains: `ns.a` must not claim a message about `ns.ab`.
		const named = names.sort((a, b) => b.length - a.length).slice(0, 1);
		marked = named.length > 0
			? markRejected(marked, named, rejection.message)
			: { ...marked, notes: [...marked.notes, `envoy: rejected an xDS update: ${rejection.message}`] };
	}

	return { ...model, sidecar: marked };
}

/** After Envoy refused to start because these plugins failed to load: what a sidecar's NACKed ECDS leaves. */
function markRejected(sidecar: SidecarModel, pluginNames: readonly string[], reason: string): SidecarModel {
	const rewrite = (filters: readonly SidecarFilter[], network: boolean): SidecarFilter[] => filters.map(filter => {
		if (filter.kind !== 'wasm' || !pluginNames.includes(filter.plugin.name)) {
			return filter;
		}

		return {
			kind: 'missing-config',
			name: filter.plugin.filterName ?? filter.plugin.name,
			typeUrls: network ? [typeUrls.networkWasm, typeUrls.networkRbac] : [typeUrls.httpWasm, typeUrls.httpRbac],
			comment: `${filter.comment} — rejected by Envoy (config missing → 500)`,
		};
	});
	return {
		...sidecar,
		httpFilters: rewrite(sidecar.httpFilters, false),
		networkFilters: rewrite(sidecar.networkFilters, true),
		notes: [...sidecar.notes, ...pluginNames.map(name => `envoy: plugin ${name} failed to load (${reason}); a sidecar NACKs that ECDS update and the filter stays without config: every request gets 500, whatever failStrategy says (it only covers fetch failures and runtime errors)`)],
	};
}
