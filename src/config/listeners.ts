/**
 * More listeners (issue #10): TCP listeners with network plugins in front of a tcp_proxy to a recording TCP
 * app, and singleton wasm services (bootstrap extensions). Spec → model; src/envoy/listeners.ts renders it.
 *
 *   listeners:
 *     tcp:                          # the listener's name (Envoy's listener name, `box.tcp('tcp', …)`)
 *       kind: tcp                   # the only kind so far (the HTTP listener is the sandbox's own)
 *       port: 0                     # 127.0.0.1; 0 = any free port
 *       plugins: [ network.wasm ]   # envoy.filters.network.wasm, in order, before the tcp_proxy
 *       app: { reply: "hi\n", close: true }   # the recording TCP app's answer; default: echo
 *   services:                       # singleton wasm services (envoy.bootstrap.wasm), plugin fields as `plugins:`
 *     - { name: drain, wasm: receiver.wasm, vmId: receiver, configuration: { role: receiver } }
 */
import type { ListenersModel, PluginModel, SandboxModel, TcpAppModel, TcpListenerModel } from './model.ts';
export type { ListenersModel, TcpAppModel, TcpListenerModel } from './model.ts';
export type { ListenersSpec, TcpAppSpec, TcpListenerSpec } from './spec.ts';
import { configError, isRecord, readBoolean, readObject, readOneOf, readPort, readString, type FieldPath, type Locator } from './fields.ts';

/** The top-level fields this module reads. */
export const listenersFields: readonly string[] = ['listeners', 'services'];

const listenerFields = ['kind', 'port', 'plugins', 'app'] as const;
const appFields = ['reply', 'close'] as const;
const listenerKinds = ['tcp'] as const;
/** Envoy listener names the sandbox itself uses (src/envoy/bootstrap.ts), and a name that is also a cluster's. */
const reservedListenerNames: readonly string[] = ['meshbox_listener'];
const listenerNamePattern = /^[\w.-]+$/;

/** Resolves one plugin entry (src/config/resolve.ts resolvePlugin: fields, wasm pre-flight) at `path`. */
export type PluginResolver = (value: unknown, path: FieldPath) => Promise<PluginModel>;

export async function resolveListeners(
	spec: Readonly<Record<string, unknown>>, locate: Locator, _baseDir: string, resolvePlugin: PluginResolver, httpPluginNames: readonly string[],
): Promise<ListenersModel | undefined> {
	if (spec.listeners === undefined && spec.services === undefined) {
		return undefined;
	}

	// Log lines are attributed to plugins by name (src/envoy-admin/logs.ts): every wasm in the sandbox needs its own.
	const names = new Map<string, string>(httpPluginNames.map(name => [name, 'plugins']));
	const resolveAll = async (value: unknown, path: FieldPath, what: string): Promise<PluginModel[]> => {
		if (value === undefined) {
			return [];
		}

		if (!Array.isArray(value)) {
			throw configError(locate, path, `expected a list of ${what} (each a wasm path, or an object with \`wasm:\`)`);
		}

		const result: PluginModel[] = [];
		for (const [index, entry] of value.entries()) {
			if (isRecord(entry) && entry.build !== undefined) {
				throw configError(locate, [...path, index, 'build'], `\`build\` is not supported for ${what}`,
					'`meshbox up --watch` rebuilds the HTTP plugins (`plugins:`); build this module before starting the sandbox');
			}

			const plugin = await resolvePlugin(entry, [...path, index]);
			const earlier = names.get(plugin.name);
			if (earlier) {
				throw configError(locate, [...path, index], `the name "${plugin.name}" is used twice (also in ${earlier})`,
					'give each plugin and service its own `name`: names tell their logs apart');
			}

			names.set(plugin.name, formatList(path));
			result.push(plugin);
		}

		return result;
	};

	const tcp: TcpListenerModel[] = [];
	if (spec.listeners !== undefined) {
		if (!isRecord(spec.listeners)) {
			throw configError(locate, ['listeners'], 'expected a map of listener names to listeners, e.g. listeners: { tcp: { kind: tcp, plugins: [network.wasm] } }');
		}

		for (const [name, value] of Object.entries(spec.listeners)) {
			const path = ['listeners', name];
			if (!listenerNamePattern.test(name) || reservedListenerNames.includes(name)) {
				throw configError(locate, path, reservedListenerNames.includes(name) ? `"${name}" is the name of the sandbox's HTTP listener` : `"${name}" is not a usable listener name`,
					'choose another name: letters, digits and . _ -');
			}

			const fields = readObject(value ?? {}, path, locate, listenerFields);
			const kind = fields.kind === undefined ? 'tcp' : readOneOf(fields.kind, [...path, 'kind'], locate, listenerKinds);
			tcp.push({
				name,
				kind,
				port: fields.port === undefined ? 0 : readPort(fields.port, [...path, 'port'], locate),
				plugins: await resolveAll(fields.plugins, [...path, 'plugins'], 'network plugins'),
				app: resolveApp(fields.app, [...path, 'app'], locate),
			});
		}

		const fixed = tcp.filter(listener => listener.port !== 0);
		for (const listener of fixed) {
			const other = fixed.find(entry => entry !== listener && entry.port === listener.port);
			if (other) {
				throw configError(locate, ['listeners', listener.name, 'port'], `port ${listener.port} is also listener ${other.name}'s`, 'give each listener its own port, or 0 for any free port');
			}
		}
	}

	const services = await resolveAll(spec.services, ['services'], 'services');
	return { tcp, services };
}

function resolveApp(value: unknown, path: FieldPath, locate: Locator): TcpAppModel {
	if (value === undefined) {
		return { mode: 'echo' };
	}

	const fields = readObject(value, path, locate, appFields);
	if (fields.reply === undefined) {
		if (fields.close !== undefined) {
			throw configError(locate, [...path, 'close'], '`close` needs `reply`', 'an echoing app closes when the client does; give `reply:` for a fixed answer');
		}

		return { mode: 'echo' };
	}

	return {
		mode: 'reply',
		reply: readString(fields.reply, [...path, 'reply'], locate),
		close: fields.close === undefined ? false : readBoolean(fields.close, [...path, 'close'], locate),
	};
}

function formatList(path: FieldPath): string {
	return path.map(part => String(part)).join('.');
}

/**
 * Every wasm module of the sandbox: the HTTP plugins, the TCP listeners' network plugins and the services.
 * What the runtimes stage and copy, and what log lines are attributed to.
 */
export function wasmModulesOf(model: SandboxModel): readonly PluginModel[] {
	const listeners = model.listeners;
	if (!listeners) {
		return model.plugins;
	}

	return [...model.plugins, ...listeners.tcp.flatMap(listener => listener.plugins), ...listeners.services];
}
