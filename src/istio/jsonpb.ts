/**
 * An EnvoyFilter patch value as istiod's webhook reads it: pkg/config/xds/xds.go BuildXDSObjectFromStruct builds
 * the message `applyTo` names from the value with pkg/util/protomarshal, which uses the legacy
 * github.com/golang/protobuf/jsonpb on purpose (jsonpb/decode.go). Its rules differ from proto3's JSON mapping
 * (what Envoy and meshbox's encoder read) where users notice:
 * - a Duration is read with Go's time.ParseDuration: `500ms`, `1m`, `1h30m` are fine (proto3 JSON only knows
 *   `0.5s`); meshbox rewrites them to the proto3 form Envoy reads;
 * - a scalar is read with encoding/json into the field's Go type: `name: false` for a string field is refused
 *   (`json: cannot unmarshal bool into Go value of type string`), as is a string for a bool;
 * - an Any's `@type` must be a type istiod's binary has: go-control-plane has no v2 API any more, so a v2 type
 *   is refused with envoyfilter.go's hint to use the v3 API.
 * Unknown fields are left to the existing check (the webhook's strict pass only warns about them).
 */
import { patchValueMessages } from '../config/patches.ts';
import { messageNameOf } from '../envoy-api/type-urls.ts';
import { isMeshboxError } from '../errors.ts';
import { envoySchemas } from '../xds/protobuf.ts';
import { EnumSchema, MessageSchema } from '../xds/schema-view.ts';

export type JsonpbReading = { readonly value: unknown; readonly error?: undefined } | { readonly value?: undefined; readonly error: { readonly path: string; readonly message: string } };

class JsonpbError extends Error {
	constructor(readonly path: string, message: string) {
		super(message);
	}
}

/**
 * `value` (the patch's `value`, as read from YAML) for `applyTo`, with its durations in proto3's form; or the
 * webhook's error, in its words (envoyfilter.go prefixes), and the field it is about (`name`, `typed_config.x`).
 */
export function readPatchValueAsIstio(applyTo: string, value: unknown): JsonpbReading {
	const messageName = (patchValueMessages as Readonly<Record<string, string | undefined>>)[applyTo];
	if (!messageName || !isObject(value)) {
		return { value };
	}

	try {
		return { value: readMessage(envoySchemas().type(messageName), value, '') };
	} catch (error) {
		if (error instanceof JsonpbError) {
			// xds.go wraps jsonpb's error as "Envoy filter: …"; envoyfilter.go puts "referenced type unknown" before that.
			return { error: { path: error.path, message: error.message.startsWith('referenced type unknown') ? error.message : `Envoy filter: ${error.message}` } };
		}

		throw error;
	}
}

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : (path ? `${path}.${key}` : key));

function readMessage(type: MessageSchema, json: unknown, path: string): unknown {
	switch (type.fullName) {
		case 'google.protobuf.Any': {
			return readAny(json, path);
		}

		case 'google.protobuf.Duration': {
			return readDuration(json, path);
		}

		case 'google.protobuf.Struct':
		case 'google.protobuf.Value':
		case 'google.protobuf.ListValue':
		case 'google.protobuf.Timestamp':
		case 'google.protobuf.FieldMask':
		case 'google.protobuf.Empty': {
			return json;
		}

		default: {
			if (/^google\.protobuf\.\w+Value$/.test(type.fullName)) {
				// Wrappers: their JSON is the bare scalar (jsonpb: unmarshalValue of field 1).
				const field = type.field('value');
				return field ? readScalar(field.type, undefined, json, path) : json;
			}
		}
	}

	if (json === null) {
		return json;
	}

	if (!isObject(json)) {
		throw new JsonpbError(path, `json: cannot unmarshal ${jsonKind(json)} into Go value of type map[string]json.RawMessage`);
	}

	const result: Record<string, unknown> = {};
	for (const [key, element] of Object.entries(json)) {
		const field = type.fieldOfJsonKey(key);
		if (!field || element === null) {
			// Unknown fields: the strict pass's warning (envoy-filter.ts); null: jsonpb leaves the field unset.
			result[key] = element;
			continue;
		}

		const resolved = field.resolved;
		const readOne = (item: unknown, at: string): unknown => (resolved instanceof MessageSchema ? readMessage(resolved, item, at)
			: readScalar(field.type, resolved, item, at));
		const at = join(path, key);
		if (field.map) {
			result[key] = isObject(element) ? Object.fromEntries(Object.entries(element).map(([mapKey, item]) => [mapKey, readOne(item, join(at, mapKey))])) : element;
		} else if (field.repeated) {
			if (!Array.isArray(element)) {
				throw new JsonpbError(at, `json: cannot unmarshal ${jsonKind(element)} into Go value of type []json.RawMessage`);
			}

			result[key] = element.map((item, index) => readOne(item, join(at, index)));
		} else {
			result[key] = readOne(element, at);
		}
	}

	return result;
}

