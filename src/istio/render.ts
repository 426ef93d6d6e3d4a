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

/** Comments go on the rendered items; placeholders (not rendered) are noted on the next item. */
function annotate(sequence: YAMLSeq, filters: readonly SidecarFilter[], lastName: string): void {
	let pending: string[] = [];
	let index = 0;
	for (const filter of filters) {
		if (filter.kind === 'placeholder') {
			pending.push(`(${filter.name}: ${filter.comment})`);
			continue;
		}

		const item = sequence.items[index++];
		if (isMap(item)) {
			item.commentBefore = [...pending, filter.comment].map(line => ` ${line}`).join('\n');
		}

		pending = [];
	}

	const last = sequence.items[index];
	if (isMap(last) && pending.length > 0) {
		last.commentBefore = [...pending, lastName].map(line => ` ${line}`).join('\n');
	}
}
