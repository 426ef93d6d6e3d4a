/**
 * Protobuf wire encoding and decoding driven by the schema (./schema-view.ts), without protobufjs's generated
 * code or its reflection: only its Writer and Reader (`protobufjs/minimal`).
 *
 * protobufjs compiles five functions (encode, decode, verify, fromObject, toObject) and a constructor with
 * `new Function` for every message type on first use: ~100 ms of a sandbox's start for the ~80 types of its
 * first push, where walking the schema takes a few ms for messages of this size. The output is byte for byte
 * what protobufjs's `type.encode(type.fromObject(object))` writes (test/xds/xds-descriptor.test.ts
 * checks it): fields in field-number order, every present field written (also zeros), packed repeated scalars.
 *
 * `object` is protobufjs's object form (field names as in the .proto, enums by name or number, 64-bit integers
 * as numbers or decimal strings, bytes as Uint8Array or base64, an Any as `{ type_url, value }`); ./protobuf.ts
 * turns proto3 JSON into it.
 */
import protobuf from 'protobufjs/minimal.js';
import { EnumSchema, MessageSchema, type Definition, type FieldSchema } from './schema-view.ts';

type Resolved = Definition | undefined;
type WriterMethod = (this: protobuf.Writer, value: unknown) => protobuf.Writer;
type ReaderMethod = (this: protobuf.Reader) => unknown;

/** Wire type of each scalar (protobufjs's `types.basic`; a map key's is the same, `types.mapKey`). */
const wireTypes: Readonly<Record<string, number>> = {
	double: 1, float: 5, int32: 0, uint32: 0, sint32: 0, fixed32: 5, sfixed32: 5,
	int64: 0, uint64: 0, sint64: 0, fixed64: 1, sfixed64: 1, bool: 0, string: 2, bytes: 2,
};

/** Whether a repeated field of a scalar type may be packed: every scalar but strings and bytes (protobufjs's `types.packed`). */
function packable(scalarType: string): boolean {
	return Object.hasOwn(wireTypes, scalarType) && scalarType !== 'string' && scalarType !== 'bytes';
}

export class WireError extends Error {
	constructor(readonly where: string, readonly what: string) {
		super(`${where}: ${what}`);
	}
}

export function encodeMessage(type: MessageSchema, message: Record<string, unknown>, where = type.fullName): Uint8Array {
	const writer = protobuf.Writer.create();
	writeMessage(type, message, writer, where);
	return writer.finish();
}

function writeMessage(type: MessageSchema, message: Record<string, unknown>, writer: protobuf.Writer, where: string): void {
	for (const field of type.fields) {
		const value = message[field.name];
		if (value === undefined || value === null) {
			continue;
		}

		const fieldWhere = `${where}.${field.name}`;
		const resolved = field.resolved;
		if (field.map) {
			if (!isObject(value)) {
				throw new WireError(fieldWhere, 'expected an object (a map)');
			}

			const keyType = field.keyType!;
			for (const [key, element] of Object.entries(value)) {
				writer.uint32(tag(field.id, 2)).fork().uint32(tag(1, wireTypes[keyType]!));
				call(writer, keyType, key);
				writeSingle(field, resolved, 2, element, writer, `${fieldWhere}[${JSON.stringify(key)}]`);
				writer.ldelim();
			}
		} else if (field.repeated) {
			if (!Array.isArray(value)) {
				throw new WireError(fieldWhere, 'expected a list');
			}

			if (value.length === 0) {
				continue;
			}

			const scalarType = resolved instanceof EnumSchema ? 'int32' : field.type;
			if (!(resolved instanceof MessageSchema) && packable(scalarType) && field.packed) {
				writer.uint32(tag(field.id, 2)).fork();
				for (const [index, element] of value.entries()) {
					call(writer, scalarType, scalar(field, resolved, element, `${fieldWhere}[${index}]`));
				}

				writer.ldelim();
			} else {
				for (const [index, element] of value.entries()) {
					writeSingle(field, resolved, field.id, element, writer, `${fieldWhere}[${index}]`);
				}
			}
		} else {
			writeSingle(field, resolved, field.id, value, writer, fieldWhere);
		}
	}
}

/** One value of `field` as field number `id` (the field's own, or 2: a map entry's value). */
function writeSingle(field: FieldSchema, resolved: Resolved, id: number, value: unknown, writer: protobuf.Writer, where: string): void {
	if (resolved instanceof MessageSchema) {
		if (!isObject(value)) {
			throw new WireError(where, `expected an object (${resolved.fullName})`);
		}

		writer.uint32(tag(id, 2)).fork();
		writeMessage(resolved, value, writer, where);
		writer.ldelim();
		return;
	}

	const scalarType = resolved instanceof EnumSchema ? 'int32' : field.type;
	const wireType = wireTypes[scalarType];
	if (wireType === undefined) {
		throw new WireError(where, `unsupported field type ${field.type}`);
	}

	writer.uint32(tag(id, wireType));
	call(writer, scalarType, scalar(field, resolved, value, where));
}

/** A scalar as protobufjs's fromObject converts it. */
function scalar(field: FieldSchema, resolved: Resolved, value: unknown, where: string): unknown {
	if (resolved instanceof EnumSchema) {
		if (typeof value === 'number') {
			return value;
		}

		const number = typeof value === 'string' ? resolved.numberOf(value) : undefined;
		if (number === undefined) {
			throw new WireError(where, `expected one of ${Object.keys(resolved.values).join(', ')} (${resolved.fullName}), got ${JSON.stringify(value)}`);
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
export function decodeMessage(type: MessageSchema, bytes: Uint8Array): Record<string, unknown> {
	const reader = protobuf.Reader.create(bytes);
	return readMessage(type, reader, reader.len);
}

function readMessage(type: MessageSchema, reader: protobuf.Reader, end: number): Record<string, unknown> {
	const message: Record<string, unknown> = {};
	while (reader.pos < end) {
		const key = reader.uint32();
		const field = type.fieldById(key >>> 3);
		if (!field) {
			reader.skipType(key & 7);
			continue;
		}

		const resolved = field.resolved;
		if (field.map) {
			const entryEnd = reader.uint32() + reader.pos;
			let mapKey: unknown = '';
			let mapValue: unknown;
			while (reader.pos < entryEnd) {
				const entryTag = reader.uint32();
				if (entryTag >>> 3 === 1) {
					mapKey = read(reader, field.keyType!, undefined);
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
			if (!(resolved instanceof MessageSchema) && (key & 7) === 2 && packable(resolved ? 'int32' : field.type)) {
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

function readSingle(field: FieldSchema, resolved: Resolved, reader: protobuf.Reader): unknown {
	if (resolved instanceof MessageSchema) {
		const length = reader.uint32();
		return readMessage(resolved, reader, reader.pos + length);
	}

	return read(reader, resolved ? 'int32' : field.type, resolved);
}

function read(reader: protobuf.Reader, type: string, resolved: EnumSchema | undefined): unknown {
	const value = (reader as unknown as Record<string, ReaderMethod>)[type]!.call(reader);
	if (resolved) {
		return resolved.nameOf(value as number) ?? value;
	}

	// 64-bit integers come back as Long (or number): decimal strings, as toObject({ longs: String }).
	return type.endsWith('64') && type !== 'double' ? String(value) : value;
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
