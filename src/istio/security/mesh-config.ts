/**
 * `istio.meshConfig` in meshbox.yaml (and the mesh): the MeshConfig fields the security filters read
 * (mesh/v1alpha1/config.proto `extensionProviders` with envoyExtAuthzHttp / envoyExtAuthzGrpc, `trustDomain`).
 * Errors name the field at file:line:col.
 */
import { configError, isRecord, readBoolean, readInteger, readObject, readPort, readString, readStringList, readStringMap, type FieldPath, type Locator } from '../../config/fields.ts';
import type { ExtAuthzGrpcProvider, ExtAuthzHttpProvider, ExtensionProvider, MeshConfigSpec } from './types.ts';
import { durationMs } from './validate.ts';

const meshConfigFields = ['extensionProviders', 'trustDomain'] as const;
const httpFields = ['service', 'port', 'timeout', 'pathPrefix', 'failOpen', 'statusOnError', 'includeRequestHeadersInCheck', 'includeHeadersInCheck',
	'includeAdditionalHeadersInCheck', 'headersToUpstreamOnAllow', 'headersToDownstreamOnDeny', 'headersToDownstreamOnAllow', 'includeRequestBodyInCheck'] as const;
const grpcFields = ['service', 'port', 'timeout', 'failOpen', 'statusOnError', 'includeRequestBodyInCheck'] as const;

export function readMeshConfig(value: unknown, path: FieldPath, locate: Locator): MeshConfigSpec {
	if (value === undefined) {
		return { extensionProviders: [], trustDomain: 'cluster.local' };
	}

	const fields = readObject(value, path, locate, meshConfigFields);
	const providers = fields.extensionProviders === undefined ? [] : fields.extensionProviders;
	if (!Array.isArray(providers)) {
		throw configError(locate, [...path, 'extensionProviders'], 'expected a list of extension providers', 'e.g. extensionProviders: [{ name: ext-authz, envoyExtAuthzHttp: { service: ext-authz.default.svc.cluster.local, port: 8000 } }]');
	}

	return {
		extensionProviders: providers.map((provider, index) => readProvider(provider, [...path, 'extensionProviders', index], locate)),
		trustDomain: fields.trustDomain === undefined ? 'cluster.local' : readString(fields.trustDomain, [...path, 'trustDomain'], locate),
	};
}

function readProvider(value: unknown, path: FieldPath, locate: Locator): ExtensionProvider {
	if (!isRecord(value)) {
		throw configError(locate, path, 'expected an extension provider: { name, envoyExtAuthzHttp | envoyExtAuthzGrpc | … }');
	}

	const name = value.name === undefined ? '' : readString(value.name, [...path, 'name'], locate);
	const kinds = Object.keys(value).filter(key => key !== 'name');
	if (kinds.length !== 1) {
		throw configError(locate, path, `an extension provider has a name and exactly one provider field, found ${kinds.length === 0 ? 'none' : kinds.join(', ')}`,
			'e.g. { name: ext-authz, envoyExtAuthzHttp: { service: ext-authz.default.svc.cluster.local, port: 8000 } }');
	}

	const kind = kinds[0]!;
	if (kind === 'envoyExtAuthzHttp') {
		return { name, envoyExtAuthzHttp: readHttp(value[kind], [...path, kind], locate) };
	}

	if (kind === 'envoyExtAuthzGrpc') {
		return { name, envoyExtAuthzGrpc: readGrpc(value[kind], [...path, kind], locate) };
	}

	// Tracing, logging, … providers: AuthorizationPolicies cannot use them; their settings are not read.
	return { name, other: kind };
}

function readCommon(fields: Record<string, unknown>, path: FieldPath, locate: Locator): ExtAuthzGrpcProvider {
	if (fields.service === undefined || fields.port === undefined) {
		throw configError(locate, path, 'service and port are required', 'service: the provider\'s host (ext-authz.default.svc.cluster.local, or ns/host), port: its port');
	}

	const timeout = fields.timeout === undefined ? undefined : readString(fields.timeout, [...path, 'timeout'], locate);
	if (timeout !== undefined && durationMs(timeout) === undefined) {
		throw configError(locate, [...path, 'timeout'], `${JSON.stringify(timeout)} is not a duration`, 'e.g. 10s or 500ms');
	}

	const body = fields.includeRequestBodyInCheck === undefined ? undefined
		: readObject(fields.includeRequestBodyInCheck, [...path, 'includeRequestBodyInCheck'], locate, ['maxRequestBytes', 'allowPartialMessage', 'packAsBytes']);
	return {
		service: readString(fields.service, [...path, 'service'], locate),
		port: readPort(fields.port, [...path, 'port'], locate),
		...(timeout === undefined ? {} : { timeout }),
		...(fields.failOpen === undefined ? {} : { failOpen: readBoolean(fields.failOpen, [...path, 'failOpen'], locate) }),
		...(fields.statusOnError === undefined ? {} : { statusOnError: String(fields.statusOnError) }),
		...(body ? { includeRequestBodyInCheck: {
			...(body.maxRequestBytes === undefined ? {} : { maxRequestBytes: readInteger(body.maxRequestBytes, [...path, 'includeRequestBodyInCheck', 'maxRequestBytes'], locate, 0, 4_294_967_295) }),
			...(body.allowPartialMessage === undefined ? {} : { allowPartialMessage: readBoolean(body.allowPartialMessage, [...path, 'includeRequestBodyInCheck', 'allowPartialMessage'], locate) }),
			...(body.packAsBytes === undefined ? {} : { packAsBytes: readBoolean(body.packAsBytes, [...path, 'includeRequestBodyInCheck', 'packAsBytes'], locate) }),
		} } : {}),
	};
}

function readHttp(value: unknown, path: FieldPath, locate: Locator): ExtAuthzHttpProvider {
	const fields = readObject(value, path, locate, httpFields);
	const list = (key: (typeof httpFields)[number]) => (fields[key] === undefined ? {} : { [key]: readStringList(fields[key], [...path, key], locate) });
	// includeHeadersInCheck is the deprecated name of includeRequestHeadersInCheck (extauthz.go reads it as a fallback).
	const requestHeaders = fields.includeRequestHeadersInCheck ?? fields.includeHeadersInCheck;
	return {
		...readCommon(fields, path, locate),
		...(fields.pathPrefix === undefined ? {} : { pathPrefix: readString(fields.pathPrefix, [...path, 'pathPrefix'], locate) }),
		...(requestHeaders === undefined ? {} : { includeRequestHeadersInCheck: readStringList(requestHeaders, [...path, 'includeRequestHeadersInCheck'], locate) }),
		...(fields.includeAdditionalHeadersInCheck === undefined ? {} : { includeAdditionalHeadersInCheck: readStringMap(fields.includeAdditionalHeadersInCheck, [...path, 'includeAdditionalHeadersInCheck'], locate) }),
		...list('headersToUpstreamOnAllow'),
		...list('headersToDownstreamOnDeny'),
		...list('headersToDownstreamOnAllow'),
	};
}

function readGrpc(value: unknown, path: FieldPath, locate: Locator): ExtAuthzGrpcProvider {
	return readCommon(readObject(value, path, locate, grpcFields), path, locate);
}
