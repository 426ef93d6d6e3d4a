/**
 * Validation of `extensions.istio.io/v1alpha1` WasmPlugin and TrafficExtension documents, in the order a
 * cluster applies it: the API server's CRD schema and CEL rules
 * (manifests/charts/base/files/crd-all.gen.yaml, generated from istio/api extensions/v1alpha1/wasm.proto
 * and traffic_extension.proto), then istiod's validating webhook (pkg/config/validation/validation.go,
 * `ValidateWasmPlugin` and the helpers it calls). Messages are Istio's own where Istio has one.
 */
import { describeValue, isRecord, type FieldPath } from '../config/fields.ts';
import type { FindingCollector } from './findings.ts';
import {
	envValueSources, failStrategies, phases, pluginTypes, pullPolicies, trafficExtensionPhases, trafficModes,
	type EnvVar, type Extension, type Phase, type ResourceOrigin, type TargetRef, type TrafficSelector,
} from './resources.ts';
import { parseGoUrl } from './go-url.ts';
import type { VersionTraits } from './version.ts';

/** Fields of `spec` (wasm.proto `WasmPlugin`, JSON names). `verificationKey` is hidden but exists. */
export const wasmPluginSpecFields = ['selector', 'targetRef', 'targetRefs', 'url', 'sha256', 'imagePullPolicy', 'imagePullSecret',
	'verificationKey', 'pluginConfig', 'pluginName', 'phase', 'priority', 'failStrategy', 'vmConfig', 'match', 'type'] as const;
/** traffic_extension.proto `TrafficExtension`. */
export const trafficExtensionSpecFields = ['selector', 'targetRefs', 'phase', 'priority', 'match', 'wasm', 'lua'] as const;
/** traffic_extension.proto `WasmConfig`. */
export const wasmConfigFields = ['url', 'sha256', 'imagePullPolicy', 'imagePullSecret', 'verificationKey', 'pluginConfig', 'pluginName',
	'failStrategy', 'vmConfig', 'type'] as const;
/** k8s.io/apimachinery ObjectMeta (what strict field validation accepts under `metadata`). */
export const objectMetaFields = ['name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
	'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields'] as const;

/** pkg/config/validation/validation.go `allowedTargetRefs` (printed as Go prints the GVK list). */
const allowedTargetRefs = [
	{ group: 'core', kind: 'Service', text: 'core/v1/Service' },
	{ group: 'networking.istio.io', kind: 'ServiceEntry', text: 'networking.istio.io/v1/ServiceEntry' },
	{ group: 'gateway.networking.k8s.io', kind: 'Gateway', text: 'gateway.networking.k8s.io/v1/Gateway' },
	{ group: 'gateway.networking.k8s.io', kind: 'GatewayClass', text: 'gateway.networking.k8s.io/v1/GatewayClass' },
] as const;

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const int32 = { min: -2_147_483_648, max: 2_147_483_647 };

export type DocumentContext = {
	readonly collector: FindingCollector;
	readonly origin: ResourceOrigin;
	readonly traits: VersionTraits;
	/** Namespace for documents without `metadata.namespace` (kubectl's current namespace; meshbox: the workload's). */
	readonly defaultNamespace: string;
};

type Meta = { name: string; namespace: string; creationTimestamp: number | undefined; resourceVersion: string };

