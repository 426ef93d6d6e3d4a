/**
 * Envoy exited (or never became ready) during start-up: turn its log into one MeshboxError that says why.
 *
 * Envoy rejects a static bootstrap whose Wasm plugin fails to load, start or configure: it logs the
 * plugin's own messages, then `Wasm VM failed …` (wasm logger) and a critical `error initializing
 * config '…': Unable to create Wasm plugin <name>` (main logger), and exits with status 1
 * (source/extensions/common/wasm/wasm.cc, source/server/server.cc). Served over xDS instead, the same plugin
 * makes Envoy refuse (NACK) the extension config with `Unable to create Wasm plugin <name>` and keep running
 * (source/extensions/config_subscription/grpc/grpc_subscription_impl.cc): explained the same way.
 */
import { MeshboxError } from '../errors.ts';
import { pluginLabel, type EnvoyLogEntry, type PluginLogEntry } from '../envoy-admin/logs.ts';

export type StartupFailureInput = {
	readonly entries: readonly EnvoyLogEntry[];
	readonly pluginEntries: readonly PluginLogEntry[];
	/** The last raw lines, for failures that did not log in Envoy's format (a crash, a bad flag). */
	readonly tail: readonly string[];
	readonly exitCode: number | undefined;
	/** Set when Envoy was still running but not ready when meshbox gave up. */
	readonly timedOutAfterMs?: number;
	/** Envoy's reasons for refusing resources of the first xDS push (NACKs); Envoy itself keeps running. */
	readonly rejected?: readonly string[];
};

export function explainStartupFailure(input: StartupFailureInput): MeshboxError {
	const problems = input.entries.filter(entry => entry.level === 'critical' || entry.level === 'error');
	const pluginProblems = input.pluginEntries.filter(entry => entry.level === 'warn' || entry.level === 'error' || entry.level === 'critical');
	const details = [
		...pluginProblems.map(entry => `plugin ${pluginLabel(entry)} [${entry.level}] ${entry.message}`),
		...problems.map(entry => `envoy [${entry.level}][${entry.logger}] ${firstLine(entry.message)}`),
		...(input.rejected ?? []).map(message => `envoy NACK: ${firstLine(message)}`),
	];
	const everything = [...problems.map(entry => entry.message), ...(input.rejected ?? [])].join('\n');

	const bind = /cannot bind '([^']+)': (.+)/.exec(everything);
	if (bind) {
		return new MeshboxError('PORT_IN_USE', `Envoy cannot listen on ${bind[1]}: ${bind[2]}`,
			'choose another port (--port / --admin-port, or 0 for any free one), or stop what is using it', details);
	}

	const wasmPlugin = /Unable to create Wasm (?:HTTP filter|plugin) ?([^\s`']*)/.exec(everything);
	if (wasmPlugin) {
		const name = wasmPlugin[1] ? ` "${wasmPlugin[1]}"` : '';
		// The refused plugin's own last complaint first: a line no plugin of the sandbox claims ("plugin ?", e.g.
		// a VM of an earlier sandbox on the same warm Envoy being torn down) must not stand in for its reason.
		const own = wasmPlugin[1] ? pluginProblems.filter(entry => entry.plugin === wasmPlugin[1]) : [];
		const reason = (own.at(-1) ?? pluginProblems.at(-1))?.message ?? wasmVmReason(problems);
		return new MeshboxError('ENVOY_REJECTED_CONFIG',
			`Envoy refused to load plugin${name}${reason ? `: ${reason}` : ''}`,
			'a plugin whose on_vm_start or on_configure returns false (or that fails to load) stops Envoy from starting; check the plugin\'s configuration and the lines above',
			details);
	}

	const rejected = problems.find(entry => /error initializing config|Unable to parse|Proto constraint validation failed|INVALID_ARGUMENT/.test(entry.message));
	if (rejected) {
		return new MeshboxError('ENVOY_REJECTED_CONFIG', `Envoy rejected the configuration: ${firstLine(rejected.message)}`,
			'run `meshbox render` to see the bootstrap meshbox generated', details);
	}

	if (input.timedOutAfterMs !== undefined) {
		return new MeshboxError('ENVOY_START_FAILED', `Envoy did not become ready within ${Math.round(input.timedOutAfterMs / 1000)} s`,
			'the machine may be overloaded, or a plugin blocks start-up; the last lines of Envoy\'s log follow',
			details.length > 0 ? details : input.tail.slice(-15));
	}

	return new MeshboxError('ENVOY_EXITED', `Envoy exited during start-up${input.exitCode === undefined ? '' : ` with status ${input.exitCode}`}`,
		'the last lines of Envoy\'s log follow', details.length > 0 ? details : input.tail.slice(-15));
}

/**
 * Envoy's line saying that its listener `name` could not start listening, or undefined. Envoy binds a listener's
 * port when it accepts the listener (LDS: refused there, with a NACK, when the port is taken) and listens later.
 * SO_REUSEADDR lets a second socket bind a port that nobody listens on yet, so two Envoys starting at once may
 * both accept a listener on one port; the second's listen() then fails, and Envoy logs this line and drops the
 * listener, without a NACK (doFinalPreWorkerListenerInit, source/common/listener_manager/listener_manager_impl.cc).
 */
export function listenFailure(entry: EnvoyLogEntry, name: string): { readonly line: string; readonly inUse: boolean } | undefined {
	if (!entry.message.startsWith(`final pre-worker listener init for listener '${name}' failed`)) {
		return undefined;
	}

	const line = firstLine(entry.message);
	// errno 98 is EADDRINUSE on Linux, the only system Envoy's binary comes for here.
	return { line, inUse: /errno=98\b|Address already in use/.test(line) };
}

function wasmVmReason(problems: readonly EnvoyLogEntry[]): string | undefined {
	const vmFailure = problems.find(entry => entry.logger === 'wasm');
	return vmFailure ? firstLine(vmFailure.message) : undefined;
}

function firstLine(text: string): string {
	return text.split('\n')[0] ?? '';
}
