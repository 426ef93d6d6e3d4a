/**
 * How `message` in a log filter (`box.logs()`, `box.waitForLog()`, `box.envoyLogs()`, `assertLogged()`) is
 * matched. A plain string is a substring, as it always was; a substring can hide a real difference (`status 20`
 * is in `status 200` and `status 201`), so `{ exact }` and a RegExp say precisely what is meant.
 */
import { MeshboxError } from '../errors.ts';

/** A substring of the message (a string), the whole message (`{ exact }`), or a pattern it matches (a RegExp). */
export type MessageMatch = string | { readonly exact: string } | RegExp;

/** Whether `text` matches `expected`; no `expected` matches everything. */
export function matchesMessage(text: string, expected: MessageMatch | undefined): boolean {
	if (expected === undefined) {
		return true;
	}

	if (typeof expected === 'string') {
		return text.includes(expected);
	}

	// search() ignores a /g or /y pattern's lastIndex: test() would carry it from one entry to the next and skip matches.
	return expected instanceof RegExp ? text.search(expected) >= 0 : text === expected.exact;
}

/**
 * Throws USAGE when `message` is none of the three forms (a JavaScript caller's `{ contains: 'x' }` or
 * `{ exact: 5 }` would otherwise match nothing, silently). `where` names the call, e.g. `box.logs()`.
 */
export function checkMessageMatch(message: unknown, where: string): asserts message is MessageMatch | undefined {
	if (message === undefined || typeof message === 'string' || message instanceof RegExp) {
		return;
	}

	if (typeof message === 'object' && message !== null && typeof (message as { exact?: unknown }).exact === 'string' && Object.keys(message).length === 1) {
		return;
	}

	throw new MeshboxError('USAGE', `${where}: filter.message must be a string (a substring of the message), { exact: string } (the whole message) or a RegExp; got ${describeValue(message)}`,
		'e.g. { message: \'Received request\' }, { message: { exact: \'Received request for: a.example /\' } } or { message: /^Received request for: \\S+ \\/$/ }');
}

/** A message filter as people read it: `"text"` (substring), `{ exact: "text" }`, `/pattern/`. */
export function describeMessageMatch(message: MessageMatch): string {
	if (typeof message === 'string') {
		return `${JSON.stringify(message)} (substring)`;
	}

	return message instanceof RegExp ? message.toString() : `{ exact: ${JSON.stringify(message.exact)} }`;
}

function describeValue(value: unknown): string {
	try {
		return JSON.stringify(value) ?? String(value);
	} catch {
		return String(value);
	}
}