/**
 * jsonpb's Any: the type must be in istiod's registry ("could not resolve Any message type"); envoyfilter.go
 * adds "(hint: try using the v3 XDS API)" when the name has `.v2.`.
 */
function readAny(json: unknown, path: string): unknown {
	if (!isObject(json)) {
		throw new JsonpbError(path, `json: cannot unmarshal ${jsonKind(json)} into Go value of type map[string]json.RawMessage`);
	}

	const typeUrl = json['@type'];
	if (typeof typeUrl !== 'string') {
		throw new JsonpbError(path, 'Any JSON doesn\'t have \'@type\'');
	}

	const fullName = messageNameOf(typeUrl);
	// go-control-plane (what istiod is built with) dropped Envoy's v2 API; meshbox's schema still has some of it.
	const v2 = /\.v2(?:alpha\d*)?\./.test(`${fullName}.`);
	let type: MessageSchema | undefined;
	try {
		type = v2 ? undefined : envoySchemas().type(fullName);
	} catch (error) {
		if (!isMeshboxError(error)) {
			throw error;
		}
	}

	if (!type) {
		throw new JsonpbError(join(path, '@type'), `referenced type unknown${v2 ? ' (hint: try using the v3 XDS API)' : ''}: Envoy filter: could not resolve Any message type: ${typeUrl}`);
	}

	if (/^google\.protobuf\./.test(type.fullName) && 'value' in json) {
		return { ...json, value: readMessage(type, json.value, join(path, 'value')) };
	}

	const { '@type': _, ...fields } = json;
	return { '@type': typeUrl, ...(readMessage(type, fields, path) as Record<string, unknown>) };
}

/** jsonpb: time.ParseDuration of the string, then proto3's JSON form (`5400s`, `0.500s`) for Envoy. */
function readDuration(json: unknown, path: string): unknown {
	if (typeof json !== 'string') {
		throw new JsonpbError(path, `json: cannot unmarshal ${jsonKind(json)} into Go value of type string`);
	}

	const nanos = parseGoDuration(json);
	if (typeof nanos === 'string') {
		throw new JsonpbError(path, `bad Duration: ${nanos}`);
	}

	const sign = nanos < 0n ? '-' : '';
	const magnitude = nanos < 0n ? -nanos : nanos;
	const seconds = magnitude / 1_000_000_000n;
	const fraction = magnitude % 1_000_000_000n;
	return `${sign}${seconds}${fraction === 0n ? '' : `.${fraction.toString().padStart(9, '0').replace(/0+$/, '')}`}s`;
}

const units: Readonly<Record<string, bigint>> = {
	ns: 1n, us: 1000n, 'µs': 1000n, 'μs': 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n,
};

