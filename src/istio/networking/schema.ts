/**
 * The API server's half of validating networking.istio.io resources: the CRD's OpenAPI schema
 * (manifests/charts/base/files/crd-all.gen.yaml, generated from istio/api networking/v1alpha3/*.proto), read
 * as a small description per message. Unknown fields are errors (kubectl's strict field validation), types and
 * enums are checked with the API server's wording, durations with the CRD's CEL rule. istiod's webhook checks
 * (./validate.ts) run on what this returns.
 */
import { describeValue, isRecord, type FieldPath } from '../../config/fields.ts';
import type { FindingCollector } from '../findings.ts';
import { parseGoDuration } from '../jsonpb.ts';

export type Schema =
	| { readonly t: 'string' }
	| { readonly t: 'bool' }
	| { readonly t: 'int'; readonly min?: number; readonly max?: number }
	| { readonly t: 'number'; readonly min?: number; readonly max?: number }
	/** google.protobuf.Duration: a string; the CRD's CEL rule `duration(self) >= duration('1ms')`. */
	| { readonly t: 'duration' }
	| { readonly t: 'enum'; readonly values: readonly string[] }
	| { readonly t: 'list'; readonly of: Schema }
	| { readonly t: 'map'; readonly of: Schema }
	| { readonly t: 'object'; readonly fields: Readonly<Record<string, Schema>>; readonly required?: readonly string[]; readonly oneOf?: readonly string[] }
	/** Fields meshbox reads without checking inside (free-form by the proto, e.g. wrappers written as scalars). */
	| { readonly t: 'any' };

export type SchemaContext = {
	readonly collector: FindingCollector;
	/** Field paths whose unknown-field error another check already reported (the seed article's `wasm`). */
	readonly skipUnknown?: (path: FieldPath) => boolean;
};

const uint32 = { min: 0, max: 4_294_967_295 };

export const s = {
	string: { t: 'string' } as const,
	bool: { t: 'bool' } as const,
	uint32: { t: 'int', ...uint32 } as const,
	int32: { t: 'int', min: -2_147_483_648, max: 2_147_483_647 } as const,
	number: { t: 'number' } as const,
	duration: { t: 'duration' } as const,
	any: { t: 'any' } as const,
	enumOf: (values: readonly string[]): Schema => ({ t: 'enum', values }),
	list: (of: Schema): Schema => ({ t: 'list', of }),
	map: (of: Schema): Schema => ({ t: 'map', of }),
	object: (fields: Readonly<Record<string, Schema>>, options: { required?: readonly string[]; oneOf?: readonly string[] } = {}): Schema => ({ t: 'object', fields, ...options }),
};

/**
 * Checks `value` against `schema`, recording the API server's errors; returns the value with durations as
 * written (the webhook and the translation parse them again), or undefined where the value was refused.
 */
