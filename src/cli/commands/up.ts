/**
 * `meshbox up` (= `npm run sandbox`): start the sandbox, print where to send requests, stream the
 * plugins' logs until Ctrl+C / SIGTERM, then stop everything and exit 0.
 */
import { wasmModulesOf } from '../../config/listeners.ts';
import { startComposed } from '../../compose/start.ts';
import type { Command, CommandContext } from '../command.ts';
import { recordingsPath, UpstreamControlServer } from '../../upstream/control.ts';
import { appRecordingsPath } from '../../upstream/apps.ts';
import { configFileOf, loadSandboxModel, parseCommandArgs, sandboxOptionSpec, sandboxOptionsHelp } from '../options.ts';
import { pluginLabel, sharedRootPrefixes, toPluginLog, type EnvoyLogEntry, type PluginLogEntry } from '../../envoy-admin/logs.ts';
import { isMeshFile, SandboxSession } from '../../compose/model.ts';
import type { StartedSandbox } from '../../compose/start.ts';
import type { Watcher } from '../../compose/watch.ts';
import type { SandboxModel } from '../../config/model.ts';
import type { RunningSandbox } from '../../runtime/types.ts';
import type { HeadStart } from '../../runtime/local/head-start.ts';

export const defaultListenerPort = 10_000;

/** The signals that stop the sandbox cleanly: Ctrl+C, a polite kill, a closed terminal. */
const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

const usage = 'meshbox up [--config FILE] [--plugin [NAME=]FILE.wasm ...] [--port N] [--admin-port N] [--envoy-version V] [--runtime local|docker] [--envoy-bin FILE] [--envoy-image IMAGE] [--watch] [--verbose]';

const upOptionSpec = { ...sandboxOptionSpec, verbose: { type: 'boolean' }, watch: { type: 'boolean' } } as const;

/** `up`'s flags as parsed. */
type UpFlags = ReturnType<typeof parseUpArgs>['values'];

type Output = Pick<CommandContext, 'out' | 'err'>;

export const upCommand: Command = {
	name: 'up',
	summary: 'start Envoy + the hello-world upstream with your plugins, and stream their logs',
	usage: [usage, '', ...sandboxOptionsHelp,
		'      --watch           reload a plugin when its .wasm (or, with build:, its sources) or the config changes; Envoy keeps running',
		'      --verbose         stream all of Envoy\'s log, not only the plugins\''].join('\n'),
	async run({ argv, out, err, headStart }) {
		const { values } = parseUpArgs(argv);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		// A mesh (`mesh:` in the config, issue #21): every proxy an Envoy of its own (./mesh-cli.ts).
		const [configFile] = await configFileOf(values);
		if (configFile && await isMeshFile(configFile)) {
			return upMesh(configFile, values, { out, err }, headStart);
		}

		// The sandbox's state across reloads (--watch): the Istio pod's module cache.
		const session = new SandboxSession();
		const model = await loadSandboxModel(values, defaultListenerPort, session);
		const stop = listenForStop();
		try {
			return await serveUntilStopped(values, model, session, stop, { out, err }, headStart);
		} finally {
			stop.dispose();
		}
	},
};

function parseUpArgs(argv: readonly string[]) {
	return parseCommandArgs(argv, upOptionSpec, usage);
}

async function upMesh(configFile: string, values: UpFlags, { out, err }: Output, headStart: HeadStart | undefined): Promise<number> {
	// Its Envoys are not the one started ahead for a single sandbox.
	await headStart?.discard();
	const { meshUp } = await import('./mesh-cli.ts');
	return meshUp({
		configFile, port: values.port, adminPort: values['admin-port'], plugins: values.plugin, envoyVersion: values['envoy-version'],
		runtime: values.runtime, envoyBin: values['envoy-bin'], envoyImage: values['envoy-image'], watch: values.watch ?? false, verbose: values.verbose ?? false,
	}, out, err);
}

