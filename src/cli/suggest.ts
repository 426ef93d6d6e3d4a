/**
 * "Did you mean …?" for a mistyped command or flag: the known name closest to what was typed, when it is close
 * enough to be the likely intent (`rendr` → render, `--prot` → --port), and none otherwise (a wild guess is
 * worse than the plain list of what exists).
 */

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `rnedr` is 2 edits from `render`
 * (one swap, one insert), as a typist would count, where plain Levenshtein counts 3.
 */
export function editDistance(a: string, b: string): number {
	const rows = a.length + 1;
	const columns = b.length + 1;
	const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: columns }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
	for (let i = 1; i < rows; i++) {
		for (let j = 1; j < columns; j++) {
			const cost = a[i - 1] === b[j - 1] ? 0 : 1;
			let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
			if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
				best = Math.min(best, d[i - 2]![j - 2]! + 1);
			}

			d[i]![j] = best;
		}
	}

	return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `typed`: within 1 edit for short names, 2 for names of 5 or more characters (a third
 * of the name, as git's "did you mean" roughly allows), or one the typed text is a clear prefix of (`rend`).
 * Case is ignored (`Up`). Ties go to the earlier candidate.
 */
export function closestMatch(typed: string, candidates: readonly string[]): string | undefined {
	const input = typed.toLowerCase();
	let best: { name: string; distance: number } | undefined;
	for (const name of candidates) {
		const distance = editDistance(input, name.toLowerCase());
		const allowed = name.length >= 5 ? 2 : 1;
		if (distance <= allowed && (best === undefined || distance < best.distance)) {
			best = { name, distance };
		}
	}

	if (best) {
		return best.name;
	}

	const prefixed = candidates.filter(name => input.length >= 3 && name.toLowerCase().startsWith(input));
	return prefixed.length === 1 ? prefixed[0] : undefined;
}
