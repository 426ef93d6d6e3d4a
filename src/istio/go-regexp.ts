/**
 * Go's regexp (RE2 syntax) as istiod compiles an EnvoyFilter's `match.proxy.proxyVersion`
 * (pkg/config/validation/envoyfilter/envoyfilter.go: regexp.Compile; pilot/pkg/model/envoyfilter.go matches
 * with MatchString), translated to a JavaScript RegExp. The two syntaxes differ where it matters here: RE2
 * has named groups written `(?P<name>…)` (and, since Go 1.22, `(?<name>…)`), `\A` / `\z`, `\Q…\E` and POSIX
 * classes `[[:digit:]]`, and refuses what needs backtracking: lookaheads and lookbehinds, backreferences.
 * Refusals carry Go's own words (regexp/syntax/parse.go), e.g.
 * "error parsing regexp: invalid or unsupported Perl syntax: `(?!`".
 */

export type GoRegexp = { readonly regexp: RegExp; readonly error?: undefined } | { readonly regexp?: undefined; readonly error: string };

/** regexp/syntax perl_groups.go + posix_groups.go: the classes a pattern may name as `[:name:]`. */
const posixClasses: Readonly<Record<string, string>> = {
	alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F', digit: '0-9',
	graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-/:-@[-`{-~', space: '\\t\\n\\v\\f\\r ', upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

/** Go's regexp.Compile, then the same pattern as a JavaScript RegExp (undefined flags: none). */
export function compileGoRegexp(pattern: string): GoRegexp {
	const fail = (code: string, what: string): GoRegexp => ({ error: `error parsing regexp: ${code}: \`${what}\`` });
	let source = '';
	let flags = '';
	let index = 0;
	let inClass = false;
	// Leading flags `(?i)`, `(?s)`, `(?is)`: JavaScript has them only as RegExp flags.
	const leading = /^\(\?([imsU]+)\)/.exec(pattern);
	if (leading) {
		if (leading[1]!.includes('U')) {
			return { error: 'meshbox: the RE2 flag U (ungreedy) has no JavaScript equivalent; write the pattern without it' };
		}

		flags = [...new Set(leading[1]!)].join('');
		index = leading[0].length;
	}

	while (index < pattern.length) {
		const char = pattern[index]!;
		if (char === '\\') {
			const next = pattern[index + 1];
			if (next === undefined) {
				return fail('trailing backslash at end of expression', '');
			}

			if (/[1-9]/.test(next)) {
				return fail('invalid escape sequence', `\\${next}`);
			}

			if (next === 'A' && !inClass) {
				source += '^';
			} else if (next === 'z' && !inClass) {
				source += '$(?![\\s\\S])';
			} else if (next === 'Q') {
				const end = pattern.indexOf('\\E', index + 2);
				const literal = pattern.slice(index + 2, end < 0 ? undefined : end);
				source += literal.replaceAll(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
				index = end < 0 ? pattern.length : end + 2;
				continue;
			} else {
				source += `\\${next}`;
			}

			index += 2;
			continue;
		}

		if (inClass) {
			const posix = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(index));
			if (posix) {
				const members = posixClasses[posix[2]!];
				if (!members) {
					return fail('invalid character class range', posix[0]);
				}

				if (posix[1]) {
					return { error: `meshbox: a negated POSIX class inside a bracket (${posix[0]}) has no JavaScript equivalent; write the negated range instead` };
				}

				source += members;
				index += posix[0].length;
				continue;
			}

			if (char === ']') {
				inClass = false;
			}

			source += char;
			index++;
			continue;
		}

		if (char === '[') {
			inClass = true;
			source += char;
			index++;
			// A `]` right after `[` or `[^` is a literal in RE2.
			for (const lead of ['^', ']']) {
				if (pattern[index] === lead) {
					source += lead === ']' ? '\\]' : lead;
					index++;
				}
			}

			continue;
		}

		if (char === '(' && pattern[index + 1] === '?') {
			const rest = pattern.slice(index);
			const named = /^\(\?P?<([A-Za-z0-9_]+)>/.exec(rest);
			if (named) {
				source += `(?<${named[1]}>`;
				index += named[0].length;
				continue;
			}

			for (const lookaround of ['(?=', '(?!', '(?<=', '(?<!']) {
				if (rest.startsWith(lookaround)) {
					return fail('invalid or unsupported Perl syntax', lookaround);
				}
			}

			if (rest.startsWith('(?:')) {
				source += '(?:';
				index += 3;
				continue;
			}

			return { error: `meshbox: the RE2 group ${/^\(\?[^)]*\)?/.exec(rest)?.[0] ?? rest} is not translated to JavaScript; use (?:…) or leading flags such as (?i)` };
		}

		source += char;
		index++;
	}

	try {
		return { regexp: new RegExp(source, flags) };
	} catch (error) {
		// JavaScript's reason in RE2's words (regexp/syntax/parse.go ErrorCode) where they name the same fault.
		const reason = (error as Error).message;
		const goReason: Array<[RegExp, string, string]> = [
			[/Unterminated group/, 'missing closing )', pattern],
			[/Unmatched '\)'/, 'unexpected )', pattern],
			[/Unterminated character class/, 'missing closing ]', pattern.slice(pattern.lastIndexOf('['))],
			[/Nothing to repeat/, 'missing argument to repetition operator', /[*+?{]/.exec(pattern)?.[0] ?? pattern],
		];
		const known = goReason.find(([jsReason]) => jsReason.test(reason));
		return known ? fail(known[1], known[2]) : { error: `error parsing regexp: ${reason.replace(/^Invalid regular expression: /, '')}` };
	}
}
