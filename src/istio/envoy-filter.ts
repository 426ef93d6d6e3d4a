/**
 * Istio `networking.istio.io/v1alpha3` EnvoyFilter: validation as the API server and istiod's webhook do
 * (CRD schema from istio/api networking/v1alpha3/envoy_filter.proto, pkg/config/validation/envoyfilter/envoyfilter.go),
 * selection and order as istiod does (pilot/pkg/model/push_context.go `EnvoyFilters`, `sortEnvoyFilters`;
 * pilot/pkg/model/envoyfilter.go `proxyMatch`; policyattachment.go `ShouldAttachPolicy`), and the patches
 * themselves through meshbox's one patch engine (src/envoy/patches.ts). istiod ignores a patch that matches
 * nothing; meshbox does too, and says so in the sidecar's notes (`box.istioNotes`).
 */
import type { Locator } from '../config/fields.ts';
import { describeValue, isRecord, noLocation } from '../config/fields.ts';
import type { SandboxModel, SidecarFilter, SidecarModel } from '../config/model.ts';
import { checkPatchValue, readPatch, type PatchModel } from '../config/patches.ts';
import { resolveSpec } from '../config/resolve.ts';
import { typeUrls } from '../envoy-api/type-urls.ts';
import { MeshboxError } from '../errors.ts';
import { envoySchemas } from '../xds/protobuf.ts';
import { inboundHttpChain, outboundHttpChain } from './chain.ts';
import { compileGoRegexp } from './go-regexp.ts';
import { readPatchValueAsIstio } from './jsonpb.ts';
import { dryRunPatches } from '../envoy/patch-check.ts';
import { describePatch, describePatchEvent } from '../envoy/patches.ts';
import type { Finding } from './findings.ts';
import { sidecarIdentity, sidecarNames } from './identity.ts';
import type { Extension, Phase, ResourceOrigin, TargetRef } from './resources.ts';
import { selectExtensions } from './select.ts';
import { readIstio, readWorkload } from './spec.ts';
import { readMetadata, readPriority, readTargetRefs, type DocumentContext } from './validate.ts';
import type { VersionTraits } from './version.ts';

type ReadPatchResult = NonNullable<ReturnType<typeof readPatch>['patch']>;

export type EnvoyFilterResource = {
	readonly kind: 'EnvoyFilter';
	readonly name: string;
	readonly namespace: string;
	readonly creationTimestamp: number | undefined;
	readonly origin: ResourceOrigin;
	/** `workloadSelector.labels`; undefined when there is no workloadSelector. */
	readonly selector: Readonly<Record<string, string>> | undefined;
	readonly targetRefs: readonly TargetRef[];
	/** `priority`: lower applies first; 0 when unset (envoy_filter.proto int32). */
	readonly priority: number;
	/** The configPatches, each with where it is (`file:line:col`). */
	readonly patches: ReadonlyArray<{ readonly patch: ReadPatchResult; readonly where: string; readonly index: number }>;
};

export function displayEnvoyFilter(filter: Pick<EnvoyFilterResource, 'name' | 'namespace'>): string {
	return `EnvoyFilter ${filter.namespace}/${filter.name}`;
}

const specFields = ['workloadSelector', 'configPatches', 'priority', 'targetRefs'] as const;

