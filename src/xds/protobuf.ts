/**
 * Envoy config as meshbox writes it (JSON in proto3's JSON mapping, the same text Envoy reads from a YAML
 * bootstrap) → protobuf bytes, for the xDS control plane.
 *
 * The schema is Envoy's API (./api-schema.ts), read as protobufjs's JSON form without protobufjs's reflection
 * (./schema-view.ts). What a sandbox serves comes precompiled (./descriptor.ts: a few ms to load); any other type
 * (a typed_config of another extension) is found in the whole API, loaded when first named. Each message is
 * encoded on its own (an Any carries bytes), by walking the schema (./wire.ts) rather than through protobufjs's
 * generated code, which would cost more than the whole start of a sandbox. The full protobufjs library is in
 * no module a sandbox's start loads (only tests' ./reference-codec.ts imports it).
 * protobufjs's object form does not know proto3's JSON forms of the well-known types (`"2s"` durations,
 * Struct, wrappers, `@type` inside Any), so `toProtoObject` walks the schema and rewrites those first, and
 * rejects unknown fields with their path, as Envoy would.
 */
import { MeshboxError } from '../errors.ts';
import { messageNameOf } from '../envoy-api/type-urls.ts';
import { envoyApiJson } from './api-schema.ts';
import { descriptorSchema } from './descriptor.ts';
import { MessageSchema, SchemaView } from './schema-view.ts';
import { decodeMessage, encodeMessage, WireError } from './wire.ts';

/** Messages in protobufjs's object form ↔ bytes by another encoder: what the fast path is checked against. */
export type ReferenceCodec = {
	encode(fullName: string, object: Record<string, unknown>): Uint8Array;
	/** As `EnvoySchemas.decode`: enums and 64-bit integers as strings, absent fields absent. */
	decode(fullName: string, bytes: Uint8Array): Record<string, unknown>;
};

export type EnvoySchemasOptions = {
	/**
	 * Tests only: every type from the whole API, encoded and decoded by this codec (./reference-codec.ts:
	 * protobufjs's own generated code, slow: it compiles the whole API) after the same JSON mapping.
	 */
	readonly reference?: ReferenceCodec;
};

export class EnvoySchemas {
	private readonly precompiled: SchemaView | undefined;
	private wholeApi: SchemaView | undefined;
	private readonly reference: ReferenceCodec | undefined;

	constructor(options: EnvoySchemasOptions = {}) {
		this.reference = options.reference;
		// The reference reads every type from the whole API, as its codec does.
		this.precompiled = options.reference ? undefined : descriptorSchema();
	}

	/** The message type of a full name (`envoy.config.listener.v3.Listener`), from the whole API if the descriptor lacks it. */
	type(fullName: string): MessageSchema {
		const found = this.precompiled?.message(fullName) ?? this.api().message(fullName);
		if (!found) {
			throw new MeshboxError('CONFIG_INVALID', `unknown protobuf type ${fullName}`, 'check the @type of the typed_config: Envoy\'s API has no such message');
		}

		return found;
	}

	/** JSON (proto3 JSON mapping, snake_case or lowerCamelCase names) → protobuf bytes of `fullName`. */
	encode(fullName: string, json: unknown): Uint8Array {
		const type = this.type(fullName);
		return this.write(type, this.toProtoObject(type, json, fullName), fullName);
	}

	/** An Any `{ '@type': url, …fields }` → `{ type_url, value }` with the message encoded. */
	encodeAny(json: Record<string, unknown>, where = ''): { type_url: string; value: Uint8Array } {
		const typeUrl = json['@type'];
		if (typeof typeUrl !== 'string') {
			throw new MeshboxError('CONFIG_INVALID', `${where || 'a typed_config'}: missing "@type"`, 'give the message type, e.g. "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"');
		}

		const fullName = messageNameOf(typeUrl);
		const type = this.type(fullName);
		const { '@type': _, ...fields } = json;
		// Well-known types with a JSON form of their own carry it in `value` inside an Any.
		const body = wellKnownJsonForms.has(type.fullName) ? fields.value : fields;
		return { type_url: typeUrl, value: this.write(type, this.toProtoObject(type, body, where || fullName), where || fullName) };
	}

	/** protobufjs's object form (field names as in the .proto; an Any as `{ type_url, value }`) → bytes: the control plane's own messages. */
	encodeObject(fullName: string, object: Record<string, unknown>): Uint8Array {
		return this.write(this.type(fullName), object, fullName);
	}

	/** Bytes → protobufjs's object form, enums and 64-bit integers as strings, absent fields absent. */
	decode(fullName: string, bytes: Uint8Array): Record<string, unknown> {
		const type = this.type(fullName);
		return this.reference ? this.reference.decode(type.fullName, bytes) : decodeMessage(type, bytes);
	}

	/** The whole API, for types the descriptor lacks: parsed when first needed (~15 ms). */
	private api(): SchemaView {
		this.wholeApi ??= new SchemaView(envoyApiJson());
		return this.wholeApi;
	}

