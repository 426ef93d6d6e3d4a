/**
 * Protobuf wire encoding and decoding driven by protobufjs's reflection, without its generated code.
 *
 * protobufjs compiles five functions (encode, decode, verify, fromObject, toObject) and a constructor with
 * `new Function` for every message type on first use: ~100 ms of a sandbox's start for the ~80 types of its
 * first push, where walking the schema takes a few ms for messages of this size. The output is byte for byte
 * what protobufjs's `type.encode(type.fromObject(object))` writes (test/foundation/xds-descriptor.test.ts
 * checks it): fields in field-number order, every present field written (also zeros), packed repeated scalars.
 *
 * `object` is protobufjs's object form (field names as in the .proto, enums by name or number, 64-bit integers
 * as numbers or decimal strings, bytes as Uint8Array or base64, an Any as `{ type_url, value }`); ./protobuf.ts
 * turns proto3 JSON into it.
 */
import protobuf from 'protobufjs';

type Resolved = protobuf.Type | protobuf.Enum | undefined;
type WriterMethod = (this: protobuf.Writer, value: unknown) => protobuf.Writer;
type ReaderMethod = (this: protobuf.Reader) => unknown;

/** What a field's type refers to (a message or an enum), or undefined for scalars; looked up once. */
const resolvedTypes = new WeakMap<protobuf.Field, Resolved>();
const sortedFields = new WeakMap<protobuf.Type, protobuf.Field[]>();

export function resolvedTypeOf(field: protobuf.Field): Resolved {
	if (!resolvedTypes.has(field)) {
		// Not field.resolve(): that also generates the parent type's constructor (new Function).
		const resolved: unknown = protobuf.types.basic[field.type as keyof typeof protobuf.types.basic] === undefined ? field.parent!.lookupTypeOrEnum(field.type) : undefined;
		resolvedTypes.set(field, resolved instanceof protobuf.Type || resolved instanceof protobuf.Enum ? resolved : undefined);
	}

	return resolvedTypes.get(field);
}

function fieldsById(type: protobuf.Type): protobuf.Field[] {
	let fields = sortedFields.get(type);
	if (!fields) {
		fields = [...type.fieldsArray].sort((a, b) => a.id - b.id);
		sortedFields.set(type, fields);
	}

	return fields;
}

export class WireError extends Error {
	constructor(readonly where: string, readonly what: string) {
		super(`${where}: ${what}`);
	}
}

export type WireOptions = {
	/** Whether a repeated scalar field is packed (proto3: yes, unless `[packed = false]`). */
	readonly packed: (field: protobuf.Field) => boolean;
};

export function encodeMessage(type: protobuf.Type, message: Record<string, unknown>, options: WireOptions, where = type.fullName.slice(1)): Uint8Array {
	const writer = protobuf.Writer.create();
	writeMessage(type, message, writer, options, where);
	return writer.finish();
}

function writeMessage(type: protobuf.Type, message: Record<string, unknown>, writer: protobuf.Writer, options: WireOptions, where: string): void {
	for (const field of fieldsById(type)) {
		const value = message[field.name];
		if (value === undefined || value === null) {
			continue;
		}

		const fieldWhere = `${where}.${field.name}`;
		const resolved = resolvedTypeOf(field);
		if (field.map) {
			if (!isObject(value)) {
				throw new WireError(fieldWhere, 'expected an object (a map)');
			}

			const keyType = keyTypeOf(field);
			for (const [key, element] of Object.entries(value)) {
				writer.uint32(tag(field.id, 2)).fork().uint32(tag(1, protobuf.types.mapKey[keyType as keyof typeof protobuf.types.mapKey]));
				call(writer, keyType, key);
				writeSingle(field, resolved, 2, element, writer, options, `${fieldWhere}[${JSON.stringify(key)}]`);
				writer.ldelim();
			}
		} else if (field.repeated) {
			if (!Array.isArray(value)) {
				throw new WireError(fieldWhere, 'expected a list');
			}

			if (value.length === 0) {
				continue;
			}

			const scalarType = resolved instanceof protobuf.Enum ? 'int32' : field.type;
			if (!(resolved instanceof protobuf.Type) && protobuf.types.packed[scalarType as keyof typeof protobuf.types.packed] !== undefined && options.packed(field)) {
				writer.uint32(tag(field.id, 2)).fork();
				for (const [index, element] of value.entries()) {
					call(writer, scalarType, scalar(field, resolved, element, `${fieldWhere}[${index}]`));
				}

				writer.ldelim();
			} else {
				for (const [index, element] of value.entries()) {
					writeSingle(field, resolved, field.id, element, writer, options, `${fieldWhere}[${index}]`);
				}
			}
		} else {
			writeSingle(field, resolved, field.id, value, writer, options, fieldWhere);
		}
	}
}

/** One value of `field` as field number `id` (the field's own, or 2: a map entry's value). */
function writeSingle(field: protobuf.Field, resolved: Resolved, id: number, value: unknown, writer: protobuf.Writer, options: WireOptions, where: string): void {
	if (resolved instanceof protobuf.Type) {
		if (!isObject(value)) {
			throw new WireError(where, `expected an object (${resolved.fullName.slice(1)})`);
		}

		writer.uint32(tag(id, 2)).fork();
		writeMessage(resolved, value, writer, options, where);
		writer.ldelim();
		return;
	}

	const scalarType = resolved instanceof protobuf.Enum ? 'int32' : field.type;
	writer.uint32(tag(id, protobuf.types.basic[scalarType as keyof typeof protobuf.types.basic]));
	call(writer, scalarType, scalar(field, resolved, value, where));
}

