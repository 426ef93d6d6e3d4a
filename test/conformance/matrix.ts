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
	body: 'request and response bodies buffered and rewritten (replace, append, prepend); content-length removed',
	trailers: 'request trailers read and edited, a response trailer added (HTTP/2 and chunked HTTP/1.1)',
	config: 'plugin configuration (JSON), VM configuration, VM environment variables; invalid configuration refused',
	properties: 'request.path, request.headers, source.address, plugin_name, plugin_root_id, plugin_vm_id, xds.node, probing by path',
	logging: 'log levels trace..critical, WASI stdout/stderr, what the wasm logger level lets through',
	'http-call': 'http_call to a mock service (200, 503, timeout); unknown cluster → BadArgument',
	timers: 'hold a request in request headers, resume it on tick',
	'shared-data': 'shared data with CAS across two plugins',
	'shared-queue': 'shared queues: enqueue in one plugin, dequeue on tick in another',
	metrics: 'counter, gauge and histogram metrics in /stats',
	chain: 'two plugins chained, order visible',
	trap: 'a trap in request headers: fail_open false and true, backtrace in the log',
} as const;
export type Feature = keyof typeof features;

/** Features an SDK cannot express, with the reason (shown in the matrix as "SDK lacks it"). */
export const gaps: Partial<Record<Sdk, Partial<Record<Feature, string>>>> = {};

/** Parts of a feature an SDK cannot do (the rest is tested): shown beside the cell's result. */
export const partialGaps: Partial<Record<Sdk, Partial<Record<Feature, string>>>> = {
	go: { logging: 'proxy_get_log_level (the Go SDK declares ABI 0.2.0, and Envoy offers that call only to 0.2.1 modules)' },
};

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
