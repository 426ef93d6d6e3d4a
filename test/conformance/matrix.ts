/**
 * The conformance matrix: which proxy-wasm features each SDK's plugins are checked for on real Envoy.
 *
 * Every conformance test is titled `<sdk> · <feature> · <what>` (see `cell()`), so `npm run conformance`
 * can fold ava's results into a feature × SDK table. A cell with no test must be a documented gap: a
 * feature the SDK cannot express, with the reason.
 */
import { fixturePlugin } from '../helpers/paths.ts';

export const sdks = ['rust', 'go', 'as'] as const;
export type Sdk = (typeof sdks)[number];

export const sdkLabels: Record<Sdk, string> = {
	rust: 'Rust',
	go: 'Go',
	as: 'AssemblyScript',
};

export const features = {
	headers: 'request/response headers: add, replace, remove',
	'local-reply': 'local reply from the request and the response phase',
	body: 'request body read and rewrite; response body rewrite with content-length',
	trailers: 'trailers',
	config: 'plugin configuration (JSON), VM configuration, VM environment variables',
	properties: 'properties: request.path, request.headers, source.address, plugin_name, plugin_root_id, node metadata',
	logging: 'log levels trace..critical and what is visible',
	'http-call': 'http_call to a mock service; unknown cluster → BadArgument',
	timers: 'timers: hold a request and resume it on tick',
	'shared-data': 'shared data with CAS across two plugins',
	'shared-queue': 'shared queues: enqueue in one plugin, dequeue on tick in another',
	metrics: 'counter, gauge and histogram metrics in /stats',
	chain: 'two plugins chained, order visible',
	trap: 'a trap in request headers: fail_open false and true, backtrace in the log',
} as const;
export type Feature = keyof typeof features;

/** Features an SDK cannot express, with the reason (shown in the matrix as "SDK lacks it"). */
export const gaps: Partial<Record<Sdk, Partial<Record<Feature, string>>>> = {};

export function gapReason(sdk: Sdk, feature: Feature): string | undefined {
	return gaps[sdk]?.[feature];
}

/** The SDKs that can express `feature`: one test per SDK is registered for it. */
export function sdksFor(feature: Feature): Sdk[] {
	return sdks.filter(sdk => gapReason(sdk, feature) === undefined);
}

/** The title of a conformance test; `npm run conformance` parses it back. */
export function cell(sdk: Sdk, feature: Feature, what: string): string {
	return `${sdk} · ${feature} · ${what}`;
}

export const cellTitlePattern = /(?<sdk>\w+) · (?<feature>[\w-]+) · /;

/** Features without a fixture of their own: they reuse another feature's build (CONFORMANCE.md "chain"). */
const fixtureOf: Partial<Record<Feature, Feature>> = {
	chain: 'headers',
};

/**
 * The fixture plugin for an SDK and feature: `fixtures/plugins/<sdk>-<feature>/<sdk>-<feature>.wasm`
 * (`chain` chains two `<sdk>-headers` filters).
 */
export function fixtureFor(sdk: Sdk, feature: Feature): string {
	const built = fixtureOf[feature] ?? feature;
	return fixturePlugin(`${sdk}-${built}`);
}
