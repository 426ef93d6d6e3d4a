/**
 * `meshbox up` (= `npm run sandbox`): start the sandbox, print where to send requests, stream the
 * plugins' logs until Ctrl+C / SIGTERM, then stop everything and exit 0.
 */
import { wasmModulesOf } from '../../config/listeners.ts';
import { startComposed } from '../../compose/start.ts';
import type { Command } from '../command.ts';
import { recordingsPath, UpstreamControlServer } from '../../upstream/control.ts';
import { appRecordingsPath } from '../../upstream/apps.ts';
import { configFileOf, loadSandboxModel, parseCommandArgs, sandboxOptionSpec, sandboxOptionsHelp } from '../options.ts';
import { pluginLabel, sharedRootPrefixes, toPluginLog, type EnvoyLogEntry, type PluginLogEntry } from '../../envoy-admin/logs.ts';
import { isMeshFile, SandboxSession } from '../../compose/model.ts';

export const defaultListenerPort = 10_000;

/** The signals that stop the sandbox cleanly: Ctrl+C, a polite kill, a closed terminal. */
const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

const usage = 'meshbox up [--config FILE] [--plugin [NAME=]FILE.wasm ...] [--port N] [--admin-port N] [--envoy-version V] [--runtime local|docker] [--envoy-bin FILE] [--envoy-image IMAGE] [--watch] [--verbose]';

