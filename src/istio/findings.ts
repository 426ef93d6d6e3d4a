/**
 * What `meshbox check` reports and what the sandbox refuses to start with: one finding per problem, each
 * with where it is (file:line:col), the field, Istio's own reason, and what to do.
 */
import { closest, describeValue, formatPath, type FieldPath, type Locator } from '../config/fields.ts';
import { MeshboxError } from '../errors.ts';
import { redactText } from './redact.ts';

export type Severity = 'error' | 'warning' | 'note';

/**
 * Which part of a real cluster would say so: the API server (CRD schema, incl. CEL rules), istiod's
 * validating webhook (pkg/config/validation/validation.go), istiod at translation time, or meshbox itself
 * (constructs that are not Istio API at all).
 */
export type Checker = 'schema' | 'webhook' | 'istiod' | 'meshbox';

export type Finding = {
	readonly severity: Severity;
	/** `file:line:col`, or the file alone. */
	readonly where: string;
	/** `WasmPlugin default/my-plugin` */
	readonly subject: string;
	/** `spec.sha256`; empty for the whole document. */
	readonly field: string;
	readonly message: string;
	readonly hint?: string;
	readonly checker: Checker;
	/** A suggested replacement (YAML text), shown under the finding. */
	readonly suggestion?: string;
};

export function formatFinding(finding: Finding): string {
	const field = finding.field ? `${finding.field}: ` : '';
	const lines = [`${finding.where}: ${finding.severity}: ${finding.subject}: ${field}${finding.message}  [${finding.checker}]`];
	if (finding.hint) {
		lines.push(`  → ${finding.hint}`);
	}

	if (finding.suggestion) {
		lines.push(...finding.suggestion.trimEnd().split('\n').map(line => `    ${line}`));
	}

	return lines.join('\n');
}

/** Collects findings for one document; field readers return undefined after recording an error. */
export class FindingCollector {
	readonly findings: Finding[] = [];

	constructor(private readonly locate: Locator, private readonly fileLabel: string, public subject: string) {}

	add(severity: Severity, checker: Checker, path: FieldPath, message: string, hint?: string, suggestion?: string): void {
		this.findings.push({
			severity,
			checker,
			where: this.locate(path) ?? this.fileLabel,
			subject: this.subject,
			field: path.length > 0 ? formatPath(path) : '',
			// Istio's messages quote the URL; credentials in it are not repeated (redact.ts).
			message: redactText(message),
			...(hint ? { hint: redactText(hint) } : {}),
			...(suggestion ? { suggestion } : {}),
		});
	}

	error(checker: Checker, path: FieldPath, message: string, hint?: string): void {
		this.add('error', checker, path, message, hint);
	}

	warning(checker: Checker, path: FieldPath, message: string, hint?: string): void {
		this.add('warning', checker, path, message, hint);
	}

	get hasErrors(): boolean {
		return this.findings.some(finding => finding.severity === 'error');
	}

	/**
	 * Unknown fields: the API server's strict field validation (kubectl's default) rejects them,
	 * `strict decoding error: unknown field "spec.x"`; meshbox also names the nearest valid field.
	 */
	checkFields(value: Record<string, unknown>, path: FieldPath, allowed: readonly string[]): void {
		for (const key of Object.keys(value)) {
			if (!allowed.includes(key)) {
				const nearest = closest(key, allowed);
				this.error('schema', [...path, key], `unknown field "${formatPath([...path, key])}"`,
					nearest ? `did you mean "${nearest}"? Valid fields here: ${allowed.join(', ')}` : `valid fields here: ${allowed.join(', ')}`);
			}
		}
	}

	string(value: unknown, path: FieldPath): string | undefined {
		if (value === undefined || value === null) {
			return undefined;
		}

		if (typeof value !== 'string') {
			this.error('schema', path, `Invalid value: ${describeValue(value)}: must be a string`);
			return undefined;
		}

		return value;
	}

	enumValue<T extends string>(value: unknown, path: FieldPath, choices: readonly T[]): T | undefined {
		if (value === undefined || value === null) {
			return undefined;
		}

		if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
			const nearest = typeof value === 'string' ? closest(value, choices) : undefined;
			// The CRD declares enums as strings with an `enum:` list; the API server's wording follows.
			this.error('schema', path, `Unsupported value: ${typeof value === 'string' ? JSON.stringify(value) : describeValue(value)}: supported values: ${choices.map(choice => `"${choice}"`).join(', ')}`,
				nearest ? `did you mean "${nearest}"?` : undefined);
			return undefined;
		}

		return value as T;
	}
}

/** One MeshboxError for all the errors, listing every one (the sandbox refuses to start on any). */
export function findingsError(findings: readonly Finding[]): MeshboxError {
	const errors = findings.filter(finding => finding.severity === 'error');
	const [first, ...rest] = errors;
	if (!first) {
		return new MeshboxError('CONFIG_INVALID', 'no errors');
	}

	return new MeshboxError('CONFIG_INVALID',
		`${first.where}: ${first.subject}: ${first.field ? `${first.field}: ` : ''}${first.message}${rest.length > 0 ? ` (and ${rest.length} more)` : ''}`,
		first.hint ?? 'run `meshbox check FILE` for every problem with explanations',
		rest.map(finding => formatFinding(finding)));
}