	private write(type: MessageSchema, object: unknown, where: string): Uint8Array {
		if (this.reference) {
			return this.reference.encode(type.fullName, object as Record<string, unknown>);
		}

		try {
			return encodeMessage(type, object as Record<string, unknown>, where);
		} catch (error) {
			if (error instanceof WireError) {
				throw invalid(error.where, error.what);
			}

			throw error;
		}
	}

	/** proto3 JSON → the object shape protobufjs's `fromObject` takes, checked against the schema. */
	private toProtoObject(type: MessageSchema, json: unknown, where: string): unknown {
		switch (type.fullName) {
			case 'google.protobuf.Any': {
				if (!isObject(json)) {
					throw invalid(where, 'expected an object with "@type"');
				}

				return this.encodeAny(json, where);
			}

			case 'google.protobuf.Duration': {
				return parseDuration(json, where);
			}

			case 'google.protobuf.Struct': {
				return toStruct(json, where);
			}

			case 'google.protobuf.Value': {
				return toValue(json);
			}

			case 'google.protobuf.ListValue': {
				return { values: Array.isArray(json) ? json.map(toValue) : [] };
			}

			case 'google.protobuf.Empty': {
				return {};
			}

			default: {
				if (wrapperTypes.has(type.fullName)) {
					return isObject(json) && 'value' in json ? json : { value: json };
				}
			}
		}

		if (!isObject(json)) {
			throw invalid(where, `expected an object (${type.fullName})`);
		}

		const result: Record<string, unknown> = {};
		for (const [key, value] of Object.entries(json)) {
			const field = type.fieldOfJsonKey(key);
			if (!field) {
				throw invalid(`${where}.${key}`, `unknown field in ${type.fullName}`);
			}

			const resolved = field.resolved;
			const fieldWhere = `${where}.${key}`;
			const convert = (element: unknown, index?: number | string): unknown => {
				const elementWhere = index === undefined ? fieldWhere : `${fieldWhere}[${index}]`;
				return resolved instanceof MessageSchema ? this.toProtoObject(resolved, element, elementWhere) : element;
			};

			if (field.map) {
				result[field.name] = isObject(value) ? Object.fromEntries(Object.entries(value).map(([mapKey, element]) => [mapKey, convert(element, mapKey)])) : value;
			} else if (field.repeated) {
				result[field.name] = Array.isArray(value) ? value.map((element, index) => convert(element, index)) : value;
			} else {
				result[field.name] = convert(value);
			}
		}

		return result;
	}
}

const wellKnownJsonForms = new Set(['google.protobuf.Duration', 'google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue',
	'google.protobuf.StringValue', 'google.protobuf.BytesValue', 'google.protobuf.BoolValue', 'google.protobuf.UInt32Value', 'google.protobuf.Int32Value',
	'google.protobuf.UInt64Value', 'google.protobuf.Int64Value', 'google.protobuf.DoubleValue', 'google.protobuf.FloatValue']);

const wrapperTypes = new Set([...wellKnownJsonForms].filter(name => name.endsWith('Value') && !name.endsWith('.Value') && !name.endsWith('ListValue')));

let shared: EnvoySchemas | undefined;

/** One schema set per process: types are set up once, on first use. */
export function envoySchemas(): EnvoySchemas {
	shared ??= new EnvoySchemas();
	return shared;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(where: string, what: string): MeshboxError {
	return new MeshboxError('CONFIG_INVALID', `${where}: ${what}`, 'fix the Envoy config at that field (names as in Envoy\'s API reference)');
}

function parseDuration(json: unknown, where: string): { seconds: number; nanos: number } {
	if (isObject(json)) {
		return { seconds: Number(json.seconds ?? 0), nanos: Number(json.nanos ?? 0) };
	}

	const match = typeof json === 'string' ? /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : undefined;
	if (!match) {
		throw invalid(where, `expected a duration such as "1s" or "0.250s", got ${JSON.stringify(json)}`);
	}

	const sign = match[1] === '-' ? -1 : 1;
	return { seconds: sign * Number(match[2]), nanos: sign * Number((match[3] ?? '').padEnd(9, '0')) };
}

function toStruct(json: unknown, where: string): { fields: Record<string, unknown> } {
	if (!isObject(json)) {
		throw invalid(where, 'expected an object (google.protobuf.Struct)');
	}

	return { fields: Object.fromEntries(Object.entries(json).map(([key, value]) => [key, toValue(value)])) };
}

function toValue(json: unknown): Record<string, unknown> {
	if (json === null || json === undefined) {
		return { null_value: 'NULL_VALUE' };
	}

	switch (typeof json) {
		case 'number': {
			return { number_value: json };
		}

		case 'string': {
			return { string_value: json };
		}

		case 'boolean': {
			return { bool_value: json };
		}

		default: {
			return Array.isArray(json)
				? { list_value: { values: json.map(toValue) } }
				: { struct_value: { fields: Object.fromEntries(Object.entries(json as Record<string, unknown>).map(([key, value]) => [key, toValue(value)])) } };
		}
	}
}