/** Validates one EnvoyFilter document; undefined when it has errors. `locate` places each field in its file. */
export function validateEnvoyFilter(document: Record<string, unknown>, context: DocumentContext, locate: Locator): EnvoyFilterResource | undefined {
	const { collector } = context;
	collector.checkFields(document, [], ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
	const meta = readMetadata(document.metadata, context);
	collector.subject = displayEnvoyFilter({ ...meta, name: meta.name || '(no name)' });
	// ValidateEnvoyFilter: every EnvoyFilter gets this warning (kubectl apply prints it).
	collector.warning('webhook', [], 'EnvoyFilter exposes internal implementation details that may change at any time. '
		+ 'Prefer other APIs if possible, and exercise extreme caution, especially around upgrades.');
	const spec = document.spec ?? {};
	if (!isRecord(spec)) {
		collector.error('schema', ['spec'], `spec: Invalid value: ${describeValue(spec)}: must be an object`);
		return undefined;
	}

	collector.checkFields(spec, ['spec'], specFields);
	const selector = readWorkloadSelector(spec.workloadSelector, context);
	const targetRefs = readTargetRefs(spec.targetRefs, context);
	if (spec.workloadSelector !== undefined && spec.workloadSelector !== null && targetRefs.length > 0) {
		// envoy_filter.proto: `+kubebuilder:validation:XValidation:message="only one of targetRefs or workloadSelector can be set"`
		collector.error('schema', ['spec'], 'only one of targetRefs or workloadSelector can be set');
	}

	const patches: Array<EnvoyFilterResource['patches'][number]> = [];
	const list = spec.configPatches ?? [];
	if (!Array.isArray(list)) {
		collector.error('schema', ['spec', 'configPatches'], `Invalid value: ${describeValue(list)}: must be a list`);
	} else {
		for (const [index, entry] of list.entries()) {
			const base = ['spec', 'configPatches', index];
			if (entry === null || entry === undefined) {
				collector.error('webhook', base, 'Envoy filter: null config patch');
				continue;
			}

			// What the webhook reads differently from proto3 JSON and JavaScript: the value (jsonpb) and the proxyVersion regex (RE2).
			const asIstio = readEntryAsIstio(entry);
			if (asIstio.error) {
				collector.error('webhook', [...base, ...asIstio.error.path], asIstio.error.message, asIstio.error.hint);
				continue;
			}

			const read = readPatch(asIstio.entry);
			const { problems } = read;
			const patch = read.patch && asIstio.proxyVersion !== undefined && read.patch.match.proxy
				? { ...read.patch, match: { ...read.patch.match, proxy: { ...read.patch.match.proxy, proxyVersion: asIstio.proxyVersion } } }
				: read.patch;
			for (const problem of problems) {
				collector.add(problem.severity, problem.message.startsWith('Envoy filter:') ? 'webhook' : 'schema', [...base, ...problem.path], problem.message, problem.hint);
			}

			if (patch) {
				// envoyfilter.go: BuildXDSObjectFromStruct must succeed (an unknown type is an error); its strict run
				// (unknown fields) only warns, and istiod then drops those fields.
				try {
					checkPatchValue(patch, 'patch.value', (typedConfig, where) => {
						envoySchemas().encodeAny(typedConfig, where);
					});
				} catch (error) {
					if (!(error instanceof MeshboxError)) {
						throw error;
					}

					const unknownField = /unknown field/.test(error.message);
					collector.add(unknownField ? 'warning' : 'error', 'webhook', [...base, 'patch', 'value'], error.message,
						unknownField ? 'istiod drops fields it does not know; Envoy\'s field names are those of its API reference' : error.hint);
					if (!unknownField) {
						continue;
					}
				}

				patches.push({ patch, where: locate(base) ?? `${context.origin.file}:${context.origin.line}`, index });
			}
		}
	}

	const priority = readPriority(spec.priority, context) ?? 0;
	return collector.hasErrors ? undefined : {
		kind: 'EnvoyFilter', name: meta.name, namespace: meta.namespace, creationTimestamp: meta.creationTimestamp, origin: context.origin,
		selector, targetRefs, priority, patches,
	};
}

type IstioEntry =
	| { readonly entry: unknown; readonly proxyVersion: string | undefined; readonly error?: undefined }
	| { readonly error: { readonly path: ReadonlyArray<string | number>; readonly message: string; readonly hint?: string } };

/**
 * A configPatches entry as istiod's webhook reads it, made ready for readPatch (which reads proto3 JSON and
 * JavaScript regexes): `patch.value` through jsonpb's rules (./jsonpb.ts: Go durations rewritten to proto3's form,
 * wrong-typed scalars and v2 types refused), and `match.proxy.proxyVersion` compiled as Go's RE2
 * (./go-regexp.ts) and handed on in its JavaScript form; `proxyVersion` is the text as written, to put back.
 */
function readEntryAsIstio(entry: unknown): IstioEntry {
	if (!isRecord(entry)) {
		return { entry, proxyVersion: undefined };
	}

	let result: Record<string, unknown> = entry;
	let proxyVersion: string | undefined;
	const proxy = isRecord(entry.match) && isRecord(entry.match.proxy) ? entry.match.proxy : undefined;
	if (proxy && typeof proxy.proxyVersion === 'string' && proxy.proxyVersion !== '') {
		const compiled = compileGoRegexp(proxy.proxyVersion);
		if (compiled.error !== undefined) {
			return { error: { path: ['match', 'proxy', 'proxyVersion'], message: `Envoy filter: invalid regex for proxy version, [${compiled.error}]`,
				hint: 'istiod compiles it with Go\'s regexp (RE2): no lookaheads, lookbehinds or backreferences; named groups are (?P<name>…)' } };
		}

		proxyVersion = proxy.proxyVersion;
		result = { ...result, match: { ...(entry.match as Record<string, unknown>), proxy: { ...proxy, proxyVersion: compiled.regexp.source } } };
	}

	const patch = isRecord(entry.patch) ? entry.patch : undefined;
	if (patch && typeof entry.applyTo === 'string' && patch.value !== undefined) {
		const reading = readPatchValueAsIstio(entry.applyTo, patch.value);
		if (reading.error) {
			const fieldPath = reading.error.path.split(/\.|\[(\d+)\]/).filter(part => part !== undefined && part !== '').map(part => (/^\d+$/.test(part) ? Number(part) : part));
			return { error: { path: ['patch', 'value', ...fieldPath], message: reading.error.message,
				hint: /v3 XDS API/.test(reading.error.message) ? 'Envoy\'s v2 API is gone: use the v3 type (e.g. type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua)'
					: 'istiod reads the value with jsonpb: durations as Go writes them (500ms, 1m, 1h30m), each field with the type Envoy\'s API gives it' } };
		}

		result = { ...result, patch: { ...patch, value: reading.value } };
	}

	return { entry: result, proxyVersion };
}

function readWorkloadSelector(value: unknown, { collector }: DocumentContext): Record<string, string> | undefined {
	if (value === undefined || value === null) {
		return undefined;
	}

	const path = ['spec', 'workloadSelector'];
	if (!isRecord(value)) {
		collector.error('schema', path, `Invalid value: ${describeValue(value)}: must be an object`);
		return undefined;
	}

	collector.checkFields(value, path, ['labels']);
	const labels: Record<string, string> = {};
	const raw = value.labels ?? {};
	if (!isRecord(raw)) {
		collector.error('schema', [...path, 'labels'], `Invalid value: ${describeValue(raw)}: must be a map of label names to values`);
		return {};
	}

	for (const [key, entry] of Object.entries(raw)) {
		if (typeof entry !== 'string') {
			collector.error('schema', [...path, 'labels', key], `Invalid value: ${describeValue(entry)}: must be a string`,
				'Kubernetes reads YAML 1.1, where unquoted yes, no, on, off, y and n are booleans: quote the value');
			continue;
		}

		// validation.go ValidateAlphaWorkloadSelector.
		if (key === '' || key.includes('*') || entry.includes('*')) {
			collector.error('webhook', [...path, 'labels', key], `${key === '' ? 'empty key' : 'wildcard'} is not supported in selector: ${JSON.stringify(`${key}=${entry}`)}`);
		}

		labels[key] = entry;
	}

	if (Object.keys(labels).length === 0) {
		collector.warning('webhook', path, 'Envoy filter: workload selector specified without labels, will be applied to all services in namespace');
	}

	return labels;
}

/** kubectl apply: a later document with the same namespace/name replaces the earlier one, keeping its place. */
export function dedupeEnvoyFilters(filters: readonly EnvoyFilterResource[], findings: Finding[]): EnvoyFilterResource[] {
	const byKey = new Map<string, EnvoyFilterResource>();
	for (const filter of filters) {
		const key = `${filter.namespace}/${filter.name}`;
		const earlier = byKey.get(key);
		if (earlier) {
			findings.push({ severity: 'warning', checker: 'meshbox', where: `${filter.origin.file}:${filter.origin.line}:${filter.origin.col}`,
				subject: displayEnvoyFilter(filter), field: '', message: `defined again (first at ${earlier.origin.file}:${earlier.origin.line}); like kubectl apply, the later one replaces it` });
		}

		byKey.set(key, filter);
	}

	return [...byKey.values()];
}

export type EnvoyFilterProxy = {
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly rootNamespace: string;
	readonly traits: VersionTraits;
	/** The sidecar's node metadata (`match.proxy.metadata` is compared with it). */
	readonly nodeMetadata: Readonly<Record<string, unknown>>;
};

export type EnvoyFilterSelection = {
	/** The patches that apply, in istiod's order. */
	readonly patches: readonly PatchModel[];
	/** One line per EnvoyFilter or patch left out, and why. */
	readonly notes: readonly string[];
	/** `+`/`-` lines for `meshbox render`'s header. */
	readonly summary: readonly string[];
};

/** pilot/pkg/model/push_context.go EnvoyFilters: which EnvoyFilters the sidecar gets, their order, and the patches whose proxy match holds. */
export function selectEnvoyFilters(filters: readonly EnvoyFilterResource[], proxy: EnvoyFilterProxy): EnvoyFilterSelection {
	const notes: string[] = [];
	const summary: string[] = [];
	const selected: Array<{ filter: EnvoyFilterResource; position: number }> = [];
	for (const [position, filter] of filters.entries()) {
		const where = `${filter.origin.file}:${filter.origin.line}`;
		const why = leftOut(filter, proxy);
		if (why) {
			notes.push(`istiod: ${displayEnvoyFilter(filter)} does not apply: ${why}`);
			summary.push(`- ${displayEnvoyFilter(filter)} (${where}): ${why}`);
			continue;
		}

		selected.push({ filter, position });
		summary.push(`+ ${displayEnvoyFilter(filter)} (${where}): ${filter.patches.length} patch${filter.patches.length === 1 ? '' : 'es'}, priority ${filter.priority}`);
	}

	// push_context.go EnvoyFilters: priority (lower first), root namespace first, creation time, then name.namespace.
	// Without creationTimestamp the file order stands in for the creation order (as for WasmPlugins, select.ts).
	selected.sort((a, b) => {
		if (a.filter.priority !== b.filter.priority) {
			return a.filter.priority - b.filter.priority;
		}

		const aRoot = a.filter.namespace === proxy.rootNamespace;
		const bRoot = b.filter.namespace === proxy.rootNamespace;
		if (a.filter.namespace !== b.filter.namespace && aRoot !== bRoot) {
			return aRoot ? -1 : 1;
		}

		const aTime = a.filter.creationTimestamp;
		const bTime = b.filter.creationTimestamp;
		if (aTime !== bTime) {
			if (aTime === undefined || bTime === undefined) {
				return aTime === undefined ? 1 : -1;
			}

			return aTime - bTime;
		}

		if (aTime === undefined) {
			return a.position - b.position;
		}

		const aName = `${a.filter.name}.${a.filter.namespace}`;
		const bName = `${b.filter.name}.${b.filter.namespace}`;
		return aName < bName ? -1 : (aName > bName ? 1 : 0);
	});

	const patches: PatchModel[] = [];
	const version = proxy.traits.fullVersion;
	for (const { filter } of selected) {
		for (const { patch, where, index } of filter.patches) {
			const origin = `${displayEnvoyFilter(filter)} (${where}, configPatches[${index}])`;
			const mismatch = proxyMismatch(patch, version, proxy.nodeMetadata);
			if (mismatch) {
				notes.push(`istiod: ${origin}: ${describePatch({ ...patch, origin, ifUnmatched: 'ignore' })} does not apply: ${mismatch}`);
				continue;
			}

			if (patch.applyTo === 'BOOTSTRAP') {
				notes.push(`meshbox: ${origin}: BOOTSTRAP patches are not applied by meshbox (istio-agent would apply it to the bootstrap)`);
				continue;
			}

			patches.push({ ...patch, origin, ifUnmatched: 'ignore' });
		}
	}

	return { patches, notes, summary };
}

function leftOut(filter: EnvoyFilterResource, proxy: EnvoyFilterProxy): string | undefined {
	if (filter.namespace !== proxy.namespace && filter.namespace !== proxy.rootNamespace) {
		return `in namespace ${filter.namespace}: a sidecar in ${proxy.namespace} only gets EnvoyFilters from its own namespace and the root namespace ${proxy.rootNamespace}`;
	}

	// policyattachment.go ShouldAttachPolicy: a sidecar ignores policies with targetRefs.
	if (filter.targetRefs.length > 0) {
		return 'has targetRefs, which select Gateway API gateways and waypoints; a sidecar ignores them (use workloadSelector)';
	}

	const missing = Object.entries(filter.selector ?? {}).filter(([key, value]) => proxy.labels[key] !== value);
	if (missing.length > 0) {
		return `workloadSelector does not match the workload: needs ${missing.map(([key, value]) => `${key}=${value}`).join(', ')}; the workload has ${Object.entries(proxy.labels).map(([key, value]) => `${key}=${value}`).join(', ') || 'no labels'}`;
	}

	return undefined;
}

/** envoyfilter.go: the well-known `^1\.NN.*` versions are prefix matches. */
const wellKnownVersion = /^\^1\\\.(\d+)\.\*$/;

/** pilot/pkg/model/envoyfilter.go proxyMatch, against the emulated Istio version and the sidecar's node metadata. */
function proxyMismatch(patch: ReadPatchResult, version: string, metadata: Readonly<Record<string, unknown>>): string | undefined {
	const proxy = patch.match.proxy;
	if (!proxy) {
		return undefined;
	}

	if (proxy.proxyVersion !== undefined) {
		const known = wellKnownVersion.exec(proxy.proxyVersion);
		// Go's RE2 (./go-regexp.ts); an invalid one never gets here (refused when read).
		const matches = proxy.proxyVersion.length > 1024 ? false
			: (known ? version.startsWith(`1.${known[1]}`) : compileGoRegexp(proxy.proxyVersion).regexp?.test(version) ?? false);
		if (!matches) {
			return `match.proxy.proxyVersion ${JSON.stringify(proxy.proxyVersion)} does not match the sidecar's Istio version ${version}`;
		}
	}

	for (const [key, value] of Object.entries(proxy.metadata ?? {})) {
		if (metadata[key] !== value) {
			return `match.proxy.metadata.${key} is ${JSON.stringify(value)}; the sidecar's is ${metadata[key] === undefined ? 'unset' : JSON.stringify(metadata[key])}`;
		}
	}

	return undefined;
}

/**
 * The sidecar's notes, plus one per EnvoyFilter patch that matches nothing in the generated config (istiod
 * ignores those silently). Run on the whole model, so patches see the listeners and clusters of meshbox.yaml too.
 */
export function withUnmatchedPatchNotes(model: SandboxModel): SandboxModel {
	const patches = model.patches ?? [];
	if ((!model.sidecar && !model.proxy) || !patches.some(patch => patch.ifUnmatched === 'ignore')) {
		return model;
	}

	const { unmatched, events } = dryRunPatches(model);
	// A patch an event explains (skipped on an ECDS filter, a failed merge, dropped after one) gets that note instead.
	const explained = new Set(events.flatMap(event => [event.patch, ...(event.kind === 'merge-failed' ? event.dropped : [])]));
	const notes = [
		...events.filter(event => event.patch.ifUnmatched === 'ignore').map(event => `istiod: ${describePatchEvent(event)}`),
		...unmatched.filter(patch => patch.ifUnmatched === 'ignore' && !explained.has(patch))
			.map(patch => `istiod: ${patch.origin}: ${describePatch(patch)} matches nothing in the ${model.proxy ? `${model.proxy.role === 'router' ? 'gateway' : 'sidecar'} ${model.proxy.name}` : 'sidecar'}'s config; istiod ignores it (\`meshbox render\` shows the config)`),
	];
	if (notes.length === 0) {
		return model;
	}

	return model.proxy ? { ...model, proxy: { ...model.proxy, notes: [...model.proxy.notes, ...notes] } } : { ...model, sidecar: { ...model.sidecar!, notes: [...model.sidecar!.notes, ...notes] } };
}

export type CheckWorkload = {
	readonly traits: VersionTraits;
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
};

/**
 * `meshbox check`: a warning for each patch of an EnvoyFilter that selects the workload and matches nothing in
 * the sidecar meshbox builds for it, inbound (port 8080) nor outbound (port 80), with the WasmPlugins and
 * TrafficExtensions of the same files in place (istiod would ignore such a patch without a word).
 */
export async function unmatchedPatchFindings(extensions: readonly Extension[], envoyFilters: readonly EnvoyFilterResource[], workloadView: CheckWorkload): Promise<Finding[]> {
	if (envoyFilters.length === 0) {
		return [];
	}

	const workload = readWorkload({ name: workloadView.labels.app ?? 'my-app', namespace: workloadView.namespace, labels: { ...workloadView.labels } }, noLocation);
	const { model: base } = await resolveSpec({}, { baseDir: process.cwd() });
	const unmatchedIn: Array<Set<string>> = [];
	const explained = new Map<string, string>();
	let patches: readonly PatchModel[] = [];
	const sides: string[] = [];
	for (const direction of ['inbound', 'outbound'] as const) {
		const istio = readIstio({ version: workloadView.traits.fullVersion, direction }, noLocation, workload);
		const names = sidecarNames(workload, istio);
		const identity = sidecarIdentity(workload, istio);
		const selection = selectEnvoyFilters(envoyFilters, { namespace: workload.namespace, labels: workload.labels, rootNamespace: istio.rootNamespace, traits: workloadView.traits, nodeMetadata: identity.metadata });
		patches = selection.patches;
		const outcomes = selectExtensions(extensions, {
			namespace: workload.namespace, labels: workload.labels, rootNamespace: istio.rootNamespace,
			listenerClass: direction === 'inbound' ? 'SERVER' : 'CLIENT', port: names.matchPort, traits: workloadView.traits,
		}).filter(outcome => outcome.applied);
		// Stand-ins with the filter names istiod gives (translate.ts): what a patch matches is the name.
		const standIn = (extension: Extension, network: boolean): SidecarFilter => ({
			kind: 'typed', comment: '', ecds: true, typedConfig: { '@type': network ? typeUrls.networkWasm : typeUrls.httpWasm },
			name: extension.kind === 'WasmPlugin' ? workloadView.traits.filterName(extension.namespace, extension.name) : `extensions.istio.io/trafficextension/${extension.namespace}.${extension.name}`,
		});
		const inPhase = (chain: 'http' | 'network', phase: Phase) => outcomes
			.filter(outcome => outcome.chain === chain && outcome.extension.phase === phase)
			.map(outcome => standIn(outcome.extension, chain === 'network'));
		const sidecar: SidecarModel = {
			...names,
			node: { id: identity.id, cluster: identity.cluster, metadata: identity.metadata },
			httpFilters: direction === 'inbound' ? inboundHttpChain(inPhase) : outboundHttpChain(inPhase),
			networkFilters: (['AUTHN', 'AUTHZ', 'STATS', 'UNSPECIFIED_PHASE'] as const).flatMap(phase => inPhase('network', phase)),
			notes: [], summary: [], sources: [],
		};
		const dryRun = dryRunPatches({ ...base, plugins: [], sidecar, patches });
		unmatchedIn.push(new Set(dryRun.unmatched.map(patch => patch.origin)));
		// Why istiod does nothing with a patch, where it says more than "matches nothing" (first side wins).
		for (const event of dryRun.events) {
			if (!explained.has(event.patch.origin)) {
				explained.set(event.patch.origin, describePatchEvent(event).slice(event.patch.origin.length + 2));
			}
		}

		sides.push(direction === 'inbound' ? `inbound on port ${names.matchPort}` : `outbound to ${istio.destination.host}:${istio.destination.port}`);
	}

	const labels = Object.entries(workload.labels).map(([key, value]) => `${key}=${value}`).join(', ');
	return patches.filter(patch => unmatchedIn.every(set => set.has(patch.origin))).map(patch => {
		const [, subject = 'EnvoyFilter', where = ''] = /^(EnvoyFilter \S+) \(([^,]+),/.exec(patch.origin) ?? [];
		return {
			severity: 'warning', checker: 'meshbox', where, subject, field: '',
			message: explained.get(patch.origin) ?? `${describePatch(patch)} matches nothing in the sidecar of ${labels} in ${workload.namespace} (${sides.join(', or ')}); istiod ignores such a patch`,
			hint: explained.has(patch.origin) ? 'a sandbox with these files shows the same in box.istioNotes'
				: 'check the names it matches (listener, filter chain, filter, route, cluster) against `meshbox render` of a sandbox with these files',
		} satisfies Finding;
	});
}