export function checkSchema(value: unknown, schema: Schema, path: FieldPath, context: SchemaContext): unknown {
	const { collector } = context;
	if (value === undefined) {
		return undefined;
	}

	// The API server drops explicit nulls of optional fields (kubectl apply prunes them).
	if (value === null) {
		return undefined;
	}

	switch (schema.t) {
		case 'any':
			return value;
		case 'string':
			return collector.string(value, path);
		case 'bool':
			if (typeof value !== 'boolean') {
				collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${formatPathTail(path)} in body must be of type boolean: "${goType(value)}"`);
				return undefined;
			}

			return value;
		case 'int':
		case 'number':
			return checkNumber(value, schema, path, collector);
		case 'duration':
			return checkDuration(value, path, collector);
		case 'enum':
			return collector.enumValue(value, path, schema.values);
		case 'list':
			if (!Array.isArray(value)) {
				collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${formatPathTail(path)} in body must be of type array: "${goType(value)}"`);
				return undefined;
			}

			return value.map((item, index) => checkSchema(item, schema.of, [...path, index], context));
		case 'map':
			if (!isRecord(value)) {
				collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${formatPathTail(path)} in body must be of type object: "${goType(value)}"`);
				return undefined;
			}

			return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, checkSchema(item, schema.of, [...path, key], context)]));
		case 'object':
			return checkObject(value, schema, path, context);
	}
}

function checkObject(value: unknown, schema: Extract<Schema, { t: 'object' }>, path: FieldPath, context: SchemaContext): Record<string, unknown> | undefined {
	const { collector } = context;
	if (!isRecord(value)) {
		collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${formatPathTail(path)} in body must be of type object: "${goType(value)}"`);
		return undefined;
	}

	const allowed = Object.keys(schema.fields);
	const unknown = Object.keys(value).filter(key => !allowed.includes(key) && !context.skipUnknown?.([...path, key]));
	if (unknown.length > 0) {
		collector.checkFields(Object.fromEntries(unknown.map(key => [key, value[key]])), path, allowed);
	}

	for (const field of schema.required ?? []) {
		if (value[field] === undefined || value[field] === null) {
			collector.error('schema', path, `${formatPathTail([...path, field])}: Required value`);
		}
	}

	// The CRD's `oneOf` (a proto oneof): at most one of them.
	const set = (schema.oneOf ?? []).filter(field => value[field] !== undefined && value[field] !== null);
	if (set.length > 1) {
		collector.error('schema', [...path, set[1]!], `Invalid value: "object": must validate one and only one schema (oneOf). Found ${set.join(', ')} set`,
			`${set.join(' and ')} are alternatives: keep one`);
	}

	const out: Record<string, unknown> = {};
	for (const [key, item] of Object.entries(value)) {
		const fieldSchema = schema.fields[key];
		if (fieldSchema) {
			const checked = checkSchema(item, fieldSchema, [...path, key], context);
			if (checked !== undefined) {
				out[key] = checked;
			}
		}
	}

	return out;
}

function checkNumber(value: unknown, schema: { readonly t: 'int' | 'number'; readonly min?: number; readonly max?: number }, path: FieldPath, collector: FindingCollector): number | undefined {
	if (typeof value !== 'number' || (schema.t === 'int' && !Number.isInteger(value))) {
		collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${formatPathTail(path)} in body must be of type ${schema.t === 'int' ? 'integer' : 'number'}: "${goType(value)}"`,
			typeof value === 'string' && /^\d+$/.test(value) ? `write it without quotes: ${value}` : undefined);
		return undefined;
	}

	if (schema.min !== undefined && value < schema.min) {
		collector.error('schema', path, `Invalid value: ${value}: ${formatPathTail(path)} in body should be greater than or equal to ${schema.min}`);
		return undefined;
	}

	if (schema.max !== undefined && value > schema.max) {
		collector.error('schema', path, `Invalid value: ${value}: ${formatPathTail(path)} in body should be less than or equal to ${schema.max}`);
		return undefined;
	}

	return value;
}

function checkDuration(value: unknown, path: FieldPath, collector: FindingCollector): string | undefined {
	if (typeof value !== 'string') {
		collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${formatPathTail(path)} in body must be of type string: "${goType(value)}"`,
			typeof value === 'number' ? `a duration needs a unit: "${value}s"` : undefined);
		return undefined;
	}

	const nanos = parseGoDuration(value);
	if (typeof nanos === 'string' || nanos < 1_000_000n) {
		// The CRD's CEL rule on every Duration field.
		collector.error('schema', path, `Invalid value: "string": must be a valid duration greater than 1ms`,
			typeof nanos === 'string' ? `${nanos}; write e.g. 500ms, 2s, 1m30s` : undefined);
		return undefined;
	}

	return value;
}

/** The API server names the field by its JSON path in the body: `spec.http[0].timeout`. */
function formatPathTail(path: FieldPath): string {
	let text = '';
	for (const part of path) {
		text += typeof part === 'number' ? `[${part}]` : (text ? `.${part}` : part);
	}

	return text;
}

function goType(value: unknown): string {
	if (Array.isArray(value)) {
		return 'array';
	}

	if (typeof value === 'number') {
		return Number.isInteger(value) ? 'integer' : 'number';
	}

	return typeof value === 'object' ? 'object' : typeof value;
}

/** Nanoseconds of a duration string the schema accepted. */
export function durationNanos(text: string): bigint {
	const nanos = parseGoDuration(text);
	return typeof nanos === 'string' ? 0n : nanos;
}