/** Go's time.ParseDuration: nanoseconds, or its error text. */
export function parseGoDuration(text: string): bigint | string {
	const quoted = JSON.stringify(text);
	let rest = text;
	let negative = false;
	if (rest.startsWith('-') || rest.startsWith('+')) {
		negative = rest.startsWith('-');
		rest = rest.slice(1);
	}

	if (rest === '0') {
		return 0n;
	}

	if (rest === '') {
		return `time: invalid duration ${quoted}`;
	}

	let total = 0n;
	while (rest !== '') {
		const number = /^(\d*)(?:\.(\d*))?/.exec(rest)!;
		if (number[0] === '' || number[0] === '.') {
			return `time: invalid duration ${quoted}`;
		}

		rest = rest.slice(number[0].length);
		const unit = /^[^\d.]*/.exec(rest)![0];
		if (unit === '') {
			return `time: missing unit in duration ${quoted}`;
		}

		const scale = units[unit];
		if (scale === undefined) {
			return `time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`;
		}

		rest = rest.slice(unit.length);
		const whole = BigInt(number[1] || '0') * scale;
		const digits = number[2] ?? '';
		const fraction = digits === '' ? 0n : (BigInt(digits) * scale) / 10n ** BigInt(digits.length);
		total += whole + fraction;
		if (total > 9_223_372_036_854_775_807n) {
			return `time: invalid duration ${quoted}`;
		}
	}

	return negative ? -total : total;
}

/** jsonpb unmarshalSingularValue: encoding/json into the field's Go type (numbers may be quoted). */
function readScalar(protoType: string, resolved: unknown, json: unknown, path: string): unknown {
	if (resolved instanceof EnumSchema) {
		if (typeof json === 'string' && resolved.values[json] === undefined) {
			throw new JsonpbError(path, `unknown value ${JSON.stringify(JSON.stringify(json))} for enum ${resolved.fullName}`);
		}

		if (typeof json !== 'string' && typeof json !== 'number') {
			throw new JsonpbError(path, `json: cannot unmarshal ${jsonKind(json)} into Go value of type protoreflect.EnumNumber`);
		}

		return json;
	}

	const goType = goTypes[protoType];
	if (!goType) {
		return json;
	}

	if (goType === 'bool' || goType === 'string' || goType === '[]uint8') {
		const wanted = goType === 'bool' ? 'boolean' : 'string';
		if (typeof json !== wanted) {
			throw new JsonpbError(path, `json: cannot unmarshal ${jsonKind(json)} into Go value of type ${goType}`);
		}

		return json;
	}

	// Numbers: jsonpb trims quotes first, so "8080" is a number too.
	const numeric = typeof json === 'string' ? Number(json) : json;
	if (typeof numeric !== 'number' || (typeof json === 'string' && (json.trim() === '' || Number.isNaN(numeric)))) {
		throw new JsonpbError(path, typeof json === 'string'
			? `invalid character ${JSON.stringify(json.trim()[0] ?? ' ').replaceAll('"', '\'')} looking for beginning of value`
			: `json: cannot unmarshal ${jsonKind(json)} into Go value of type ${goType}`);
	}

	if (goType !== 'float32' && goType !== 'float64' && !Number.isInteger(numeric)) {
		throw new JsonpbError(path, `json: cannot unmarshal number ${numeric} into Go value of type ${goType}`);
	}

	return json;
}

const goTypes: Readonly<Record<string, string>> = {
	bool: 'bool', string: 'string', bytes: '[]uint8',
	int32: 'int32', sint32: 'int32', sfixed32: 'int32', int64: 'int64', sint64: 'int64', sfixed64: 'int64',
	uint32: 'uint32', fixed32: 'uint32', uint64: 'uint64', fixed64: 'uint64', float: 'float32', double: 'float64',
};

/** encoding/json's UnmarshalTypeError.Value: the kind of JSON value found. */
function jsonKind(value: unknown): string {
	if (Array.isArray(value)) {
		return 'array';
	}

	switch (typeof value) {
		case 'boolean': {
			return 'bool';
		}

		case 'number': {
			return 'number';
		}

		case 'string': {
			return 'string';
		}

		default: {
			return 'object';
		}
	}
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}
