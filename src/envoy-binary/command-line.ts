/**
 * The arguments meshbox starts Envoy with, the same on every runtime.
 */
import type { EnvoyModel } from '../config/model.ts';
import { envoyLogFormat } from '../envoy-admin/logs.ts';

export function envoyArguments(envoy: EnvoyModel, bootstrapPath: string): string[] {
	return ['--config-path', bootstrapPath, ...envoyOptions(envoy)];
}

/** The arguments but the bootstrap's path: what two Envoys of one model share. */
export function envoyOptions(envoy: EnvoyModel): string[] {
	const components = Object.entries(envoy.componentLogLevels).map(([logger, level]) => `${logger}:${level}`);
	// The admin logger stays at info at least: meshbox reads its "change log level" line as a log barrier.
	if (!Object.hasOwn(envoy.componentLogLevels, 'admin')) {
		components.push('admin:info');
	}

	return [
		'--log-level', envoy.logLevel,
		'--component-log-level', components.join(','),
		'--log-format', envoyLogFormat,
		'--concurrency', String(envoy.concurrency),
		// Hot restart needs shared memory keyed by --base-id; several sandboxes on one machine would collide.
		'--disable-hot-restart',
	];
}
