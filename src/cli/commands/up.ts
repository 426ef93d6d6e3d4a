/**
 * `meshbox up` (= `npm run sandbox`): start the sandbox, print where to send requests, stream the
 * plugins' logs until Ctrl+C / SIGTERM, then stop everything and exit 0.
 */
import { startRuntime } from '../../runtime/start.ts';
import { startSidecar } from '../../istio/start.ts';
import type { Command } from '../command.ts';
import { loadSandboxModel, parseCommandArgs, sandboxOptionSpec, sandboxOptionsHelp } from '../options.ts';
import type { PluginLogEntry } from '../../envoy/logs.ts';

export const defaultListenerPort = 10_000;

const usage = 'meshbox up [--config FILE] [--plugin FILE.wasm ...] [--port N] [--admin-port N] [--runtime local|docker] [--envoy-bin FILE] [--envoy-image IMAGE]';

export const upCommand: Command = {
	name: 'up',
	summary: 'start Envoy + the hello-world upstream with your plugins, and stream their logs',
	usage: [usage, '', ...sandboxOptionsHelp, '      --verbose         stream all of Envoy\'s log, not only the plugins\''].join('\n'),
	async run({ argv, out, err }) {
		const { values } = parseCommandArgs(argv, { ...sandboxOptionSpec, verbose: { type: 'boolean' } }, usage);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		const model = await loadSandboxModel(values, defaultListenerPort);
		// Signals that arrive while starting must not kill us before cleanup: remember them, act once started.
		let stopRequested: string | undefined;
		let wake: (() => void) | undefined;
		const onSignal = (signal: NodeJS.Signals) => {
			if (stopRequested) {
				// A second Ctrl+C while starting: leave now (execa's cleanup still kills Envoy on exit).
				process.exit(130);
			}

			stopRequested = signal;
			wake?.();
		};

		process.on('SIGINT', onSignal);
		process.on('SIGTERM', onSignal);
		try {
			const startWith = async (current: typeof model) => startRuntime(values.runtime, { model: current, envoyBin: values['envoy-bin'], envoyImage: values['envoy-image'], onProgress: err });
			// Istio sidecars (src/istio): restart past plugins Envoy refuses (a sidecar NACKs them), then say what Istio did.
			const running = model.sidecar ? await startSidecar(model, startWith).then(started => {
				for (const note of started.model.sidecar?.notes ?? []) {
					err(`meshbox: ${note}`);
				}

				if (started.model.envoy.logLevel === 'warning') {
					err('meshbox: Envoy runs at Istio\'s default log levels (warning, misc:error): plugin info/debug logs are hidden, as in a pod. Raise them with the pod annotation sidecar.istio.io/componentLogLevel: "wasm:debug" (here: envoy.componentLogLevels: { wasm: debug }, or istio.proxyLogLevel: meshbox)');
				}

				return started.running;
			}) : await startWith(model);
			const unsubscribe = running.logs.subscribe((entry, pluginEntry) => {
				if (pluginEntry) {
					out(formatPluginLog(pluginEntry));
				} else if (values.verbose || entry.level === 'critical' || entry.level === 'error') {
					out(`envoy [${entry.level}][${entry.logger}] ${entry.message}`);
				}
			});
			for (const plugin of model.plugins) {
				err(`meshbox: plugin ${plugin.name} (${plugin.wasmPath}, proxy-wasm ABI ${plugin.module.abiVersion})`);
			}

			err(`meshbox: admin on ${running.admin.url}`);
			out(`listening on ${running.url}`);
			out(`try: curl -i -H 'host: my-app.example.com' ${running.url}/hello    (Ctrl+C to stop)`);

			const exited = await new Promise<{ exitCode: number | undefined } | undefined>(resolve => {
				wake = () => resolve(undefined);
				if (stopRequested) {
					resolve(undefined);
				}

				void running.exited.then(resolve);
			});
			unsubscribe();
			await running.stop();
			// Ctrl+C in a terminal reaches Envoy too (same process group); its exit may be seen before our signal.
			await new Promise(resolve => setTimeout(resolve, 100));
			if (exited && !stopRequested) {
				err(`meshbox: Envoy exited unexpectedly (status ${exited.exitCode ?? 'unknown'}); last lines:\n${running.logs.tail(15).join('\n')}`);
				return 1;
			}

			err(`meshbox: stopped (${stopRequested ?? 'signal'})`);
			return 0;
		} finally {
			process.off('SIGINT', onSignal);
			process.off('SIGTERM', onSignal);
		}
	},
};

function formatPluginLog(entry: PluginLogEntry): string {
	return `[${entry.time}] ${entry.level.padEnd(5)} ${entry.plugin ?? '(root)'}: ${entry.message}`;
}
