/**
 * Small, typed readers for user-supplied objects, shared by every input format meshbox accepts.
 *
 * A `FieldPath` names a field (`plugins[0].wasm`); a `Locator` turns it into `file:line:col` when the
 * input came from a file. Every reader throws a MeshboxError('CONFIG_INVALID') that names the field,
 * where it is, what was expected and what was found.
 */
import { MeshboxError } from '../errors.ts';

export type FieldPath = ReadonlyArray<string | number>;

/** Where a field is, e.g. `meshbox.yaml:7:5`; undefined when the input did not come from a file. */
export type Locator = (path: FieldPath) => string | undefined;

export const noLocation: Locator = () => undefined;

export function formatPath(path: FieldPath): string {
	let text = '';
	for (const part of path) {
		text += typeof part === 'number' ? `[${part}]` : (text ? `.${part}` : part);
	}

	return text || '(top level)';
}

export function configError(locate: Locator, path: FieldPath, problem: string, hint?: string): MeshboxError {
	const where = locate(path);
	const field = formatPath(path);
	return new MeshboxError('CONFIG_INVALID', `${where ? `${where}: ` : ''}${field}: ${problem}`, hint);
}

export function describeValue(value: unknown): string {
	if (value === null) {
		return 'null';
	}

	if (Array.isArray(value)) {
		return 'a list';
	}

	if (typeof value === 'object') {
		return 'an object';
	}

	if (typeof value === 'string') {
		return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
	}

	return `${typeof value} ${String(value)}`;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks that `value` is an object whose keys are all in `allowed`; an unknown key names the closest allowed one. */
export function readObject(value: unknown, path: FieldPath, locate: Locator, allowed: readonly string[]): Record<string, unknown> {
	if (!isRecord(value)) {
		throw configError(locate, path, `expected an object, found ${describeValue(value)}`);
	}

	for (const key of Object.keys(value)) {
		if (!allowed.includes(key)) {
			const nearest = closest(key, allowed);
			throw configError(locate, [...path, key], 'unknown field',
				nearest ? `did you mean "${nearest}"? Valid fields here: ${allowed.join(', ')}` : `valid fields here: ${allowed.join(', ')}`);
		}
	}

	return value;
}

export function readString(value: unknown, path: FieldPath, locate: Locator): string {
	if (typeof value !== 'string') {
		throw configError(locate, path, `expected a string, found ${describeValue(value)}`);
	}

	return value;
}

export function readBoolean(value: unknown, path: FieldPath, locate: Locator): boolean {
	if (typeof value !== 'boolean') {
		throw configError(locate, path, `expected true or false, found ${describeValue(value)}`);
	}

	return value;
}

export function readPort(value: unknown, path: FieldPath, locate: Locator): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65_535) {
		throw configError(locate, path, `expected a port number from 0 to 65535 (0 = any free port), found ${describeValue(value)}`);
	}

	return value;
}

export function readInteger(value: unknown, path: FieldPath, locate: Locator, min: number, max: number): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
		throw configError(locate, path, `expected a whole number from ${min} to ${max}, found ${describeValue(value)}`);
	}

	return value;
}

export function readStringMap(value: unknown, path: FieldPath, locate: Locator): Record<string, string> {
	if (!isRecord(value)) {
		throw configError(locate, path, `expected a map of names to strings, found ${describeValue(value)}`);
	}

	const result: Record<string, string> = {};
	for (const [key, entry] of Object.entries(value)) {
		result[key] = readString(entry, [...path, key], locate);
	}

	return result;
}

export function readStringList(value: unknown, path: FieldPath, locate: Locator): string[] {
	if (!Array.isArray(value)) {
		throw configError(locate, path, `expected a list of strings, found ${describeValue(value)}`);
	}

	return value.map((entry, index) => readString(entry, [...path, index], locate));
}

export function readOneOf<T extends string>(value: unknown, path: FieldPath, locate: Locator, choices: readonly T[]): T {
	if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
		const nearest = typeof value === 'string' ? closest(value, choices) : undefined;
		throw configError(locate, path, `expected one of ${choices.join(', ')}, found ${describeValue(value)}`,
			nearest ? `did you mean "${nearest}"?` : undefined);
	}

	return value as T;
}

/** The candidate closest to `word` by edit distance, if it is close enough to be a plausible typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
	const lower = word.toLowerCase();
	const byPrefix = candidates.find(candidate => lower.length >= 3 && candidate.toLowerCase().startsWith(lower));
	if (byPrefix) {
		return byPrefix;
	}

	let best: string | undefined;
	let bestDistance = Number.POSITIVE_INFINITY;
	for (const candidate of candidates) {
		const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
		if (distance < bestDistance) {
			best = candidate;
			bestDistance = distance;
		}
	}

	return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
	let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
	for (let i = 1; i <= a.length; i++) {
		const current = [i];
		for (let j = 1; j <= b.length; j++) {
			const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
			current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
		}

		previous = current;
	}

	return previous[b.length]!;
}
