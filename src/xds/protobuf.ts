/**
 * Envoy config as meshbox writes it (JSON in proto3's JSON mapping, the same text Envoy reads from a YAML
 * bootstrap) → protobuf bytes, for the xDS control plane.
 *
 * The schemas are Envoy's own .proto files, shipped by the npm package `@grpc/grpc-js-xds` (its deps/: envoy-api,
 * xds, googleapis, protoc-gen-validate), loaded with protobufjs. A type is loaded when first needed: Envoy's
 * api tree keeps each proto package in the directory its name spells, so an `@type` meshbox has not seen yet
 * (a Lua filter, a user's typed_config) loads that one directory. protobufjs's `fromObject` does not know
 * proto3's JSON forms of the well-known types (`"2s"` durations, Struct, wrappers, `@type` inside Any), so
 * `toProtoObject` walks the schema and rewrites those first, and rejects unknown fields with their path,
 * as Envoy would.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import { MeshboxError } from '../errors.ts';
import { messageNameOf } from '../envoy/type-urls.ts';

const require = createRequire(import.meta.url);

/** The proto packages' include directories, in `@grpc/grpc-js-xds/deps`. */
function includeDirectories(): string[] {
	const packageJson = require.resolve('@grpc/grpc-js-xds/package.json');
	const deps = path.join(path.dirname(packageJson), 'deps');
	const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));
	return [...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map(name => path.join(deps, name)), protobufjsDir];
}

/** What every sandbox needs: ADS and the resources of a plain sandbox. */
const coreFiles = [
	'envoy/service/discovery/v3/ads.proto',
	'envoy/config/listener/v3/listener.proto',
	'envoy/config/cluster/v3/cluster.proto',
	'envoy/config/route/v3/route.proto',
	'envoy/config/core/v3/extension.proto',
	'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
	'envoy/extensions/filters/http/wasm/v3/wasm.proto',
	'envoy/extensions/filters/network/wasm/v3/wasm.proto',
	'envoy/extensions/filters/http/router/v3/router.proto',
	'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
];

export class EnvoySchemas {
	private readonly root = new protobuf.Root();
	private readonly includes = includeDirectories();
	private readonly loadedDirectories = new Set<string>();

	constructor() {
		this.root.resolvePath = (_origin, target) => this.find(target) ?? target;
		this.root.loadSync(coreFiles, { keepCase: true });
	}

	/** The message type of a full name (`envoy.config.listener.v3.Listener`), loading its package on demand. */
	type(fullName: string): protobuf.Type {
		const existing = this.lookup(fullName);
		if (existing) {
			return existing;
		}

		const packageDir = fullName.split('.').slice(0, -1).join('/');
		if (!this.loadedDirectories.has(packageDir)) {
			this.loadedDirectories.add(packageDir);
			for (const include of this.includes) {
				const directory = path.join(include, packageDir);
				if (existsSync(directory)) {
					const files = readdirSync(directory).filter(file => file.endsWith('.proto')).map(file => path.join(packageDir, file));
					this.root.loadSync(files, { keepCase: true });
				}
			}
		}

		const loaded = this.lookup(fullName);
		if (!loaded) {
			throw new MeshboxError('CONFIG_INVALID', `unknown protobuf type ${fullName}`, 'check the @type of the typed_config: Envoy\'s API has no such message');
		}

		return loaded;
	}

	/** JSON (proto3 JSON mapping, snake_case or lowerCamelCase names) → protobuf bytes of `fullName`. */
	encode(fullName: string, json: unknown): Uint8Array {
		const type = this.type(fullName);
		return type.encode(type.fromObject(this.toProtoObject(type, json, fullName) as Record<string, unknown>)).finish();
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
		return { type_url: typeUrl, value: type.encode(type.fromObject(this.toProtoObject(type, body, where || fullName) as Record<string, unknown>)).finish() };
	}

	private lookup(fullName: string): protobuf.Type | undefined {
		try {
			return this.root.lookupType(fullName);
		} catch {
			return undefined;
		}
	}

	private find(target: string): string | undefined {
		if (path.isAbsolute(target)) {
			return target;
		}

		for (const include of this.includes) {
			const candidate = path.join(include, target);
			if (existsSync(candidate)) {
				return candidate;
			}
		}

		return undefined;
	}

	/** proto3 JSON → the object shape protobufjs's `fromObject` takes, checked against the schema. */
	private toProtoObject(type: protobuf.Type, json: unknown, where: string): unknown {
		switch (type.fullName) {
			case '.google.protobuf.Any': {
				if (!isObject(json)) {
					throw invalid(where, 'expected an object with "@type"');
				}

				return this.encodeAny(json, where);
			}

			case '.google.protobuf.Duration': {
				return parseDuration(json, where);
			}

			case '.google.protobuf.Struct': {
				return toStruct(json, where);
			}

			case '.google.protobuf.Value': {
				return toValue(json);
			}

			case '.google.protobuf.ListValue': {
				return { values: Array.isArray(json) ? json.map(toValue) : [] };
			}

			case '.google.protobuf.Empty': {
				return {};
			}

			default: {
				if (wrapperTypes.has(type.fullName)) {
					return isObject(json) && 'value' in json ? json : { value: json };
				}
			}
		}

		if (!isObject(json)) {
			throw invalid(where, `expected an object (${type.fullName.slice(1)})`);
		}

		const result: Record<string, unknown> = {};
		for (const [key, value] of Object.entries(json)) {
			const field = type.fields[key] ?? Object.values(type.fields).find(candidate => candidate.options?.json_name === key || camel(candidate.name) === key);
			if (!field) {
				throw invalid(`${where}.${key}`, `unknown field in ${type.fullName.slice(1)}`);
			}

			field.resolve();
			const fieldWhere = `${where}.${key}`;
			const convert = (element: unknown, index?: number | string): unknown => {
				const elementWhere = index === undefined ? fieldWhere : `${fieldWhere}[${index}]`;
				return field.resolvedType instanceof protobuf.Type ? this.toProtoObject(field.resolvedType, element, elementWhere) : element;
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

const wellKnownJsonForms = new Set(['.google.protobuf.Duration', '.google.protobuf.Struct', '.google.protobuf.Value', '.google.protobuf.ListValue',
	'.google.protobuf.StringValue', '.google.protobuf.BytesValue', '.google.protobuf.BoolValue', '.google.protobuf.UInt32Value', '.google.protobuf.Int32Value',
	'.google.protobuf.UInt64Value', '.google.protobuf.Int64Value', '.google.protobuf.DoubleValue', '.google.protobuf.FloatValue']);

const wrapperTypes = new Set([...wellKnownJsonForms].filter(name => name.endsWith('Value') && !name.endsWith('.Value') && !name.endsWith('ListValue')));

let shared: EnvoySchemas | undefined;

/** One schema set per process: loading Envoy's core protos costs ~150 ms. */
export function envoySchemas(): EnvoySchemas {
	shared ??= new EnvoySchemas();
	return shared;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function camel(name: string): string {
	return name.replaceAll(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
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
