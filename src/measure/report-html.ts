/**
 * STUB (replaced at merge by the report engineer's version, worktree wt-report): a minimal self-contained page
 * so that measure's report writing compiles and runs.
 */
import type { MeasureResult } from './result.ts';

export function renderMeasureReport(result: MeasureResult): string {
	const json = JSON.stringify(result, null, 2).replaceAll('<', '\\u003c');
	return `<!doctype html><html><head><meta charset="utf-8"><title>meshbox measure</title></head><body><h1>meshbox measure</h1><pre>${json.replaceAll('&', '&amp;').replaceAll('<', '&lt;')}</pre></body></html>\n`;
}
