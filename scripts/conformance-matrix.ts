/**
 * The conformance matrix: which proxy-wasm features each SDK's plugins are checked for on real Envoy.
 *
 * Every conformance test is titled `<sdk> · <feature> · <what>` (see `cell()`), so `npm run conformance`
 * can fold ava's results into a feature × SDK table. A cell with no test must be a documented gap: a
 * feature the SDK cannot express, with the reason.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareVersions } from '../src/envoy-binary/provision.ts';

const fixturesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'plugins');
const fixturePlugin = (name: string): string => path.join(fixturesDir, name, `${name}.wasm`);

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
	hostile: 'a loop in a callback or on_configure, a trap or memory exhaustion in on_configure, a 1 ms tick with http_call, a request paused forever: a clear error, and the next sandbox passes',
} as const;
export type Feature = keyof typeof features;

/** Features an SDK cannot express, with the reason (shown in the matrix as "SDK lacks it"). */
export const gaps: Partial<Record<Sdk, Partial<Record<Feature, string>>>> = {
	// Not a gap of these SDKs: what is tested is how meshbox and Envoy handle a plugin that misbehaves, the same
	// whatever the SDK; one fixture (rust-hostile) covers it.
	go: { hostile: 'not built for this SDK: the host\'s handling is tested with rust-hostile' },
	as: { hostile: 'not built for this SDK: the host\'s handling is tested with rust-hostile' },
};

/** Parts of a feature an SDK cannot do (the rest is tested): shown beside the cell's result. */
export const partialGaps: Partial<Record<Sdk, Partial<Record<Feature, string>>>> = {
	go: { logging: 'proxy_get_log_level (the Go SDK declares ABI 0.2.0, and Envoy offers that call only to 0.2.1 modules)' },
};

/**
 * What a feature does differently from one Envoy release on (measured with `npm run conformance --
 * --envoy-versions 1.36,1.38,1.39,1.40`). The tests assert the behaviour of the Envoy they run on, and the
 * matrix names it in the cell, so a version difference shows as a difference, never as a pass that hides it.
 */
export type EnvoyDifference = {
	readonly feature: Feature;
	/** The SDKs it concerns; absent: all. */
	readonly sdks?: readonly Sdk[];
	/** The first release with the `from` behaviour. */
	readonly since: string;
	readonly before: string;
	readonly from: string;
};

export const envoyDifferences: readonly EnvoyDifference[] = [
	{
		feature: 'metrics',
		since: '1.38.0',
		before: 'histogram quantiles are the upper bound of the value\'s bucket (p100 of a recorded 42 is 43)',
		from: 'histogram quantiles are interpolated within the bucket (p100 of a recorded 42 is 42.5)',
	},
	{
		feature: 'trap',
		sdks: ['go'],
		since: '1.39.0',
		before: 'the Go runtime dies while printing the panic ("fatal error: wasi_snapshot_preview1.poll_oneoff", "panic during panic"): the panic message is not logged',
		from: 'the panic is logged ("panic: trap requested", then the goroutine trace)',
	},
];

function differenceOf(feature: Feature, sdk: Sdk): EnvoyDifference | undefined {
	return envoyDifferences.find(entry => entry.feature === feature && (entry.sdks === undefined || entry.sdks.includes(sdk)));
}

/** Whether Envoy `version` (exact) has the `from` behaviour of the feature's difference for this SDK (true: none differs). */
export function hasNewBehaviour(feature: Feature, sdk: Sdk, version: string): boolean {
	const difference = differenceOf(feature, sdk);
	return difference === undefined || compareVersions(version, difference.since) <= 0;
}

/** The behaviour of `feature` for `sdk` on Envoy `version`, for a cell of the matrix; empty when no release differs. */
export function behaviourOn(feature: Feature, sdk: Sdk, version: string): string {
	const difference = differenceOf(feature, sdk);
	if (!difference) {
		return '';
	}

	return hasNewBehaviour(feature, sdk, version) ? `Envoy ≥ ${difference.since}: ${difference.from}` : `Envoy < ${difference.since}: ${difference.before}`;
}

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
