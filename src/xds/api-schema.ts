/**
 * Envoy's whole xDS API in protobufjs's JSON form (./envoy-api.generated.ts, `npm run gen:envoy-api`), for the
 * types a sandbox's precompiled part (./descriptor.ts) lacks. The encoder reads the JSON as it is
 * (./schema-view.ts): building protobufjs reflection of it (`Root.addJSON`) took ~150 ms, and `resolveAll()`
 * (generated code for every type) ~0.3 s more.
 */
import { brotliDecompressSync } from 'node:zlib';
import { envoyApiSchema, envoyApiSource } from './envoy-api.generated.ts';

/** protobufjs's JSON form of a namespace, message or enum (`Root.toJSON()`). */
export type SchemaJson = {
	nested?: Record<string, SchemaJson>;
	fields?: Record<string, FieldJson>;
	values?: Record<string, number>;
	edition?: string;
	[key: string]: unknown;
};

/** protobufjs's JSON form of a field (`Field.toJSON()`; with `keyType`, a map field). */
export type FieldJson = {
	type: string;
	id: number;
	rule?: string;
	keyType?: string;
	options?: Record<string, unknown>;
};

export { envoyApiSource };

/** The whole API, parsed (a fresh object: callers may keep or change it). */
export function envoyApiJson(): SchemaJson {
	return JSON.parse(brotliDecompressSync(Buffer.from(envoyApiSchema, 'base64')).toString('utf8')) as SchemaJson;
}