/** Validates one WasmPlugin or TrafficExtension document; undefined when it has errors. */
export function validateExtension(document: Record<string, unknown>, kind: 'WasmPlugin' | 'TrafficExtension', context: DocumentContext): Extension | undefined {
	const { collector } = context;
	collector.checkFields(document, [], ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
	const meta = readMetadata(document.metadata, context);
	collector.subject = `${kind} ${meta.namespace}/${meta.name || '(no name)'}`;

	if (!isRecord(document.spec)) {
		// `+cue-gen:WasmPlugin:spec:required`
		collector.error('schema', document.spec === undefined ? [] : ['spec'], document.spec === undefined ? 'spec: Required value' : `spec: Invalid value: ${describeValue(document.spec)}: must be an object`);
		return undefined;
	}

	const spec = document.spec;
	const common = kind === 'WasmPlugin' ? readWasmPluginAttachment(spec, context) : readTrafficExtensionAttachment(spec, context);
	if (kind === 'WasmPlugin') {
		collector.checkFields(spec, ['spec'], wasmPluginSpecFields);
		const wasm = readWasmFields(spec, ['spec'], context);
		return collector.hasErrors || !wasm ? undefined : { kind, ...meta, origin: context.origin, ...common, ...wasm };
	}

	collector.checkFields(spec, ['spec'], trafficExtensionSpecFields);
	// traffic_extension.proto: `+kubebuilder:validation:XValidation:message="exactly one of wasm or lua must be set"`
	if ((spec.wasm === undefined) === (spec.lua === undefined)) {
		collector.error('schema', ['spec'], 'exactly one of wasm or lua must be set');
		return undefined;
	}

	if (spec.lua !== undefined) {
		const lua = readLua(spec.lua, context);
		return collector.hasErrors || lua === undefined ? undefined : { kind, ...meta, origin: context.origin, ...common, lua };
	}

	if (!isRecord(spec.wasm)) {
		collector.error('schema', ['spec', 'wasm'], `Invalid value: ${describeValue(spec.wasm)}: must be an object`);
		return undefined;
	}

	collector.checkFields(spec.wasm, ['spec', 'wasm'], wasmConfigFields);
	const wasm = readWasmFields(spec.wasm, ['spec', 'wasm'], context);
	return collector.hasErrors || !wasm ? undefined : { kind, ...meta, origin: context.origin, ...common, ...wasm };
}

export function readMetadata(value: unknown, { collector, defaultNamespace }: DocumentContext): Meta {
	if (!isRecord(value)) {
		collector.error('schema', value === undefined ? [] : ['metadata'], 'metadata.name: Required value: name or generateName is required');
		return { name: '', namespace: defaultNamespace, creationTimestamp: undefined, resourceVersion: '1' };
	}

	collector.checkFields(value, ['metadata'], objectMetaFields);
	const name = collector.string(value.name, ['metadata', 'name']) ?? '';
	if (!name) {
		collector.error('schema', ['metadata'], 'metadata.name: Required value: name or generateName is required');
	} else if (name.length > 253 || !dns1123Subdomain.test(name)) {
		collector.error('schema', ['metadata', 'name'], `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')`);
	}

	const namespace = collector.string(value.namespace, ['metadata', 'namespace']) ?? defaultNamespace;
	if (namespace.length > 63 || !dns1123Label.test(namespace)) {
		collector.error('schema', ['metadata', 'namespace'], `Invalid value: ${JSON.stringify(namespace)}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name')`);
	}

	let creationTimestamp: number | undefined;
	if (value.creationTimestamp !== undefined && value.creationTimestamp !== null) {
		const text = value.creationTimestamp instanceof Date ? value.creationTimestamp.toISOString() : String(value.creationTimestamp);
		const parsed = Date.parse(text);
		if (Number.isNaN(parsed)) {
			collector.error('schema', ['metadata', 'creationTimestamp'], `Invalid value: ${JSON.stringify(text)}: expected an RFC 3339 time, e.g. 2026-01-01T00:00:00Z`);
		} else {
			// Kubernetes stores creationTimestamp with second resolution; istiod compares those (pilot/pkg/model/config.go).
			creationTimestamp = Math.floor(parsed / 1000) * 1000;
		}
	}

	const resourceVersion = value.resourceVersion === undefined ? '1' : String(value.resourceVersion);
	return { name, namespace, creationTimestamp, resourceVersion };
}

type Attachment = Pick<Extension, 'selector' | 'targetRefs' | 'phase' | 'priority' | 'match'>;

function readWasmPluginAttachment(spec: Record<string, unknown>, context: DocumentContext): Attachment {
	const { collector } = context;
	const selector = readSelector(spec.selector, context);
	const singular = spec.targetRef === undefined || spec.targetRef === null ? undefined : readTargetRef(spec.targetRef, ['spec', 'targetRef'], context);
	const plural = readTargetRefs(spec.targetRefs, context);
	// validation.go validateOneOfSelectorType (the CRD's CEL rule says "only one of targetRefs or selector can be set").
	const set = (spec.selector !== undefined && spec.selector !== null ? 1 : 0) + (singular ? 1 : 0) + (plural.length > 0 ? 1 : 0);
	if (set > 1) {
		collector.error('webhook', ['spec'], 'only one of targetRefs or workloadSelector can be set',
			'a sidecar is selected by `selector.matchLabels`; `targetRefs` are for Gateway API gateways and waypoints');
	}

	return {
		selector,
		// pilot/pkg/model/policyattachment.go: a singular targetRef is used when targetRefs is empty.
		targetRefs: plural.length > 0 ? plural : (singular ? [singular] : []),
		phase: collector.enumValue(spec.phase, ['spec', 'phase'], phases) ?? 'UNSPECIFIED_PHASE',
		priority: readPriority(spec.priority, context),
		match: readMatch(spec.match, context),
	};
}

function readTrafficExtensionAttachment(spec: Record<string, unknown>, context: DocumentContext): Attachment {
	const { collector } = context;
	const selector = readSelector(spec.selector, context);
	const targetRefs = readTargetRefs(spec.targetRefs, context);
	if (spec.selector !== undefined && spec.selector !== null && targetRefs.length > 0) {
		collector.error('schema', ['spec'], 'only one of targetRefs or selector can be set');
	}

	// istio/api revisions spell the phases either as WasmPlugin's PluginPhase or as ExecutionPhase
	// (EXECUTION_PHASE_*); both map onto the same numbers (traffic_extension.proto).
	const phaseNames = [...phases, ...trafficExtensionPhases, 'EXECUTION_PHASE_UNSPECIFIED', 'EXECUTION_PHASE_AUTHN', 'EXECUTION_PHASE_AUTHZ', 'EXECUTION_PHASE_STATS'] as const;
	const phaseName = collector.enumValue(spec.phase, ['spec', 'phase'], [...new Set(phaseNames)]);
	const phase: Phase = phaseName === undefined ? 'UNSPECIFIED_PHASE'
		: (phases.find(candidate => phaseName.endsWith(candidate)) ?? 'UNSPECIFIED_PHASE');
	return { selector, targetRefs, phase, priority: readPriority(spec.priority, context), match: readMatch(spec.match, context) };
}

export function readSelector(value: unknown, { collector }: DocumentContext): Record<string, string> | undefined {
	if (value === undefined || value === null) {
		return undefined;
	}

	if (!isRecord(value)) {
		collector.error('schema', ['spec', 'selector'], `Invalid value: ${describeValue(value)}: must be an object`);
		return undefined;
	}

	collector.checkFields(value, ['spec', 'selector'], ['matchLabels']);
	const labels: Record<string, string> = {};
	const matchLabels = value.matchLabels ?? {};
	if (!isRecord(matchLabels)) {
		collector.error('schema', ['spec', 'selector', 'matchLabels'], `Invalid value: ${describeValue(matchLabels)}: must be a map of label names to values`);
		return {};
	}

	for (const [key, raw] of Object.entries(matchLabels)) {
		const path: FieldPath = ['spec', 'selector', 'matchLabels', key];
		if (typeof raw !== 'string') {
			// kubectl reads YAML 1.1 (kube-yaml.ts): unquoted yes/no/on/off/y/n are booleans, 0755 a number.
			collector.error('schema', path, `Invalid value: ${describeValue(raw)}: must be a string`,
				`Kubernetes reads YAML 1.1, where unquoted yes, no, on, off, y and n are booleans and 1_000 or 0755 numbers: quote the value, e.g. ${key}: ${JSON.stringify(typeof raw === 'boolean' ? (raw ? 'yes' : 'no') : String(raw))}`);
			continue;
		}

		// validation.go validateWorkloadSelector.
		if (key === '') {
			collector.error('webhook', path, `empty key is not supported in selector: ${JSON.stringify(`${key}=${raw}`)}`);
		}

		if (key.includes('*') || raw.includes('*')) {
			collector.error('webhook', path, `wildcard is not supported in selector: ${JSON.stringify(`${key}=${raw}`)}`);
		}

		if (raw.length > 63) {
			collector.error('schema', path, `Too long: may not be longer than 63`);
		}

		labels[key] = raw;
	}

	if (Object.keys(labels).length === 0 && Object.keys(matchLabels).length === 0) {
		collector.warning('webhook', ['spec', 'selector'], 'workload selector specified without labels',
			'an empty selector selects every workload in the namespace (in the root namespace: the whole mesh)');
	}

	return labels;
}

export function readTargetRefs(value: unknown, context: DocumentContext): TargetRef[] {
	if (value === undefined || value === null) {
		return [];
	}

	if (!Array.isArray(value)) {
		context.collector.error('schema', ['spec', 'targetRefs'], `Invalid value: ${describeValue(value)}: must be a list`);
		return [];
	}

	if (value.length > 16) {
		context.collector.error('schema', ['spec', 'targetRefs'], `Too many: ${value.length}: must have at most 16 items`);
	}

	return value.map((entry, index) => readTargetRef(entry, ['spec', 'targetRefs', index], context)).filter((ref): ref is TargetRef => ref !== undefined);
}

export function readTargetRef(value: unknown, path: FieldPath, { collector }: DocumentContext): TargetRef | undefined {
	if (!isRecord(value)) {
		collector.error('schema', path, `Invalid value: ${describeValue(value)}: must be an object`);
		return undefined;
	}

	collector.checkFields(value, path, ['group', 'kind', 'name', 'namespace']);
	const ref = {
		group: collector.string(value.group, [...path, 'group']) ?? '',
		kind: collector.string(value.kind, [...path, 'kind']) ?? '',
		name: collector.string(value.name, [...path, 'name']) ?? '',
		namespace: collector.string(value.namespace, [...path, 'namespace']) ?? '',
	};
	// type/v1beta1/selector.proto PolicyTargetReference (schema) and validation.go validatePolicyTargetReference.
	if (!ref.kind) {
		collector.error('schema', [...path, 'kind'], 'Required value');
	} else if (ref.kind.length > 63 || !/^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(ref.kind)) {
		collector.error('schema', [...path, 'kind'], `Invalid value: ${JSON.stringify(ref.kind)}: should match '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$'`);
	}

	if (!ref.name) {
		collector.error('webhook', [...path, 'name'], 'targetRef name must be set');
	}

	if (ref.namespace) {
		collector.error('webhook', [...path, 'namespace'], 'targetRef namespace must not be set; cross namespace referencing is not supported');
	}

	const group = ref.group || 'core';
	if (ref.kind && !allowedTargetRefs.some(allowed => allowed.kind === ref.kind && allowed.group === group)) {
		collector.error('webhook', path, `targetRef must be to one of [${allowedTargetRefs.map(allowed => allowed.text).join(' ')}] but was ${ref.group}/${ref.kind}`,
			ref.kind === 'Gateway' ? 'a Gateway API Gateway needs `group: gateway.networking.k8s.io`' : undefined);
	}

	return ref;
}

export function readPriority(value: unknown, { collector }: DocumentContext): number | undefined {
	if (value === undefined || value === null) {
		return undefined;
	}

	if (typeof value !== 'number' || !Number.isInteger(value) || value < int32.min || value > int32.max) {
		collector.error('schema', ['spec', 'priority'], `Invalid value: ${describeValue(value)}: must be a 32-bit integer`);
		return undefined;
	}

	return value;
}

function readMatch(value: unknown, { collector }: DocumentContext): TrafficSelector[] {
	if (value === undefined || value === null) {
		return [];
	}

	if (!Array.isArray(value)) {
		collector.error('schema', ['spec', 'match'], `Invalid value: ${describeValue(value)}: must be a list of {mode, ports}`);
		return [];
	}

	const selectors: TrafficSelector[] = [];
	for (const [index, entry] of value.entries()) {
		const path: FieldPath = ['spec', 'match', index];
		if (entry === null || entry === undefined) {
			// validation.go validateWasmPluginMatch
			collector.error('webhook', path, `spec.Match[${index}] is nil`);
			continue;
		}

		if (!isRecord(entry)) {
			collector.error('schema', path, `Invalid value: ${describeValue(entry)}: must be an object`);
			continue;
		}

		collector.checkFields(entry, path, ['mode', 'ports']);
		const mode = collector.enumValue(entry.mode, [...path, 'mode'], trafficModes) ?? 'UNDEFINED';
		const ports: number[] = [];
		if (entry.ports !== undefined && entry.ports !== null) {
			if (Array.isArray(entry.ports)) {
				for (const [portIndex, port] of entry.ports.entries()) {
					const portPath: FieldPath = [...path, 'ports', portIndex];
					if (port === null) {
						collector.error('webhook', portPath, `spec.Match[${index}].Ports[${portIndex}] is nil`);
						continue;
					}

					if (!isRecord(port)) {
						collector.error('schema', portPath, `Invalid value: ${describeValue(port)}: must be {number: N}`, 'write ports as a list of objects: ports: [{number: 8080}]');
						continue;
					}

					collector.checkFields(port, portPath, ['number']);
					const number = port.number;
					if (number === undefined) {
						collector.error('schema', [...portPath, 'number'], 'Required value');
					} else if (typeof number !== 'number' || !Number.isInteger(number)) {
						collector.error('schema', [...portPath, 'number'], `Invalid value: ${describeValue(number)}: must be an integer`);
					} else if (number <= 0 || number > 65_535) {
						collector.error('webhook', [...portPath, 'number'], `spec.Match[${index}].Ports[${portIndex}] is out of range: ${number}`);
					} else if (ports.includes(number)) {
						// `+listType=map +listMapKey=number`
						collector.error('schema', [...portPath, 'number'], `Duplicate value: ${number}`);
					} else {
						ports.push(number);
					}
				}
			} else {
				collector.error('schema', [...path, 'ports'], `Invalid value: ${describeValue(entry.ports)}: must be a list`);
			}
		}

		selectors.push({ mode, ports });
	}

	return selectors;
}

type WasmFields = Pick<Extension & { kind: 'WasmPlugin' }, never> & {
	url: string; sha256: string; imagePullPolicy: (typeof pullPolicies)[number]; imagePullSecret: string;
	pluginConfig: Record<string, unknown> | undefined; pluginName: string; failStrategy: (typeof failStrategies)[number];
	env: EnvVar[]; type: (typeof pluginTypes)[number];
};

function readWasmFields(spec: Record<string, unknown>, base: FieldPath, context: DocumentContext): WasmFields | undefined {
	const { collector, traits } = context;
	const url = collector.string(spec.url, [...base, 'url']);
	if (url === undefined || url === '') {
		// Schema: url is required with MinLength=1; webhook: validateWasmPluginURL.
		collector.error('webhook', url === undefined ? base : [...base, 'url'], 'url field needs to be set',
			'the module: oci://registry/repo:tag, https://host/plugin.wasm, or file:///path/inside/the/proxy.wasm');
	} else {
		const parsed = parseGoUrl(url, { requestUri: true });
		if (parsed.error) {
			collector.error('webhook', [...base, 'url'], parsed.error);
		} else if (!['', 'file', 'http', 'https', 'oci'].includes(parsed.scheme)) {
			collector.error('webhook', [...base, 'url'], `url contains unsupported scheme: ${parsed.scheme}`,
				parsed.scheme === 'localhost' || /^[\w.-]+$/.test(parsed.scheme) ? 'a registry address needs the scheme: oci://host:port/repo:tag' : 'use oci://, http://, https:// or file://');
		}
	}

	const sha256 = collector.string(spec.sha256, [...base, 'sha256']) ?? '';
	if (sha256 !== '') {
		// validation.go validateWasmPluginSHA (the CRD's pattern `(^$|^[a-f0-9]{64}$)` rejects the same).
		if (sha256.length !== 64) {
			collector.error('webhook', [...base, 'sha256'], 'sha256 field must be 64 characters long');
		} else if (!/^[a-f0-9]{64}$/.test(sha256)) {
			collector.error('webhook', [...base, 'sha256'], 'sha256 field must match [a-f0-9]{64} pattern', /[A-F]/.test(sha256) ? 'write the hex digits in lower case' : undefined);
		}
	}

	const imagePullPolicy = collector.enumValue(spec.imagePullPolicy, [...base, 'imagePullPolicy'], pullPolicies) ?? 'UNSPECIFIED_POLICY';
	const imagePullSecret = collector.string(spec.imagePullSecret, [...base, 'imagePullSecret']) ?? '';
	if (spec.imagePullSecret === '') {
		collector.error('schema', [...base, 'imagePullSecret'], 'Invalid value: "": should be at least 1 chars long');
	} else if (imagePullSecret.length > 253) {
		collector.error('webhook', [...base, 'imagePullSecret'], 'imagePullSecret field must be less than 253 characters long');
	}

	if (spec.verificationKey !== undefined) {
		collector.warning('istiod', [...base, 'verificationKey'], 'verificationKey is reserved and not implemented by Istio: it is ignored');
	}

	let pluginConfig: Record<string, unknown> | undefined;
	if (spec.pluginConfig !== undefined && spec.pluginConfig !== null) {
		if (isRecord(spec.pluginConfig)) {
			pluginConfig = spec.pluginConfig;
		} else {
			collector.error('schema', [...base, 'pluginConfig'], `Invalid value: ${describeValue(spec.pluginConfig)}: must be an object (google.protobuf.Struct)`,
				'pluginConfig is a YAML map; the plugin receives it as JSON. A plugin that wants plain text needs a wrapper key, e.g. pluginConfig: {value: "..."}');
		}
	}

	const pluginName = collector.string(spec.pluginName, [...base, 'pluginName']) ?? '';
	if (spec.pluginName === '') {
		collector.error('schema', [...base, 'pluginName'], 'Invalid value: "": should be at least 1 chars long');
	} else if (pluginName.length > 256) {
		collector.error('webhook', [...base, 'pluginName'], 'pluginName field must be less than 255 characters long');
	}

	const strategies = traits.hasFailReload ? failStrategies : failStrategies.filter(strategy => strategy !== 'FAIL_RELOAD');
	const failStrategy = collector.enumValue(spec.failStrategy, [...base, 'failStrategy'], strategies) ?? 'FAIL_CLOSE';
	const env = readEnv(spec.vmConfig, [...base, 'vmConfig'], context);
	const type = collector.enumValue(spec.type, [...base, 'type'], pluginTypes) ?? 'UNSPECIFIED_PLUGIN_TYPE';
	return url === undefined ? undefined : { url, sha256, imagePullPolicy, imagePullSecret, pluginConfig, pluginName, failStrategy, env, type };
}

function readEnv(value: unknown, path: FieldPath, { collector }: DocumentContext): EnvVar[] {
	if (value === undefined || value === null) {
		return [];
	}

	if (!isRecord(value)) {
		collector.error('schema', path, `Invalid value: ${describeValue(value)}: must be an object`);
		return [];
	}

	collector.checkFields(value, path, ['env']);
	if (value.env === undefined || value.env === null) {
		return [];
	}

	if (!Array.isArray(value.env)) {
		collector.error('schema', [...path, 'env'], `Invalid value: ${describeValue(value.env)}: must be a list of {name, valueFrom, value}`);
		return [];
	}

	if (value.env.length > 256) {
		collector.error('schema', [...path, 'env'], `Too many: ${value.env.length}: must have at most 256 items`);
	}

	const env: EnvVar[] = [];
	const names = new Set<string>();
	for (const [index, entry] of value.env.entries()) {
		const entryPath: FieldPath = [...path, 'env', index];
		if (!isRecord(entry)) {
			collector.error('schema', entryPath, `Invalid value: ${describeValue(entry)}: must be {name, valueFrom, value}`);
			continue;
		}

		collector.checkFields(entry, entryPath, ['name', 'valueFrom', 'value']);
		const name = collector.string(entry.name, [...entryPath, 'name']) ?? '';
		const valueFrom = collector.enumValue(entry.valueFrom, [...entryPath, 'valueFrom'], envValueSources) ?? 'INLINE';
		const text = entry.value === undefined ? '' : (typeof entry.value === 'string' ? entry.value : undefined);
		if (text === undefined) {
			collector.error('schema', [...entryPath, 'value'], `Invalid value: ${describeValue(entry.value)}: must be a string`, 'quote the value in YAML, e.g. value: "8080"');
		}

		// validation.go validateWasmPluginVMConfig, in its order.
		if (name === '') {
			collector.error('webhook', [...entryPath, 'name'], 'spec.vmConfig.env invalid', 'every env entry needs a name');
			continue;
		}

		if (name.length > 256) {
			collector.error('webhook', [...entryPath, 'name'], 'env.name field must be less than 255 characters long');
		}

		if (names.has(name)) {
			collector.error('webhook', [...entryPath, 'name'], 'duplicate env', `${name} is set twice`);
		}

		names.add(name);
		if (valueFrom !== 'INLINE' && text) {
			collector.error('webhook', [...entryPath, 'value'], 'value may only be set when valueFrom is INLINE',
				'HOST copies the variable from the istio-proxy container; remove `value`, or drop `valueFrom: HOST`');
		}

		if ((text ?? '').length > 2048) {
			collector.error('schema', [...entryPath, 'value'], 'Too long: may not be longer than 2048');
		}

		env.push({ name, valueFrom, value: text ?? '' });
	}

	return env;
}

function readLua(value: unknown, { collector }: DocumentContext): string | undefined {
	if (!isRecord(value)) {
		collector.error('schema', ['spec', 'lua'], `Invalid value: ${describeValue(value)}: must be {inlineCode: "..."}`);
		return undefined;
	}

	collector.checkFields(value, ['spec', 'lua'], ['inlineCode']);
	const code = collector.string(value.inlineCode, ['spec', 'lua', 'inlineCode']) ?? '';
	if (code === '') {
		collector.error('webhook', ['spec', 'lua', 'inlineCode'], 'lua.inlineCode cannot be empty');
		return undefined;
	}

	if (code.length > 65_536) {
		collector.error('webhook', ['spec', 'lua', 'inlineCode'], 'lua.inlineCode exceeds maximum size of 64KB');
		return undefined;
	}

	return code;
}
