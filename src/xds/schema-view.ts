/**
 * Envoy's API as the encoder reads it: protobufjs's JSON form (./api-schema.ts: the whole API; ./descriptor.ts:
 * the part a sandbox serves) looked up by full name, each message's fields resolved on first use, without
 * protobufjs's reflection (Root, Type, Field). `Root.addJSON` of the descriptor built ~2000 reflection objects
 * (~30 ms of a sandbox's start, and the whole protobufjs library in the CLI bundle) where a first push uses
 * about 80 types: here a type is the JSON node of its full name (found by walking its name's segments down
 * `nested`), and a field's type name is resolved, and a message's fields sorted by number, once, when first asked.
 *
 * A JSON node is read the way protobufjs's `Namespace.addJSON` reads it: `fields` makes a message, `values` an
 * enum, `methods` a service, `id` an extension field, anything else a namespace.
 */
import type { FieldJson, SchemaJson } from './api-schema.ts';

/** The scalar types of .proto files (protobufjs's `types.basic`): anything else names a message or an enum. */
const scalarTypes: ReadonlySet<string> = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32',
	'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool', 'string', 'bytes']);

export type Definition = MessageSchema | EnumSchema;

/** One schema (the whole API or the descriptor): full name → message or enum, looked up when first asked. */
export class SchemaView {
	private readonly definitions = new Map<string, Definition | undefined>();

	constructor(private readonly json: SchemaJson) {}

	/** The message of a full name (`envoy.config.listener.v3.Listener`, a leading dot allowed). */
	message(fullName: string): MessageSchema | undefined {
		const found = this.definition(fullName);
		return found instanceof MessageSchema ? found : undefined;
	}

	/** The message or enum of a full name (a leading dot allowed). */
	definition(fullName: string): Definition | undefined {
		const name = fullName.startsWith('.') ? fullName.slice(1) : fullName;
		if (!this.definitions.has(name)) {
			this.definitions.set(name, this.find(name));
		}

		return this.definitions.get(name);
	}

	private find(fullName: string): Definition | undefined {
		if (fullName === '') {
			return undefined;
		}

		let node: SchemaJson | undefined = this.json;
		// The outermost message on the way down: its file's syntax (`edition`) is the one of every type nested in it.
		let outermost: SchemaJson | undefined;
		for (const segment of fullName.split('.')) {
			node = node.nested !== undefined && Object.hasOwn(node.nested, segment) ? node.nested[segment] : undefined;
			if (node === undefined) {
				return undefined;
			}

			if (outermost === undefined && node.fields !== undefined) {
				outermost = node;
			}
		}

		if (node.fields !== undefined) {
			return new MessageSchema(this, fullName, node, outermost?.edition === 'proto2');
		}

		return node.values === undefined ? undefined : new EnumSchema(fullName, node.values);
	}
}

/** A message type: its fields by number (the order they are written in), by name, and by JSON name. */
export class MessageSchema {
	private sorted: readonly FieldSchema[] | undefined;
	private byName: ReadonlyMap<string, FieldSchema> | undefined;
	private byJsonName: ReadonlyMap<string, FieldSchema> | undefined;
	private byId: ReadonlyMap<number, FieldSchema> | undefined;

	constructor(
		readonly view: SchemaView,
		/** No leading dot. */
		readonly fullName: string,
		private readonly json: SchemaJson,
		/** Declared in a proto2 file: its repeated scalars are not packed unless they say so. */
		readonly proto2: boolean,
	) {}

	/** Fields in field-number order, as protobufjs's encoder writes them. */
	get fields(): readonly FieldSchema[] {
		this.sorted ??= [...this.named().values()].sort((a, b) => a.id - b.id);
		return this.sorted;
	}

	/** The field of a name as in the .proto (`filter_chains`). */
	field(name: string): FieldSchema | undefined {
		return this.named().get(name);
	}

