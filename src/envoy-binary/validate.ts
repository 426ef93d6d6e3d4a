/**
 * `envoy --mode validate`: Envoy parses the bootstrap and loads, starts and configures every Wasm plugin,
 * without binding ports or serving traffic. Used by `meshbox render --validate` and by the tests that keep
 * every generated config honest.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { envoyLogFormat } from '../envoy-admin/logs.ts';

export type ValidationResult = {
	readonly ok: boolean;
	/** Envoy's output (its log, with the verdict at the end). */
	readonly output: string;
};

export async function validateBootstrap(envoyPath: string, bootstrapYaml: string): Promise<ValidationResult> {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-validate-'));
	try {
		const file = path.join(dir, 'envoy.yaml');
		await writeFile(file, bootstrapYaml);
		const result = await execa(envoyPath, ['--mode', 'validate', '--config-path', file, '--disable-hot-restart', '--log-format', envoyLogFormat, '--log-level', 'warning'], {
			reject: false,
			all: true,
			timeout: 60_000,
		});
		return { ok: result.exitCode === 0, output: result.all ?? '' };
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}
