/**
 * The Kubernetes envelope every configuration resource shares (apiVersion, kind, metadata, spec): read once,
 * so each kind's validator (./networking, ./security) reads only its spec.
 */
import { isRecord } from '../config/fields.ts';
import type { ConfigResource, ConfigValidationContext } from './config-resources.ts';
import { readMetadata } from './validate.ts';

export type Envelope = {
	readonly name: string;
	readonly namespace: string;
	readonly labels: Readonly<Record<string, string>>;
	readonly annotations: Readonly<Record<string, string>>;
	readonly creationTimestamp: number | undefined;
	/** `spec` as written; an error was reported when it is not an object (then `{}`). */
	readonly spec: Readonly<Record<string, unknown>>;
};

/** Checks the top-level fields and metadata, names the collector's subject, and returns the spec to validate. */
export function readEnvelope(document: Readonly<Record<string, unknown>>, kind: string, context: ConfigValidationContext): Envelope {
	const { collector } = context;
	collector.checkFields(document as Record<string, unknown>, [], ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
	const meta = readMetadata(document.metadata, context);
	collector.subject = `${kind} ${meta.namespace}/${meta.name || '(no name)'}`;
	const metadata = isRecord(document.metadata) ? document.metadata : {};
	const spec = document.spec === undefined ? {} : document.spec;
	if (!isRecord(spec)) {
		collector.error('schema', ['spec'], 'spec: Invalid value: must be an object');
	}

	return {
		name: meta.name,
		namespace: meta.namespace,
		labels: stringMap(metadata.labels),
		annotations: stringMap(metadata.annotations),
		creationTimestamp: meta.creationTimestamp,
		spec: isRecord(spec) ? spec : {},
	};
}

/** The resource from its envelope and validated spec. */
export function configResource<Kind extends string, Spec>(kind: Kind, group: string, envelope: Envelope, spec: Spec, context: ConfigValidationContext): ConfigResource<Kind, Spec> {
	return {
		kind,
		group,
		name: envelope.name,
		namespace: envelope.namespace,
		labels: envelope.labels,
		annotations: envelope.annotations,
		creationTimestamp: envelope.creationTimestamp,
		origin: context.origin,
		spec,
	};
}

function stringMap(value: unknown): Record<string, string> {
	if (!isRecord(value)) {
		return {};
	}

	return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
