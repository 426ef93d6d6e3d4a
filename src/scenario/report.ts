/**
 * Debug reports: what a failing scenario's sandbox looked like, written to a directory so CI keeps more than
 * the assertion message. Five artifacts, each one file:
 *   bootstrap.yaml    the bootstrap Envoy started with
 *   config_dump.json  admin /config_dump: what Envoy really ran (listeners, clusters, plugins pushed over xDS)
 *   stats.txt         admin /stats
 *   plugin-logs.txt   every plugin log entry
 *   envoy.log         Envoy's own log entries
 * After Envoy exited, the two admin files say so instead (the logs are still there: they were captured).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pluginLabel, type EnvoyLogEntry, type PluginLogEntry } from '../envoy/logs.ts';

/** What a report reads from a sandbox (a `Sandbox` has all of it). */
export type ReportSource = {
	readonly bootstrapYaml: string;
	readonly adminUrl: string;
	logs(): Promise<readonly PluginLogEntry[]>;
	envoyLogs(): Promise<readonly EnvoyLogEntry[]>;
};

/** Where reports go: `MESHBOX_REPORTS_DIR`, else `.meshbox/reports` under the working directory. */
const reportsDirVariable = 'MESHBOX_REPORTS_DIR';

export const reportFiles = ['bootstrap.yaml', 'config_dump.json', 'stats.txt', 'plugin-logs.txt', 'envoy.log'] as const;

function reportsRoot(env: NodeJS.ProcessEnv = process.env): string {
	return path.resolve(env[reportsDirVariable] || path.join('.meshbox', 'reports'));
}

/** The report directory of a test: its title made a file name (`[local] the plugin answers` → `local-the-plugin-answers`). */
export function reportDirFor(title: string, env: NodeJS.ProcessEnv = process.env): string {
	const name = title.normalize('NFKD').replaceAll(/[^\w.-]+/g, '-').replaceAll(/^-+|-+$/g, '').slice(0, 120) || 'untitled';
	return path.join(reportsRoot(env), name);
}

/** Writes the five artifacts of `box` into `dir` (created; an earlier report there is replaced). Returns `dir`. */
export async function writeSandboxReport(box: ReportSource, dir: string): Promise<string> {
	await rm(dir, { recursive: true, force: true });
	await mkdir(dir, { recursive: true });
	const [configDump, stats, pluginLogs, envoyLogs] = await Promise.all([
		adminText(box, '/config_dump?include_eds'),
		adminText(box, '/stats'),
		box.logs().then(entries => entries.map(entry => `[${entry.time}] ${entry.level} ${pluginLabel(entry)} (${entry.context}): ${entry.message}`), failure),
		box.envoyLogs().then(entries => entries.map(entry => `[${entry.time}][${entry.thread}][${entry.level}][${entry.logger}] [${entry.source}] ${entry.message}`), failure),
	]);
	await Promise.all([
		writeFile(path.join(dir, 'bootstrap.yaml'), box.bootstrapYaml),
		writeFile(path.join(dir, 'config_dump.json'), configDump),
		writeFile(path.join(dir, 'stats.txt'), stats),
		writeFile(path.join(dir, 'plugin-logs.txt'), lines(pluginLogs)),
		writeFile(path.join(dir, 'envoy.log'), lines(envoyLogs)),
	]);
	return dir;
}

async function adminText(box: ReportSource, request: string): Promise<string> {
	try {
		const response = await fetch(new URL(request, box.adminUrl), { signal: AbortSignal.timeout(5000) });
		return await response.text();
	} catch (error) {
		// Envoy is gone (it exited, which may be why the scenario failed): say so in the file rather than leave it out.
		return `meshbox: Envoy's admin did not answer ${request}: ${(error as Error).message}\n`;
	}
}

function failure(error: unknown): string[] {
	return [`meshbox: could not read the log: ${(error as Error).message}`];
}

function lines(entries: readonly string[]): string {
	return entries.length === 0 ? '' : `${entries.join('\n')}\n`;
}
