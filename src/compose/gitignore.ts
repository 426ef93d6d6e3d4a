/**
 * .gitignore patterns, for `meshbox up --watch` (./source-watch.ts): what git ignores is no build input, so it
 * is not watched. The rules are git's (gitignore(5); git's dir.c, `match_pathname` / `match_basename`):
 * - blank lines and `#` comments are skipped; `\#` and `\!` escape; trailing spaces are dropped unless escaped;
 * - `!` re-includes what an earlier pattern excluded (the last matching pattern wins, and a deeper .gitignore
 *   comes after the ones above it);
 * - a trailing `/` matches directories only;
 * - a pattern with a `/` at its start or in its middle is relative to the .gitignore's directory, one without
 *   matches a name at any depth below it;
 * - `*` and `?` match within one path segment, `[…]` a character class, `**` any number of segments
 *   (a leading `**` and a slash, a middle one between slashes, a trailing slash and `**`).
 * Not modelled: `.git/info/exclude` and `core.excludesFile` (a user's global ignores).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type IgnoreRule = { readonly negate: boolean; readonly directoryOnly: boolean; readonly regex: RegExp };

/** One .gitignore's rules and the directory its patterns are relative to. */
export type IgnoreFile = { readonly base: string; readonly rules: readonly IgnoreRule[] };

export function parseGitignore(text: string): IgnoreRule[] {
	const rules: IgnoreRule[] = [];
	for (const raw of text.split(/\r?\n/)) {
		let line = raw.replace(/(?<!\\)\s+$/, '');
		if (line === '' || line.startsWith('#')) {
			continue;
		}

		const negate = line.startsWith('!');
		if (negate) {
			line = line.slice(1);
		} else if (line.startsWith('\\!') || line.startsWith('\\#')) {
			line = line.slice(1);
		}

		const directoryOnly = line.endsWith('/');
		line = line.replace(/\/+$/, '');
		if (line === '') {
			continue;
		}

		// A slash before the last character anchors the pattern to the .gitignore's directory.
		const anchored = line.includes('/');
		line = line.replace(/^\//, '');
		const body = patternSource(line);
		rules.push({ negate, directoryOnly, regex: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`) });
	}

	return rules;
}

/** A glob's regular expression source (paths with `/` separators). */
function patternSource(glob: string): string {
	let source = '';
	for (let index = 0; index < glob.length; index++) {
		const char = glob[index]!;
		if (glob.startsWith('**/', index) && (index === 0 || glob[index - 1] === '/')) {
			source += '(?:.*/)?';
			index += 2;
		} else if (glob.startsWith('**', index) && index === glob.length - 2 && glob[index - 1] === '/') {
			source += '.*';
			index += 1;
		} else if (char === '*') {
			source += '[^/]*';
		} else if (char === '?') {
			source += '[^/]';
		} else if (char === '[') {
			const close = glob.indexOf(']', index + 2);
			if (close === -1) {
				source += '\\[';
				continue;
			}

			const inside = glob.slice(index + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
			source += `[${inside}]`;
			index = close;
		} else if (char === '\\' && index + 1 < glob.length) {
			source += escapeRegex(glob[index + 1]!);
			index += 1;
		} else {
			source += escapeRegex(char);
		}
	}

	return source;
}

function escapeRegex(text: string): string {
	return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The rules of `directory`'s .gitignore, or undefined when it has none. */
export function readGitignore(directory: string): IgnoreFile | undefined {
	let text: string;
	try {
		text = readFileSync(path.join(directory, '.gitignore'), 'utf8');
	} catch {
		return undefined;
	}

	return { base: directory, rules: parseGitignore(text) };
}

/**
 * Whether git would ignore `file` under these .gitignore files (outermost first): the last matching rule
 * decides, a deeper file's rules coming after its parents'.
 */
export function isIgnoredByGit(file: string, isDirectory: boolean, files: readonly IgnoreFile[]): boolean {
	let ignored = false;
	for (const { base, rules } of files) {
		const relative = path.relative(base, file).split(path.sep).join('/');
		if (relative === '' || relative.startsWith('..')) {
			continue;
		}

		for (const rule of rules) {
			if ((!rule.directoryOnly || isDirectory) && rule.regex.test(relative)) {
				ignored = !rule.negate;
			}
		}
	}

	return ignored;
}