/** The steps of `up` once the model is loaded: start, say where things are, serve until a signal or Envoy's exit, stop. */
async function serveUntilStopped(values: UpFlags, model: SandboxModel, session: SandboxSession, stop: StopRequests, { out, err }: Output,
	headStart: HeadStart | undefined): Promise<number> {
	// --watch: the watcher's code (and its execa) loads while Envoy starts, so that it watches from the
	// moment "listening on" is printed; a plain `up` never loads it.
	const watchCode = values.watch ? Promise.all([import('../../compose/live.ts'), import('../../compose/watch.ts')]) : undefined;
	watchCode?.catch(() => undefined);
	const started = await startComposed(model, {
		runtime: values.runtime,
		envoyBin: values['envoy-bin'],
		envoyImage: values['envoy-image'],
		onProgress: err,
		headStart,
		// Under --watch, a reload must not leave the old build's root contexts logging under the plugin's name
		// (src/runtime/local/head-start.ts): the next run then preloads the modules only.
		headStartPreload: values.watch ? 'modules' : 'plugins',
	});
	const { running } = started;
	announceModel(model, started.model, err);
	const unsubscribe = streamLogs(running, started.model, values.verbose ?? false, out);
	err(`meshbox: admin on ${running.admin.url}`);
	const recordings = await serveRecordings(running, err);
	const watchModules = await watchCode;
	announceListeners(running, out);
	const watcher = watchModules ? await startWatching(watchModules, started, session, values, { out, err }) : undefined;
	const exited = await stop.untilStopOrExit(running);
	unsubscribe();
	await watcher?.close();
	await recordings.stop();
	await running.stop();
	return exitStatus(exited, stop, running, err);
}

/** What istiod, istio-agent and Envoy did (an Istio sidecar, src/istio), and which plugins run. */
function announceModel(model: SandboxModel, runningModel: SandboxModel, err: (text: string) => void): void {
	for (const note of runningModel.sidecar?.notes ?? []) {
		err(`meshbox: ${note}`);
	}

	if (runningModel.sidecar && runningModel.envoy.logLevel === 'warning') {
		err('meshbox: Envoy runs at Istio\'s default log levels (warning, misc:error): plugin info/debug logs are hidden, as in a pod. Raise them with the pod annotation sidecar.istio.io/componentLogLevel: "wasm:debug" (here: envoy.componentLogLevels: { wasm: debug }, or istio.proxyLogLevel: meshbox)');
	}

	for (const plugin of wasmModulesOf(model)) {
		err(`meshbox: plugin ${plugin.name} (${plugin.wasmPath}, proxy-wasm ABI ${plugin.module.abiVersion})`);
	}

	for (const shared of sharedRootPrefixes(wasmModulesOf(runningModel))) {
		err(`meshbox: ${shared.names.join(', ')} share root_id and vm_id: their root contexts all log as "wasm log${shared.prefix ? ` ${shared.prefix}` : ''}: …" (no plugin name), shown as ${shared.names.join('|')}; a distinct rootId each tells them apart`);
	}
}

/**
 * The plugins' logs (with --verbose all of Envoy's; else Envoy's errors) on `out`: what was logged while Envoy
 * started (on_vm_start, on_configure, the first ticks) is in the buffer already, then what follows. No await
 * between the two, so no entry is shown twice or missed. Returns the unsubscribe.
 */
function streamLogs(running: RunningSandbox, runningModel: SandboxModel, verbose: boolean, out: (text: string) => void): () => void {
	const show = (entry: EnvoyLogEntry, pluginEntry: PluginLogEntry | undefined) => {
		if (pluginEntry) {
			out(formatPluginLog(pluginEntry));
		} else if (verbose || entry.level === 'critical' || entry.level === 'error') {
			out(`envoy [${entry.level}][${entry.logger}] ${entry.message}`);
		}
	};

	for (const entry of running.logs.entries) {
		show(entry, toPluginLog(entry, wasmModulesOf(runningModel)));
	}

	return running.logs.subscribe(show);
}

/** What reached the app, readable and clearable with curl on every runtime (src/upstream/control.ts); per named app too. */
async function serveRecordings(running: RunningSandbox, err: (text: string) => void): Promise<UpstreamControlServer> {
	const recordings = await UpstreamControlServer.start(running.upstream, { apps: running.apps ?? {} }).catch(async (error: unknown) => {
		await running.stop();
		throw error;
	});
	const recordingsUrl = `http://127.0.0.1:${recordings.address.port}${recordingsPath}`;
	err(`meshbox: what the app received: curl ${recordingsUrl}   (clear: curl -X DELETE ${recordingsUrl})`);
	// Named apps (`apps:`, src/upstream/apps.ts).
	for (const name of Object.keys(running.apps ?? {})) {
		err(`meshbox: what app ${name} received: curl http://127.0.0.1:${recordings.address.port}${appRecordingsPath(name)}`);
	}

	return recordings;
}

