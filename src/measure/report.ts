/**
 * Writes a measurement where people and CI read it: `measure-report.html` (./report-html.ts draws it, one
 * self-contained page) and `measure-result.json` (the `MeasureResult`, as `--json` prints it).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderMeasureReport } from './report-html.ts';
import type { MeasureResult } from './result.ts';

export const defaultMeasureDir = path.join('.meshbox', 'measure');

export async function writeMeasureReport(result: MeasureResult, dir: string = defaultMeasureDir): Promise<{ html: string; json: string }> {
	await mkdir(dir, { recursive: true });
	const html = path.join(dir, 'measure-report.html');
	const json = path.join(dir, 'measure-result.json');
	await Promise.all([writeFile(html, renderMeasureReport(result)), writeFile(json, `${JSON.stringify(result, null, 2)}\n`)]);
	return { html, json };
}
