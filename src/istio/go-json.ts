/**
 * pluginConfig → the JSON text istiod hands the plugin: `protomarshal.ToJSON` of a google.protobuf.Struct
 * (pilot/pkg/model/extensions.go). Compact, object keys sorted at every level, numbers printed as Go prints a
 * float64 (every Struct number is a double), strings escaped as Go's encoding/json does (`<`, `>`, `&`,
 * U+2028 and U+2029 as \u escapes). NaN and infinities cannot be encoded: istiod then drops the plugin.
 */

export class GoJsonError extends Error {}

export function goJson(value: unknown): string {
	if (value === null || value === undefined) {
		return 'null';
	}

	if (typeof value === 'boolean') {
		return value ? 'true' : 'false';
	}

	if (typeof value === 'number') {
		if (!Number.isFinite(value)) {
			throw new GoJsonError(`json: unsupported value: ${Number.isNaN(value) ? 'NaN' : (value > 0 ? '+Inf' : '-Inf')}`);
		}

		// Go's 'f'/'e' switch points (1e-6, 1e21) and shortest round-trip digits match JavaScript's; Go
		// writes a negative zero as -0.
		return Object.is(value, -0) ? '-0' : String(value);
	}

	if (typeof value === 'bigint') {
		return String(Number(value));
	}

	if (typeof value === 'string') {
		return goString(value);
	}

	if (value instanceof Date) {
		return goString(value.toISOString());
	}

	if (Array.isArray(value)) {
		return `[${value.map(entry => goJson(entry)).join(',')}]`;
	}

	if (typeof value === 'object') {
		const entries = Object.entries(value as Record<string, unknown>)
			.sort(([a], [b]) => compareBytes(a, b));
		return `{${entries.map(([key, entry]) => `${goString(key)}:${goJson(entry)}`).join(',')}}`;
	}

	throw new GoJsonError(`json: unsupported type: ${typeof value}`);
}

/** Go sorts map keys as byte strings (UTF-8), not UTF-16 code units. */
function compareBytes(a: string, b: string): number {
	return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function goString(text: string): string {
	let out = '"';
	for (const char of text) {
		const code = char.codePointAt(0)!;
		switch (char) {
			case '"': { out += '\\"'; break; }
			case '\\': { out += '\\\\'; break; }
			case '\n': { out += '\\n'; break; }
			case '\r': { out += '\\r'; break; }
			case '\t': { out += '\\t'; break; }
			case '\b': { out += '\\b'; break; }
			case '\f': { out += '\\f'; break; }
			case '<': case '>': case '&': case '\u2028': case '\u2029': {
				out += `\\u${code.toString(16).padStart(4, '0')}`;
				break;
			}

			default: {
				out += code < 0x20 ? `\\u${code.toString(16).padStart(4, '0')}` : (code >= 0xD800 && code <= 0xDFFF ? '\ufffd' : char);
			}
		}
	}

	return `${out}"`;
}