export const upCommand: Command = {
	name: 'up',
	summary: 'start Envoy + the hello-world upstream with your plugins, and stream their logs',
	usage: [usage, '', ...sandboxOptionsHelp,
		'      --watch           reload a plugin when its .wasm (or, with build:, its sources) or the config changes; Envoy keeps running',
		'      --verbose         stream all of Envoy\'s log, not only the plugins\''].join('\n'),
	async run({ argv, out, err, headStart }) {
		const { values } = parseCommandArgs(argv, { ...sandboxOptionSpec, verbose: { type: 'boolean' }, watch: { type: 'boolean' } }, usage);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		// A mesh (`mesh:` in the config, issue #21): every proxy an Envoy of its own (./mesh-cli.ts).
		const [configFile] = await configFileOf(values);
		if (configFile && await isMeshFile(configFile)) {
			// Its Envoys are not the one started ahead for a single sandbox.
			await headStart?.discard();
			const { meshUp } = await import('./mesh-cli.ts');
			return meshUp({
				configFile, port: values.port, adminPort: values['admin-port'], plugins: values.plugin, envoyVersion: values['envoy-version'],
				runtime: values.runtime, envoyBin: values['envoy-bin'], envoyImage: values['envoy-image'], watch: values.watch ?? false, verbose: values.verbose ?? false,
			}, out, err);
		}

		// The sandbox's state across reloads (--watch): the Istio pod's module cache.
		const session = new SandboxSession();
		const model = await loadSandboxModel(values, defaultListenerPort, session);
		// Signals that arrive while starting must not kill us before cleanup: remember them, act once started.
		let stopRequested: string | undefined;
		let wake: (() => void) | undefined;
		const onSignal = (signal: NodeJS.Signals) => {
			if (stopRequested) {
				if (signal === 'SIGHUP') {
					// A closed terminal may send SIGHUP twice (the kernel to the process group, the shell to its jobs):
					// that is no request to hurry, so the cleanup already under way goes on.
					return;
				}

				// A second Ctrl+C while starting: leave now (execa's cleanup still kills Envoy on exit).
				process.exit(130);
			}

			stopRequested = signal;
			wake?.();
		};

		// SIGHUP is a closed terminal: without a handler it ends meshbox at once, leaving the work dir (local) or
		// the containers and network (docker) behind; it stops the sandbox like SIGTERM instead.
		for (const signal of stopSignals) {
			process.on(signal, onSignal);
		}

		try {
			// --watch: the watcher's code (and its execa) loads while Envoy starts, so that it watches from the
			// moment "listening on" is printed; a plain `up` never loads it.
			const watchCode = values.watch ? Promise.all([import('../../compose/live.ts'), import('../../compose/watch.ts')]) : undefined;
			watchCode?.catch(() => undefined);
			const { running, model: runningModel } = await startComposed(model, {
				runtime: values.runtime,
				envoyBin: values['envoy-bin'],
				envoyImage: values['envoy-image'],
				onProgress: err,
				headStart,
				// Under --watch, a reload must not leave the old build's root contexts logging under the plugin's name
				// (src/runtime/local/head-start.ts): the next run then preloads the modules only.
				headStartPreload: values.watch ? 'modules' : 'plugins',
			});
			// Istio sidecars (src/istio): say what istiod, istio-agent and Envoy did.
			for (const note of runningModel.sidecar?.notes ?? []) {
				err(`meshbox: ${note}`);
			}

			if (runningModel.sidecar && runningModel.envoy.logLevel === 'warning') {
				err('meshbox: Envoy runs at Istio\'s default log levels (warning, misc:error): plugin info/debug logs are hidden, as in a pod. Raise them with the pod annotation sidecar.istio.io/componentLogLevel: "wasm:debug" (here: envoy.componentLogLevels: { wasm: debug }, or istio.proxyLogLevel: meshbox)');
			}

			const show = (entry: EnvoyLogEntry, pluginEntry: PluginLogEntry | undefined) => {
				if (pluginEntry) {
					out(formatPluginLog(pluginEntry));
				} else if (values.verbose || entry.level === 'critical' || entry.level === 'error') {
					out(`envoy [${entry.level}][${entry.logger}] ${entry.message}`);
				}
			};
			for (const plugin of wasmModulesOf(model)) {
				err(`meshbox: plugin ${plugin.name} (${plugin.wasmPath}, proxy-wasm ABI ${plugin.module.abiVersion})`);
			}
			for (const shared of sharedRootPrefixes(wasmModulesOf(runningModel))) {
				err(`meshbox: ${shared.names.join(', ')} share root_id and vm_id: their root contexts all log as "wasm log${shared.prefix ? ` ${shared.prefix}` : ''}: …" (no plugin name), shown as ${shared.names.join('|')}; a distinct rootId each tells them apart`);
			}

			// What the plugins logged while Envoy started (on_vm_start, on_configure, the first ticks), and with
			// --verbose Envoy's own start-up log, is in the buffer already: show it, then stream what follows. No
			// await between the two, so no entry is shown twice or missed.
			for (const entry of running.logs.entries) {
				show(entry, toPluginLog(entry, wasmModulesOf(runningModel)));
			}

			const unsubscribe = running.logs.subscribe(show);

			err(`meshbox: admin on ${running.admin.url}`);
			// What reached the app, readable and clearable with curl on every runtime (src/upstream/control.ts).
			const recordings = await UpstreamControlServer.start(running.upstream, { apps: running.apps ?? {} }).catch(async (error: unknown) => {
				await running.stop();
				throw error;
			});
			const recordingsUrl = `http://127.0.0.1:${recordings.address.port}${recordingsPath}`;
			err(`meshbox: what the app received: curl ${recordingsUrl}   (clear: curl -X DELETE ${recordingsUrl})`);
			// Named apps (`apps:`): the same, per app (src/upstream/apps.ts).
			for (const name of Object.keys(running.apps ?? {})) {
				err(`meshbox: what app ${name} received: curl http://127.0.0.1:${recordings.address.port}${appRecordingsPath(name)}`);
			}
			const watchModules = await watchCode;
			out(`listening on ${running.url}`);
			// TCP listeners (`listeners:`, src/config/listeners.ts); their port may be any free one.
			for (const [name, address] of running.tcp?.listeners ?? []) {
				out(`tcp listener ${name} on ${address.address}:${address.port}    try: printf 'hello\\n' | nc -N ${address.address} ${address.port}`);
			}

			out(`try: curl -i -H 'host: my-app.example.com' ${running.url}/hello    (Ctrl+C to stop)`);
			// --watch: new modules and configs reach this same Envoy over xDS (src/compose/watch.ts).
			const watcher = watchModules
				? watchModules[1].watchPlugins(new watchModules[0].LiveSandbox(running, {}, runningModel, process.cwd(), session), async () => loadSandboxModel(values, defaultListenerPort, session), { report: out, configFiles: await configFileOf(values) })
				: undefined;
			if (watcher) {
				const built = runningModel.plugins.filter(plugin => plugin.build).map(plugin => plugin.name);
				err(`meshbox: watching the plugins' .wasm files${built.length > 0 ? ` and the sources of ${built.join(', ')}` : ''}, and the config`);
			}

			const exited = await new Promise<{ exitCode: number | undefined } | undefined>(resolve => {
				wake = () => resolve(undefined);
				if (stopRequested) {
					resolve(undefined);
				}

				void running.exited.then(resolve);
			});
			unsubscribe();
			await watcher?.close();
			await recordings.stop();
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
			for (const signal of stopSignals) {
				process.off(signal, onSignal);
			}
		}
	},
};

function formatPluginLog(entry: PluginLogEntry): string {
	return `[${entry.time}] ${entry.level.padEnd(5)} ${pluginLabel(entry)}: ${entry.message}`;
}
