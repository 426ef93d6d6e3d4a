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
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pluginLabel, type EnvoyLogEntry, type PluginLogEntry } from '../envoy-admin/logs.ts';
import { MeshboxError } from '../errors.ts';

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

/** The directory every test's report goes under (absolute). */
export function reportsRoot(env: NodeJS.ProcessEnv = process.env): string {
	return path.resolve(env[reportsDirVariable] || path.join('.meshbox', 'reports'));
}

/** How much of a title a report directory's name keeps (the name stays far below 255 bytes with its hash). */
const maxNameLength = 100;

/**
 * The report directory of a test: its title made a file name, always one directory directly inside the reports
 * root. `[local] the plugin answers` → `local-the-plugin-answers-<hash>`: a title that does not survive as it is
 * (other characters than letters, digits, `_`, `.` and `-`, leading dots, over 100 characters) gets 12 hex digits
 * of its SHA-256, so two titles equal once made file names (`a?` and `a!`) keep reports of their own, and `.`,
 * `..`, `/` or an absolute path can never name the root, its parent or anything outside it.
 */
export function reportDirFor(title: string, env: NodeJS.ProcessEnv = process.env): string {
	const readable = title.normalize('NFKD').replaceAll(/[^\w.-]+/g, '-').slice(0, maxNameLength).replaceAll(/^[.-]+|[.-]+$/g, '');
	// A title that looks like a name this made (`x-<12 hex>`) is hashed too: it cannot take another title's name.
	const kept = readable !== '' && readable === title && !/-[\da-f]{12}$/.test(title);
	const name = kept ? readable : `${readable || 'untitled'}-${createHash('sha256').update(title).digest('hex').slice(0, 12)}`;
	return path.join(reportsRoot(env), name);
}

/**
 * Removes a test's older report: `dir` only when it is a directory directly inside the reports root (what
 * reportDirFor returns), never the root, its parent or anything else, whatever `dir` says (a second guard
 * behind reportDirFor's: a passing test titled `..` once removed the working directory).
 */
export async function removeReportDir(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
	const root = reportsRoot(env);
	const resolved = path.resolve(dir);
	const name = path.basename(resolved);
	if (path.dirname(resolved) !== root || name === '' || name === '.' || name === '..') {
		throw new MeshboxError('USAGE', `refusing to remove ${resolved}: a test's report directory is one directory directly inside the reports root ${root}`,
			`pass a directory reportDirFor(title) returned, or set ${reportsDirVariable} to the directory reports go under`);
	}

	await rm(resolved, { recursive: true, force: true });
}

/**
 * Writes the five artifacts of `box` into `dir` (created; an earlier report's files there are overwritten). Returns
 * `dir`. Nothing else in `dir` is touched: it may be any directory a caller names (`box.writeReport('.')`).
 */
export async function writeSandboxReport(box: ReportSource, dir: string): Promise<string> {
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
