/**
 * The API server's structural-schema validation of a CRD's OpenAPI v3 schema, for the Gateway API CRDs
 * (./gateway-api-schema.generated.ts): types, enums, patterns, lengths, item counts, bounds, `required`,
 * list-type `map`/`set` uniqueness, unknown fields (kubectl's strict field validation), and the schema's
 * `default`s, which the API server applies before anything reads the object (so istiod sees them too).
 * Messages follow k8s.io/apiextensions-apiserver (pkg/apiserver/validation) and apimachinery field errors.
 * CEL rules (`x-kubernetes-validations`) are not interpreted here: gateway-api.ts writes each one out.
 */
import { isIP } from 'node:net';
import { describeValue, formatPath, isRecord, type FieldPath } from '../../config/fields.ts';
import type { FindingCollector } from '../findings.ts';

export type OpenApiSchema = {
	readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
	readonly properties?: Readonly<Record<string, OpenApiSchema>>;
	readonly required?: readonly string[];
	readonly items?: OpenApiSchema;
	readonly enum?: readonly unknown[];
	readonly pattern?: string;
	readonly maxLength?: number;
	readonly minLength?: number;
	readonly maxItems?: number;
	readonly minItems?: number;
	readonly maximum?: number;
	readonly minimum?: number;
	readonly format?: string;
	readonly default?: unknown;
	readonly additionalProperties?: OpenApiSchema | boolean;
	readonly maxProperties?: number;
	readonly 'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
	readonly 'x-kubernetes-list-map-keys'?: readonly string[];
};

const patternCache = new Map<string, RegExp>();

/**
 * Validates `value` against `schema` and returns it with the schema's defaults applied (a new value; the input is
 * not changed). Errors go to the collector at their path; the returned value is then only good for more checks.
 */
export function checkSchema(value: unknown, schema: OpenApiSchema, path: FieldPath, collector: FindingCollector): unknown {
	const where = formatPath(path);
	switch (schema.type) {
		case 'object': {
			if (!isRecord(value)) {
				collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${where} in body must be of type object`);
				return value;
			}

			return checkObject(value, schema, path, collector);
		}

		case 'array': {
			if (!Array.isArray(value)) {
				collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${where} in body must be of type array`);
				return value;
			}

			return checkArray(value, schema, path, collector);
		}

		case 'string': {
			if (typeof value !== 'string') {
				// Kubernetes reads YAML 1.1 (../kube-yaml.ts): unquoted y, n, yes, no, on, off are booleans, 0755 a number.
				collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${where} in body must be of type string`,
					typeof value === 'number' || typeof value === 'boolean'
						? 'Kubernetes reads YAML 1.1, where unquoted y, n, yes, no, on and off are booleans and 0755 or 1_000 numbers: quote the value'
						: undefined);
				return value;
			}

			checkString(value, schema, path, collector);
			return value;
		}

		case 'integer':
		case 'number': {
			if (typeof value !== 'number' || (schema.type === 'integer' && !Number.isInteger(value))) {
				collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${where} in body must be of type ${schema.type}`);
				return value;
			}

			if (schema.minimum !== undefined && value < schema.minimum) {
				collector.error('schema', path, `Invalid value: ${value}: ${where} in body should be greater than or equal to ${schema.minimum}`);
			}

			if (schema.maximum !== undefined && value > schema.maximum) {
				collector.error('schema', path, `Invalid value: ${value}: ${where} in body should be less than or equal to ${schema.maximum}`);
			}

			checkEnum(value, schema, path, collector);
			return value;
		}

		case 'boolean': {
			if (typeof value !== 'boolean') {
				collector.error('schema', path, `Invalid value: ${describeValue(value)}: ${where} in body must be of type boolean`);
			}

			return value;
		}

		default: {
			return value;
		}
	}
}