	/**
	 * The field a proto3 JSON key names: its .proto name, else its `json_name` or lowerCamelCase name (the first
	 * field in declaration order that has it, as meshbox looked it up through protobufjs before).
	 */
	fieldOfJsonKey(key: string): FieldSchema | undefined {
		const named = this.named().get(key);
		if (named) {
			return named;
		}

		if (!this.byJsonName) {
			const byJsonName = new Map<string, FieldSchema>();
			for (const field of this.named().values()) {
				for (const alias of [field.options?.json_name, lowerCamel(field.name)]) {
					if (typeof alias === 'string' && !byJsonName.has(alias)) {
						byJsonName.set(alias, field);
					}
				}
			}

			this.byJsonName = byJsonName;
		}

		return this.byJsonName.get(key);
	}

	fieldById(id: number): FieldSchema | undefined {
		this.byId ??= new Map(this.fields.map(field => [field.id, field]));
		return this.byId.get(id);
	}

	/**
	 * The message or enum a field's type name refers to, resolved as protoc does: an absolute name (`.a.B`) as is,
	 * else in this message's scope, then each enclosing scope outward (protobuf's language guide, "Packages and
	 * Name Resolution"). Envoy's generated API writes absolute names only.
	 */
	resolve(typeName: string): Definition {
		if (typeName.startsWith('.')) {
			const found = this.view.definition(typeName);
			if (found) {
				return found;
			}
		} else {
			for (let scope = this.fullName; ; scope = scope.slice(0, Math.max(0, scope.lastIndexOf('.')))) {
				const found = this.view.definition(scope ? `${scope}.${typeName}` : typeName);
				if (found) {
					return found;
				}

				if (scope === '') {
					break;
				}
			}
		}

		throw new Error(`no such message or enum '${typeName}' in ${this.fullName}`);
	}

	private named(): ReadonlyMap<string, FieldSchema> {
		if (!this.byName) {
			this.byName = new Map(Object.entries(this.json.fields ?? {}).map(([name, field]) => [name, new FieldSchema(this, name, field)]));
		}

		return this.byName;
	}
}

export class FieldSchema {
	readonly id: number;
	/** The scalar type, or the name of the message or enum (a map's value type). */
	readonly type: string;
	readonly repeated: boolean;
	/** A map's key type (a scalar), undefined unless a map field. */
	readonly keyType: string | undefined;
	readonly options: Readonly<Record<string, unknown>> | undefined;
	/** null: not resolved yet (undefined is a scalar's answer). */
	private resolvedType: Definition | undefined | null = null;

	constructor(readonly parent: MessageSchema, readonly name: string, json: FieldJson) {
		this.id = json.id;
		this.type = json.type;
		this.repeated = json.rule === 'repeated';
		this.keyType = json.keyType;
		this.options = json.options;
	}

	get map(): boolean {
		return this.keyType !== undefined;
	}

	/** The message or enum of the field's (or a map's value) type, undefined for scalars; resolved once. */
	get resolved(): Definition | undefined {
		if (this.resolvedType === null) {
			this.resolvedType = scalarTypes.has(this.type) ? undefined : this.parent.resolve(this.type);
		}

		return this.resolvedType;
	}

	/**
	 * Whether a repeated scalar is written packed: `[packed = …]` if given, else packed unless declared in a proto2
	 * file (protobuf's encoding guide, "Packed Repeated Fields": proto3 packs by default, proto2 does not).
	 */
	get packed(): boolean {
		const explicit = this.options?.packed;
		return typeof explicit === 'boolean' ? explicit : !this.parent.proto2;
	}
}

export class EnumSchema {
	private byNumber: ReadonlyMap<number, string> | undefined;

	constructor(
		/** No leading dot. */
		readonly fullName: string,
		/** Name → number, in declaration order. */
		readonly values: Readonly<Record<string, number>>,
	) {}

	/** The number of a value's name, undefined for a name the enum does not have. */
	numberOf(name: string): number | undefined {
		return Object.hasOwn(this.values, name) ? this.values[name] : undefined;
	}

	/** The name of a number (of aliases, the last declared, as protobufjs's `valuesById`). */
	nameOf(number: number): string | undefined {
		this.byNumber ??= new Map(Object.entries(this.values).map(([name, value]) => [value, name]));
		return this.byNumber.get(number);
	}
}

function lowerCamel(name: string): string {
	return name.replaceAll(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