/** Where to send requests: the HTTP listener, then the TCP listeners (`listeners:`; their port may be any free one). */
function announceListeners(running: RunningSandbox, out: (text: string) => void): void {
	out(`listening on ${running.url}`);
	for (const [name, address] of running.tcp?.listeners ?? []) {
		out(`tcp listener ${name} on ${address.address}:${address.port}    try: printf 'hello\\n' | nc -N ${address.address} ${address.port}`);
	}

	out(`try: curl -i -H 'host: my-app.example.com' ${running.url}/hello    (Ctrl+C to stop)`);
}

type WatchCode = readonly [typeof import('../../compose/live.ts'), typeof import('../../compose/watch.ts')];

/** --watch: new modules and configs reach this same Envoy over xDS (src/compose/watch.ts). */
async function startWatching([live, watch]: WatchCode, { running, model }: StartedSandbox, session: SandboxSession, values: UpFlags, { out, err }: Output): Promise<Watcher> {
	const watcher = watch.watchPlugins(new live.LiveSandbox(running, {}, model, process.cwd(), session), async () => loadSandboxModel(values, defaultListenerPort, session),
		{ report: out, configFiles: await configFileOf(values) });
	const built = model.plugins.filter(plugin => plugin.build).map(plugin => plugin.name);
	err(`meshbox: watching the plugins' .wasm files${built.length > 0 ? ` and the sources of ${built.join(', ')}` : ''}, and the config`);
	return watcher;
}

/** 0 after a stop signal; 1, with Envoy's last lines, when Envoy exited by itself. */
async function exitStatus(exited: { exitCode: number | undefined } | undefined, stop: StopRequests, running: RunningSandbox, err: (text: string) => void): Promise<number> {
	// Ctrl+C in a terminal reaches Envoy too (same process group); its exit may be seen before our signal.
	await new Promise(resolve => setTimeout(resolve, 100));
	const stopRequested = stop.requested;
	if (exited && !stopRequested) {
		err(`meshbox: Envoy exited unexpectedly (status ${exited.exitCode ?? 'unknown'}); last lines:\n${running.logs.tail(15).join('\n')}`);
		return 1;
	}

	err(`meshbox: stopped (${stopRequested ?? 'signal'})`);
	return 0;
}

type StopRequests = {
	/** The stop signal received, if any. */
	readonly requested: string | undefined;
	/** Resolves on a stop signal (undefined) or with Envoy's exit, whichever comes first. */
	untilStopOrExit(running: RunningSandbox): Promise<{ exitCode: number | undefined } | undefined>;
	/** Stops listening for the signals. */
	dispose(): void;
};

/**
 * Listens for the stop signals from now on. Signals that arrive while starting must not kill us before cleanup:
 * they are remembered, and acted on once started. SIGHUP is a closed terminal: without a handler it ends meshbox
 * at once, leaving the work dir (local) or the containers and network (docker) behind; it stops the sandbox
 * like SIGTERM instead.
 */
function listenForStop(): StopRequests {
	let requested: string | undefined;
	let wake: (() => void) | undefined;
	const onSignal = (signal: NodeJS.Signals) => {
		if (requested) {
			if (signal === 'SIGHUP') {
				// A closed terminal may send SIGHUP twice (the kernel to the process group, the shell to its jobs):
				// that is no request to hurry, so the cleanup already under way goes on.
				return;
			}

			// A second Ctrl+C while starting: leave now (execa's cleanup still kills Envoy on exit).
			process.exit(130);
		}

		requested = signal;
		wake?.();
	};

	for (const signal of stopSignals) {
		process.on(signal, onSignal);
	}

	return {
		get requested() {
			return requested;
		},
		async untilStopOrExit(running) {
			return new Promise(resolve => {
				wake = () => resolve(undefined);
				if (requested) {
					resolve(undefined);
				}

				void running.exited.then(resolve);
			});
		},
		dispose() {
			for (const signal of stopSignals) {
				process.off(signal, onSignal);
			}
		},
	};
}

function formatPluginLog(entry: PluginLogEntry): string {
	return `[${entry.time}] ${entry.level.padEnd(5)} ${pluginLabel(entry)}: ${entry.message}`;
}