function checkObject(value: Readonly<Record<string, unknown>>, schema: OpenApiSchema, path: FieldPath, collector: FindingCollector): Record<string, unknown> {
	const result: Record<string, unknown> = {};
	const { properties, additionalProperties } = schema;
	if (properties) {
		collector.checkFields(value as Record<string, unknown>, path, Object.keys(properties));
	}

	for (const [key, entry] of Object.entries(value)) {
		const property = properties?.[key] ?? (isRecord(additionalProperties) ? additionalProperties as OpenApiSchema : undefined);
		// A YAML `key:` with nothing after it is null: the API server drops nulls of fields that are not nullable.
		if (entry === null) {
			continue;
		}

		result[key] = property ? checkSchema(entry, property, [...path, key], collector) : entry;
	}

	if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties) {
		collector.error('schema', path, `Too many: ${Object.keys(value).length}: must have at most ${schema.maxProperties} items`);
	}

	// Defaults apply to absent properties (apiextensions-apiserver pkg/apiserver/schema/defaulting).
	for (const [key, property] of Object.entries(properties ?? {})) {
		if (result[key] === undefined && property.default !== undefined) {
			result[key] = checkSchema(structuredClone(property.default), property, [...path, key], collector);
		}
	}

	for (const key of schema.required ?? []) {
		if (result[key] === undefined) {
			collector.error('schema', [...path, key], 'Required value');
		}
	}

	return result;
}

function checkArray(value: readonly unknown[], schema: OpenApiSchema, path: FieldPath, collector: FindingCollector): unknown[] {
	if (schema.maxItems !== undefined && value.length > schema.maxItems) {
		collector.error('schema', path, `Too many: ${value.length}: must have at most ${schema.maxItems} items`);
	}

	if (schema.minItems !== undefined && value.length < schema.minItems) {
		collector.error('schema', path, `Invalid value: ${value.length}: ${formatPath(path)} in body should have at least ${schema.minItems} items`);
	}

	const items = value.map((entry, index) => schema.items ? checkSchema(entry, schema.items, [...path, index], collector) : entry);
	const listType = schema['x-kubernetes-list-type'];
	const seen = new Map<string, number>();
	for (const [index, entry] of items.entries()) {
		let key: string | undefined;
		if (listType === 'set') {
			key = JSON.stringify(entry);
		} else if (listType === 'map' && isRecord(entry)) {
			const keys = schema['x-kubernetes-list-map-keys'] ?? [];
			key = JSON.stringify(Object.fromEntries(keys.map(name => [name, entry[name]])));
		}

		if (key === undefined) {
			continue;
		}

		if (seen.has(key)) {
			collector.error('schema', [...path, index], `Duplicate value: ${key}`, `the same entry is at index ${seen.get(key)}`);
		} else {
			seen.set(key, index);
		}
	}

	return items;
}

function checkString(value: string, schema: OpenApiSchema, path: FieldPath, collector: FindingCollector): void {
	const where = formatPath(path);
	// The API server counts characters (runes) for maxLength/minLength.
	const length = [...value].length;
	if (schema.maxLength !== undefined && length > schema.maxLength) {
		collector.error('schema', path, `Too long: may not be more than ${schema.maxLength} bytes`);
	}

	if (schema.minLength !== undefined && length < schema.minLength) {
		collector.error('schema', path, `Invalid value: ${JSON.stringify(value)}: ${where} in body should be at least ${schema.minLength} chars long`);
	}

	if (schema.pattern !== undefined && !compiled(schema.pattern).test(value)) {
		collector.error('schema', path, `Invalid value: ${JSON.stringify(value)}: ${where} in body should match '${schema.pattern}'`);
	}

	if (schema.format === 'ipv4' && isIP(value) !== 4) {
		collector.error('schema', path, `Invalid value: ${JSON.stringify(value)}: ${where} in body must be of type ipv4: ${JSON.stringify(value)}`);
	}

	checkEnum(value, schema, path, collector);
}

function checkEnum(value: string | number, schema: OpenApiSchema, path: FieldPath, collector: FindingCollector): void {
	if (schema.enum && !schema.enum.includes(value)) {
		if (typeof value === 'string') {
			collector.enumValue(value, path, schema.enum.filter((choice): choice is string => typeof choice === 'string'));
		} else {
			collector.error('schema', path, `Unsupported value: ${value}: supported values: ${schema.enum.map(choice => JSON.stringify(choice)).join(', ')}`);
		}
	}
}

function compiled(pattern: string): RegExp {
	let regexp = patternCache.get(pattern);
	if (!regexp) {
		// The CRD patterns are ECMA 262 (what the API server's OpenAPI validator compiles them as).
		regexp = new RegExp(pattern);
		patternCache.set(pattern, regexp);
	}

	return regexp;
}
