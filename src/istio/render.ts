/**
 * `meshbox render` for an Istio sidecar: the bootstrap YAML with each filter's origin as a comment (which
 * WasmPlugin, its phase and priority, or which Istio filter sits there in a real pod but not in upstream Envoy).
 */
import { Document, isMap, isSeq, type YAMLMap, type YAMLSeq } from 'yaml';
import type { SidecarFilter, SidecarModel } from '../config/model.ts';
import type { JsonObject } from '../util/json.ts';

export function renderSidecarYaml(bootstrap: JsonObject, sidecar: SidecarModel, headerLines: readonly string[]): string {
	const document = new Document(bootstrap);
	const listener = document.getIn(['static_resources', 'listeners', 0]) as YAMLMap | undefined;
	const filters = document.getIn(['static_resources', 'listeners', 0, 'filter_chains', 0, 'filters']) as YAMLSeq | undefined;
	if (isSeq(filters)) {
		annotate(filters, sidecar.networkFilters, 'the HTTP connection manager');
		const hcm = filters.items.at(-1);
		const httpFilters = isMap(hcm) ? hcm.getIn(['typed_config', 'http_filters']) as YAMLSeq | undefined : undefined;
		if (isSeq(httpFilters)) {
			annotate(httpFilters, sidecar.httpFilters, 'the router');
		}
	}

	if (isMap(listener)) {
		listener.commentBefore = ` Istio's ${sidecar.trafficDirection === 'INBOUND' ? 'inbound' : 'outbound'} listener (a pod's is on 0.0.0.0:${sidecar.trafficDirection === 'INBOUND' ? '15006' : '15001'} behind iptables)`;
	}

	document.commentBefore = [...headerLines, ...sidecar.summary].map(line => ` ${line}`).join('\n');
	return document.toString({ lineWidth: 0, indent: 2 });
}

/**
 * Comments go on the rendered items, found by name (patches may have added, moved or removed filters: an item no
 * model filter names is marked as coming from a patch); placeholders (not rendered) are noted on the next item.
 */
function annotate(sequence: YAMLSeq, filters: readonly SidecarFilter[], lastName: string): void {
	let pending: string[] = [];
	let index = 0;
	const nameOf = (item: unknown) => (isMap(item) ? String(item.get('name')) : undefined);
	for (const filter of filters) {
		if (filter.kind === 'placeholder') {
			pending.push(`(${filter.name}: ${filter.comment})`);
			continue;
		}

		const name = filter.kind === 'wasm' ? filter.plugin.filterName ?? filter.plugin.name : filter.name;
		const found = sequence.items.findIndex((item, position) => position >= index && nameOf(item) === name);
		if (found < 0) {
			continue;
		}

		for (; index < found; index++) {
			markPatched(sequence.items[index]);
		}

		const item = sequence.items[index++];
		if (isMap(item)) {
			item.commentBefore = [...pending, filter.comment].map(line => ` ${line}`).join('\n');
		}

		pending = [];
	}

	const rest = sequence.items.slice(index);
	const lastAt = rest.findIndex(item => isMap(item) && (item.get('name') === 'envoy.filters.http.router' || item.get('name') === 'envoy.filters.network.http_connection_manager'));
	rest.forEach((item, position) => {
		if (position !== lastAt) {
			markPatched(item);
		}
	});
	const last = rest[lastAt];
	if (isMap(last) && pending.length > 0) {
		last.commentBefore = [...pending, lastName].map(line => ` ${line}`).join('\n');
	}
}

function markPatched(item: unknown): void {
	if (isMap(item) && !item.commentBefore) {
		item.commentBefore = ' from a patch (EnvoyFilter or envoy.patches)';
	}
}
