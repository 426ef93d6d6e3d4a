/**
 * The precompiled part of Envoy's API that a sandbox serves over xDS: every message reachable from the resource
 * types meshbox writes (listener, cluster, extension config, HCM, router, wasm, RBAC, …), the discovery request
 * and response, and the well-known types, in protobufjs's JSON form. Parsing it takes ~2 ms; the whole API
 * (./envoy-api.generated.ts, ~2500 types) ~15 ms more (gunzip and JSON.parse), paid only when a config names a
 * type outside this part (a typed_config of another extension), and parsing Envoy's .proto files took ~150 ms
 * on every start. Both are read as they are (./schema-view.ts), without protobufjs's reflection.
 *
 * `buildDescriptor()` derives it from the whole API; `npm run gen:xds-descriptor` (scripts/gen-xds-descriptor.ts)
 * writes it to ./envoy-descriptor.generated.ts (a .ts module, so it is part of the compiled package too), and
 * test/xds/xds-descriptor.test.ts fails when the two no longer match.
 */
import { typeUrls, messageNameOf } from '../envoy-api/type-urls.ts';
import { envoyApiJson, envoyApiSource, type SchemaJson } from './api-schema.ts';
import { envoyDescriptorJson } from './envoy-descriptor.generated.ts';
import { MessageSchema, SchemaView } from './schema-view.ts';

/** The messages the descriptor starts from; it holds them and every type their fields use. */
const descriptorRoots: readonly string[] = [
	'envoy.service.discovery.v3.DiscoveryRequest',
	'envoy.service.discovery.v3.DiscoveryResponse',
	...Object.values(typeUrls).map(messageNameOf),
	// What an Any or a typed_config may carry in JSON form (./protobuf.ts gives them their JSON mapping).
	...['Any', 'Duration', 'Struct', 'Value', 'ListValue', 'Empty', 'StringValue', 'BytesValue', 'BoolValue', 'UInt32Value', 'Int32Value',
		'UInt64Value', 'Int64Value', 'DoubleValue', 'FloatValue'].map(name => `google.protobuf.${name}`),
];

export type EnvoyDescriptor = {
	/** The API it was cut from (./envoy-api.generated.ts). */
	readonly source: { readonly module: string; readonly version: string };
	readonly roots: readonly string[];
	/** protobufjs's JSON form of the kept namespaces (`Root.toJSON().nested`). */
	readonly nested: Record<string, SchemaJson>;
};

/** The descriptor, cut from the whole API. */
export function buildDescriptor(api: SchemaJson = envoyApiJson()): EnvoyDescriptor {
	const schema = new SchemaView(api);
	const keep = reachable(schema, descriptorRoots);
	return {
		source: { module: envoyApiSource.module, version: envoyApiSource.version },
		roots: [...descriptorRoots],
		nested: prune(api.nested ?? {}, '', keep),
	};
}

/** The descriptor meshbox ships. */
export function descriptorSchema(): SchemaView {
	const descriptor = JSON.parse(envoyDescriptorJson) as EnvoyDescriptor;
	return new SchemaView({ nested: descriptor.nested });
}

/** The full names (no leading dot) of `roots` and every message or enum their fields refer to. */
function reachable(schema: SchemaView, roots: readonly string[]): Set<string> {
	const keep = new Set<string>();
	const queue = [...roots];
	for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
		if (keep.has(name)) {
			continue;
		}

		const definition = schema.definition(name);
		if (!definition) {
			throw new Error(`${name}: no such message in Envoy's API ${envoyApiSource.module} ${envoyApiSource.version}`);
		}

		keep.add(name);
		if (definition instanceof MessageSchema) {
			for (const field of definition.fields) {
				if (field.resolved) {
					queue.push(field.resolved.fullName);
				}
			}
		}

		// A nested type lives inside its parent's JSON: the parent comes whole (with what its fields use).
		const parent = schema.message(name.slice(0, Math.max(0, name.lastIndexOf('.'))));
		if (parent) {
			queue.push(parent.fullName);
		}
	}

	return keep;
}

/** `nested` with only the kept messages and enums (and the namespaces holding them). */
function prune(nested: Record<string, SchemaJson>, prefix: string, keep: ReadonlySet<string>): Record<string, SchemaJson> {
	const result: Record<string, SchemaJson> = {};
	for (const [name, node] of Object.entries(nested)) {
		const fullName = prefix ? `${prefix}.${name}` : name;
		const children = node.nested ? prune(node.nested, fullName, keep) : {};
		if (keep.has(fullName)) {
			if (node.edition !== undefined && node.edition !== 'proto2' && node.edition !== 'proto3') {
				// ./api-schema.ts knows proto2 and proto3 field encodings only.
				throw new Error(`${fullName}: edition ${node.edition} is not supported by meshbox's encoder`);
			}

			const { nested: _, ...definition } = node;
			result[name] = Object.keys(children).length > 0 ? { ...definition, nested: children } : definition;
		} else if (Object.keys(children).length > 0) {
			result[name] = { nested: children };
		}
	}

	return result;
}
