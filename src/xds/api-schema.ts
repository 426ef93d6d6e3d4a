/**
 * Envoy's xDS API as protobufjs reflection, built from protobufjs's JSON form of it: the whole API
 * (./envoy-api.generated.ts, `npm run gen:envoy-api`), or the precompiled part of it a sandbox serves
 * (./descriptor.ts). Built with `addJSON` only, never `resolveAll()`: that would generate code for every type
 * (~0.3 s for the whole API); ./wire.ts encodes by walking the schema instead.
 */
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { envoyApiSchema, envoyApiSource } from './envoy-api.generated.ts';

/** protobufjs's JSON form of a namespace, message or enum (`Root.toJSON()`). */
export type SchemaJson = {
	nested?: Record<string, SchemaJson>;
	fields?: Record<string, { type: string; id: number; rule?: string; keyType?: string; options?: Record<string, unknown> }>;
	values?: Record<string, number>;
	edition?: string;
	[key: string]: unknown;
};

export { envoyApiSource };

/** The whole API, parsed (a fresh object: callers may keep or change it). */
export function envoyApiJson(): SchemaJson {
	return JSON.parse(gunzipSync(Buffer.from(envoyApiSchema, 'base64')).toString('utf8')) as SchemaJson;
}

export class SchemaRoot {
	readonly root = new protobuf.Root();
	/** Top-level messages of proto2 files (their repeated scalars are not packed unless they say so). */
	private readonly proto2 = new Set<string>();

	constructor(json: SchemaJson) {
		this.root.addJSON((json.nested ?? {}) as Record<string, protobuf.AnyNestedObject>);
		collectProto2(json, '', this.proto2);
	}

	type(fullName: string): protobuf.Type | undefined {
		try {
			return this.root.lookupType(fullName);
		} catch {
			return undefined;
		}
	}

	/** Whether a repeated scalar field is written packed: `[packed = …]` if given, else packed unless proto2. */
	packed(field: protobuf.Field): boolean {
		const explicit = field.getOption('packed') as boolean | undefined;
		if (explicit !== undefined) {
			return explicit;
		}

		let top: protobuf.ReflectionObject = field.parent!;
		while (top.parent instanceof protobuf.Type) {
			top = top.parent;
		}

		return !this.proto2.has(top.fullName.slice(1));
	}
}

function collectProto2(json: SchemaJson, prefix: string, into: Set<string>): void {
	for (const [name, child] of Object.entries(json.nested ?? {})) {
		const fullName = prefix ? `${prefix}.${name}` : name;
		if (child.edition === 'proto2') {
			into.add(fullName);
		}

		if (!child.fields) {
			collectProto2(child, fullName, into);
		}
	}
}
