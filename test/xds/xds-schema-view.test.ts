import test from 'ava';
import protobuf from 'protobufjs';
import { envoyApiJson, type SchemaJson } from '../../src/xds/api-schema.ts';
import { EnumSchema, MessageSchema, SchemaView } from '../../src/xds/schema-view.ts';

/** Every message of a protobufjs namespace, nested ones too. */
function messagesOf(namespace: protobuf.NamespaceBase): protobuf.Type[] {
	return namespace.nestedArray.flatMap(object => [
		...(object instanceof protobuf.Type ? [object] : []),
		...(object instanceof protobuf.Namespace ? messagesOf(object) : []),
	]);
}

test('every field of the whole API reads as through protobufjs\'s reflection: number, shape, resolved type, packed', t => {
	const json = envoyApiJson();
	const view = new SchemaView(json);
	const root = protobuf.Root.fromJSON(json as protobuf.INamespace).resolveAll();
	const differences: string[] = [];
	const extended = new Set<string>();
	let fields = 0;
	for (const type of messagesOf(root)) {
		const message = view.message(type.fullName);
		if (!message) {
			differences.push(`${type.fullName}: not found`);
			continue;
		}

		// protobufjs adds extensions (`extend`) to the message they extend; the view does not read them.
		const ownFields = type.fieldsArray.filter(field => {
			if (field.declaringField) {
				extended.add(type.fullName);
			}

			return !field.declaringField;
		});
		t.deepEqual(message.fields.map(field => field.name), ownFields.sort((a, b) => a.id - b.id).map(field => field.name), type.fullName);
		for (const field of ownFields) {
			fields += 1;
			const mine = message.field(field.name)!;
			const resolved = field.resolvedType?.fullName.slice(1);
			if (mine.resolved?.fullName !== resolved || (mine.resolved instanceof EnumSchema) !== (field.resolvedType instanceof protobuf.Enum)) {
				differences.push(`${field.fullName}: resolves to ${mine.resolved?.fullName}, protobufjs: ${resolved}`);
			}

			if (mine.id !== field.id || mine.repeated !== field.repeated || mine.map !== field.map || mine.keyType !== (field.map ? (field as unknown as protobuf.MapField).keyType : undefined)) {
				differences.push(`${field.fullName}: shape`);
			}

			// protobufjs's `packed` (from the file's edition and [packed]) matters for repeated scalars only.
			if (field.repeated && !(field.resolvedType instanceof protobuf.Type) && field.type !== 'string' && field.type !== 'bytes' && mine.packed !== field.packed) {
				differences.push(`${field.fullName}: packed ${mine.packed}, protobufjs: ${field.packed}`);
			}
		}
	}

	t.true(fields > 7000, `${fields} fields`);
	t.deepEqual(differences, []);
	// Extensions in Envoy's API extend descriptor.proto's options (validate, udpa annotations), never a config message.
	t.true(extended.size > 0);
	t.deepEqual([...extended].filter(name => !/^\.google\.protobuf\.(\w+Options|FeatureSet)$/.test(name)), []);
});

test('a relative type name resolves in the innermost scope outward, as protoc does', t => {
	const json: SchemaJson = {
		nested: {
			a: {
				nested: {
					T: { fields: { t: { type: 'string', id: 1 } } },
					E: { values: { ZERO: 0, ONE: 1, UNO: 1 } },
					b: {
						nested: {
							M: {
								fields: { inner: { type: 'T', id: 1 }, outer: { type: 'a.T', id: 2 }, sibling: { type: 'Other', id: 3 }, e: { type: 'E', id: 4, rule: 'repeated' } },
								nested: { T: { fields: { n: { type: 'int32', id: 1 } } } },
							},
							Other: { fields: { t: { type: 'T', id: 1 }, absolute: { type: '.a.b.M.T', id: 2 } } },
						},
					},
				},
			},
		},
	};
	const view = new SchemaView(json);
	const root = protobuf.Root.fromJSON(structuredClone(json) as protobuf.INamespace).resolveAll();
	for (const [message, field] of [['a.b.M', 'inner'], ['a.b.M', 'outer'], ['a.b.M', 'sibling'], ['a.b.M', 'e'], ['a.b.Other', 'absolute']] as const) {
		const expected = root.lookupType(message).fields[field]!.resolvedType!.fullName.slice(1);
		t.is(view.message(message)!.field(field)!.resolved!.fullName, expected, `${message}.${field}`);
	}

	t.is(view.message('a.b.M')!.field('inner')!.resolved!.fullName, 'a.b.M.T');
	// protoc: a.b.Other.T, a.b.T, a.T. (protobufjs also searches below a scope and takes a.b.M.T: not protobuf's rule.)
	t.is(view.message('a.b.Other')!.field('t')!.resolved!.fullName, 'a.T');
	const enumType = view.definition('.a.E');
	t.true(enumType instanceof EnumSchema);
	// Aliases: a number's name is the last declared, as protobufjs's valuesById.
	t.is((enumType as EnumSchema).nameOf(1), root.lookupEnum('a.E').valuesById[1]);
	t.is((enumType as EnumSchema).numberOf('toString'), undefined);
	t.is(view.message('a.E'), undefined);
	t.is(view.message('a.b'), undefined, 'a namespace is no message');
	t.is(view.message('T'), undefined, 'full names only: no search below the root');
});

test('a proto3 JSON key finds its field by .proto name, json_name or lowerCamelCase', t => {
	const view = new SchemaView(envoyApiJson());
	const listener = view.message('envoy.config.listener.v3.Listener');
	t.true(listener instanceof MessageSchema);
	t.is(listener!.fieldOfJsonKey('filter_chains')?.name, 'filter_chains');
	t.is(listener!.fieldOfJsonKey('filterChains')?.name, 'filter_chains');
	t.is(listener!.fieldOfJsonKey('filter_chainz'), undefined);
	t.is(listener!.fieldById(listener!.field('name')!.id)?.name, 'name');
});
