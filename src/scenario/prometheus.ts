/**
 * Envoy's `/stats/prometheus` text (Prometheus exposition format 0.0.4) → one entry per series, for
 * `box.prometheus()`: tagged series (Envoy's tag extraction, `stats.tags`) can then be asserted by their labels.
 */

export type PrometheusSeries = {
	/** The series' name: `envoy_http_downstream_rq_total`, a plugin metric's own name, `…_bucket` for a histogram's buckets. */
	readonly name: string;
	/** Its labels (a histogram bucket's `le` too). */
	readonly labels: Readonly<Record<string, string>>;
	readonly value: number;
	/** From the `# TYPE` line of its family (`untyped` when none). */
	readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
};

const samplePattern = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const labelPattern = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

export function parsePrometheus(text: string): PrometheusSeries[] {
	const types = new Map<string, PrometheusSeries['type']>();
	const series: PrometheusSeries[] = [];
	for (const line of text.split('\n')) {
		const type = /^# TYPE (\S+) (\w+)/.exec(line);
		if (type) {
			types.set(type[1]!, type[2] as PrometheusSeries['type']);
			continue;
		}

		const sample = line.startsWith('#') ? null : samplePattern.exec(line.trim());
		if (!sample) {
			continue;
		}

		const [, name, labelText = '', value] = sample;
		const labels: Record<string, string> = {};
		labelPattern.lastIndex = 0;
		for (let match = labelPattern.exec(labelText); match; match = labelPattern.exec(labelText)) {
			labels[match[1]!] = match[2]!.replaceAll(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped));
		}

		const family = name!.replace(/_(bucket|sum|count)$/, '');
		series.push({ name: name!, labels, value: Number(value), type: types.get(name!) ?? types.get(family) ?? 'untyped' });
	}

	return series;
}

/** The series whose name starts with `name` (a string) or matches it (a pattern); all without one. */
export function filterSeries(series: readonly PrometheusSeries[], name: string | RegExp | undefined): PrometheusSeries[] {
	if (name === undefined) {
		return [...series];
	}

	return series.filter(entry => (typeof name === 'string' ? entry.name.startsWith(name) : name.test(entry.name)));
}