/** A scalar as protobufjs's fromObject converts it. */
function scalar(field: protobuf.Field, resolved: Resolved, value: unknown, where: string): unknown {
	if (resolved instanceof protobuf.Enum) {
		if (typeof value === 'number') {
			return value;
		}

		const number = typeof value === 'string' ? resolved.values[value] : undefined;
		if (number === undefined) {
			throw new WireError(where, `expected one of ${Object.keys(resolved.values).join(', ')} (${resolved.fullName.slice(1)}), got ${JSON.stringify(value)}`);
		}

		return number;
	}

	switch (field.type) {
		case 'double':
		case 'float': {
			return Number(value);
		}

		case 'int32':
		case 'sint32':
		case 'sfixed32': {
			return Number(value) | 0;
		}

		case 'uint32':
		case 'fixed32': {
			return Number(value) >>> 0;
		}

		case 'int64':
		case 'sint64':
		case 'sfixed64':
		case 'uint64':
		case 'fixed64': {
			const Long = protobuf.util.Long as unknown as { fromValue(value: string | number): { unsigned: boolean } } | undefined;
			if (!Long) {
				return typeof value === 'string' ? Number.parseInt(value, 10) : value;
			}

			const long = Long.fromValue(value as string | number);
			long.unsigned = field.type === 'uint64' || field.type === 'fixed64';
			return long;
		}

		case 'bool': {
			return Boolean(value);
		}

		case 'string': {
			return String(value);
		}

		case 'bytes': {
			if (typeof value === 'string') {
				const bytes = protobuf.util.newBuffer(protobuf.util.base64.length(value));
				protobuf.util.base64.decode(value, bytes, 0);
				return bytes;
			}

			return value;
		}

		default: {
			throw new WireError(where, `unsupported field type ${field.type}`);
		}
	}
}

/** Bytes → protobufjs's object form (`toObject` with enums and 64-bit integers as strings, no defaults). */
export function decodeMessage(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
	const reader = protobuf.Reader.create(bytes);
	return readMessage(type, reader, reader.len);
}

function readMessage(type: protobuf.Type, reader: protobuf.Reader, end: number): Record<string, unknown> {
	const message: Record<string, unknown> = {};
	while (reader.pos < end) {
		const key = reader.uint32();
		const field = type.fieldsById[key >>> 3];
		if (!field) {
			reader.skipType(key & 7);
			continue;
		}

		const resolved = resolvedTypeOf(field);
		if (field.map) {
			const entryEnd = reader.uint32() + reader.pos;
			let mapKey: unknown = '';
			let mapValue: unknown;
			while (reader.pos < entryEnd) {
				const entryTag = reader.uint32();
				if (entryTag >>> 3 === 1) {
					mapKey = read(reader, keyTypeOf(field), undefined);
				} else if (entryTag >>> 3 === 2) {
					mapValue = readSingle(field, resolved, reader);
				} else {
					reader.skipType(entryTag & 7);
				}
			}

			const map = (message[field.name] ??= {}) as Record<string, unknown>;
			map[String(mapKey)] = mapValue;
		} else if (field.repeated) {
			const list = (message[field.name] ??= []) as unknown[];
			if (!(resolved instanceof protobuf.Type) && (key & 7) === 2 && protobuf.types.packed[(resolved ? 'int32' : field.type) as keyof typeof protobuf.types.packed] !== undefined) {
				const packedEnd = reader.uint32() + reader.pos;
				while (reader.pos < packedEnd) {
					list.push(readSingle(field, resolved, reader));
				}
			} else {
				list.push(readSingle(field, resolved, reader));
			}
		} else {
			message[field.name] = readSingle(field, resolved, reader);
		}
	}

	return message;
}

function readSingle(field: protobuf.Field, resolved: Resolved, reader: protobuf.Reader): unknown {
	if (resolved instanceof protobuf.Type) {
		const length = reader.uint32();
		return readMessage(resolved, reader, reader.pos + length);
	}

	return read(reader, resolved ? 'int32' : field.type, resolved);
}

function read(reader: protobuf.Reader, type: string, resolved: protobuf.Enum | undefined): unknown {
	const value = (reader as unknown as Record<string, ReaderMethod>)[type]!.call(reader);
	if (resolved) {
		return resolved.valuesById[value as number] ?? value;
	}

	// 64-bit integers come back as Long (or number): decimal strings, as toObject({ longs: String }).
	return type.endsWith('64') && type !== 'double' ? String(value) : value;
}

function keyTypeOf(field: protobuf.Field): string {
	return (field as unknown as protobuf.MapField).keyType;
}

function call(writer: protobuf.Writer, method: string, value: unknown): void {
	(writer as unknown as Record<string, WriterMethod>)[method]!.call(writer, value);
}

function tag(id: number, wireType: number): number {
	return ((id << 3) | wireType) >>> 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}
