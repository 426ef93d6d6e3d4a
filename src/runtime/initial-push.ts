/**
 * The first xDS push of a sandbox (its listener, clusters and plugins) is part of starting it: Envoy must
 * have accepted all of it before the sandbox is handed out. Envoy refusing a resource (a plugin whose
 * on_configure returns false, say) does not stop Envoy, so it is turned into the same start-up error a
 * static bootstrap gives, with the plugin's own log lines.
 */
import type { EnvoyAdmin } from '../envoy/admin.ts';
import { explainStartupFailure } from '../envoy/startup-failure.ts';
import type { PushResult } from '../xds/control-plane.ts';
import type { LogBuffer } from './log-buffer.ts';
import type { ExitInfo } from './ready.ts';

export type InitialPush = {
	readonly push: Promise<PushResult>;
	readonly exited: Promise<ExitInfo>;
	readonly admin: EnvoyAdmin;
	readonly logs: LogBuffer;
};

export async function settleInitialPush({ push, exited, admin, logs }: InitialPush): Promise<void> {
	const outcome = await Promise.race([push, exited.then(exit => ({ exit }))]);
	if ('exit' in outcome) {
		throw explainStartupFailure({ entries: logs.entries, pluginEntries: logs.pluginEntries, tail: logs.tail(30), exitCode: outcome.exit.exitCode });
	}

	if (outcome.rejections.length > 0) {
		// The plugin's own lines were written before Envoy sent its NACK: read Envoy's log up to now first.
		await logs.sync(admin).catch(() => undefined);
		throw explainStartupFailure({
			entries: logs.entries,
			pluginEntries: logs.pluginEntries,
			tail: logs.tail(30),
			exitCode: undefined,
			rejected: outcome.rejections.map(rejection => rejection.message),
		});
	}
}
