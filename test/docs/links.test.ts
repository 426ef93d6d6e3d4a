/**
 * The README and the docs pages link to each other's sections (the reference moved out of the README into
 * docs/, issue #24 item 7): every relative link names a file that exists and, with `#anchor`, a heading (or an
 * `<a id>`) of that file, by GitHub's anchor rule. A moved or renamed section then fails here, naming the link.
 */
import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { repoRoot } from '../helpers/paths.ts';

/** GitHub's heading anchor: lower case, punctuation but `-` and `_` dropped, each space a `-`. */
export function githubAnchor(heading: string): string {
	return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\p{M}_\- ]/gu, '').replaceAll(' ', '-');
}

/** The lines of a Markdown text outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): Array<{ line: number; text: string }> {
	const out: Array<{ line: number; text: string }> = [];
	let fence: string | undefined;
	markdown.split('\n').forEach((text, index) => {
		const open = /^\s*(`{3,})/.exec(text);
		if (open) {
			fence = fence === undefined ? open[1] : text.trim() === fence ? undefined : fence;
			return;
		}

		if (fence === undefined) {
			out.push({ line: index + 1, text });
		}
	});
	return out;
}

async function anchorsOf(file: string): Promise<Set<string>> {
	const anchors = new Set<string>();
	for (const { text } of proseLines(await readFile(file, 'utf8'))) {
		const heading = /^#{1,6} (.*)$/.exec(text);
		if (heading) {
			anchors.add(githubAnchor(heading[1]!));
		}

		for (const id of text.matchAll(/<a id="([^"]+)"/g)) {
			anchors.add(id[1]!);
		}
	}

	return anchors;
}

/** Every broken relative link of the given Markdown files, as `FILE:LINE: [label](target): why`. */
export async function brokenLinks(files: string[]): Promise<string[]> {
	const broken: string[] = [];
	const cache = new Map<string, Set<string>>();
	for (const file of files) {
		for (const { line, text } of proseLines(await readFile(file, 'utf8'))) {
			// Inline code is not a link (`[a](b)` in backticks shows as written).
			const prose = text.replace(/`[^`]*`/g, '');
			for (const [link, , target = ''] of prose.matchAll(/\[([^\]]+)\]\(([^)\s]+)\)/g)) {
				if (/^(https?:|mailto:)/.test(target)) {
					continue;
				}

				const [pathPart = '', anchor] = target.split('#', 2);
				const destination = pathPart === '' ? file : path.resolve(path.dirname(file), pathPart);
				const where = `${path.relative(repoRoot, file)}:${line}: ${link}`;
				if (!existsSync(destination)) {
					broken.push(`${where}: no file ${path.relative(repoRoot, destination)}`);
					continue;
				}

				if (anchor && destination.endsWith('.md')) {
					const anchors = cache.get(destination) ?? await anchorsOf(destination);
					cache.set(destination, anchors);
					if (!anchors.has(anchor)) {
						broken.push(`${where}: ${path.relative(repoRoot, destination)} has no heading #${anchor}`);
					}
				}
			}
		}
	}

	return broken;
}

test('every relative link of README.md and docs/*.md reaches its file and heading', async t => {
	const docs = (await readdir(path.join(repoRoot, 'docs'))).filter(name => name.endsWith('.md')).map(name => path.join(repoRoot, 'docs', name));
	t.true(docs.length >= 8, 'the reference pages are in docs/');
	const broken = await brokenLinks([path.join(repoRoot, 'README.md'), ...docs]);
	t.deepEqual(broken, [], broken.join('\n'));
});

test('githubAnchor: headings with code, punctuation and slashes become GitHub\'s anchors', t => {
	t.is(githubAnchor('Hot reload: `meshbox up --watch`'), 'hot-reload-meshbox-up---watch');
	t.is(githubAnchor('Warm Envoys: suites with many sandboxes / big plugins'), 'warm-envoys-suites-with-many-sandboxes--big-plugins');
	t.is(githubAnchor('From your plugin\'s own repository'), 'from-your-plugins-own-repository');
	t.is(githubAnchor('What it costs: `npm run bench`'), 'what-it-costs-npm-run-bench');
});
