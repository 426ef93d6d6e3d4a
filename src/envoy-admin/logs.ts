/**
 * Envoy's log lines → structured entries, and the `wasm log …` lines among them → plugin log entries.
 *
 * meshbox starts Envoy with an explicit `--log-format` (Envoy's default one, spelled out) so that a change of
 * default, or an Istio build with another default, cannot break parsing. A line that does not start a
 * new entry continues the previous one (e.g. a wasm backtrace).
 *
 * Plugin log prefix: Envoy's source/extensions/common/wasm/context.cc `Context::log` prints
 * `wasm log{log_prefix()}: <message>`, and proxy-wasm-cpp-host's src/context.cc builds the prefix: a stream
 * context's is its plugin's (`PluginBase::makeLogPrefix`: ` <plugin name> <root_id> <vm_id>`), a root
 * context's has no plugin name (`ContextBase::makeRootLogPrefix`: ` <root_id> <vm_id>`), each part only when
 * non-empty. Services (bootstrap extensions) only have a root context.
 *
 * So a root-context line names its plugin only through root_id and vm_id. Plugins (or services) that share
 * both (e.g. a vm_id and no root_id) print the same prefix: such a line is attributed to all of them
 * (`candidates`), never guessed; `pluginLabel()` shows it as `a|b`.
 */
import type { PluginModel } from '../config/model.ts';

/** Envoy's default format (source/common/common/logger.h `DEFAULT_LOG_FORMAT`). */
export const envoyLogFormat = '[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v';

export const envoyLogLevels = ['trace', 'debug', 'info', 'warning', 'error', 'critical'] as const;
export type EnvoyLogLevel = (typeof envoyLogLevels)[number];

/** proxy-wasm's names (LogLevel in every SDK); Envoy prints `warning` for `warn`. */
const pluginLogLevels = ['trace', 'debug', 'info', 'warn', 'error', 'critical'] as const;
export type PluginLogLevel = (typeof pluginLogLevels)[number];

export type EnvoyLogEntry = {
	/** As Envoy printed it: `2026-11-24 22:08:15.627`. */
	readonly time: string;
	readonly thread: number;
	readonly level: EnvoyLogLevel;
	/** Envoy's logger (component): `wasm`, `main`, `config`, … */
	readonly logger: string;
	/** `source/extensions/common/wasm/context.cc:1234` */
	readonly source: string;
	/** The text, with continuation lines joined by `\n`. */
	readonly message: string;
};

export type PluginLogEntry = {
	readonly time: string;
	readonly level: PluginLogLevel;
	/**
	 * The plugin that logged it; undefined when Envoy's prefix fits several plugins (root contexts of plugins
	 * sharing root_id and vm_id: see `candidates`) or none.
	 */
	readonly plugin: string | undefined;
	/**
	 * Every plugin Envoy's prefix fits, in the sandbox's order: `[plugin]` when the line names one, several
	 * when root contexts share root_id and vm_id (Envoy's root-context prefix has no plugin name), `[]` when
	 * none (a plugin the sandbox no longer knows).
	 */
	readonly candidates: readonly string[];
	/** Whether a stream (request) context or the plugin's root context logged it. */
	readonly context: 'stream' | 'root';
	readonly message: string;
};

const entryStart = /^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]\[(\d+)\]\[(\w+)\]\[([\w.-]+)\] \[([^\]]*)\] ?(.*)$/;

/** Incremental parser: feed it lines as they arrive; it emits each entry once the next one starts (or on flush). */
export class EnvoyLogParser {
	private pending: { entry: Omit<EnvoyLogEntry, 'message'>; lines: string[] } | undefined;

	constructor(private readonly emit: (entry: EnvoyLogEntry) => void) {}

	push(line: string): void {
		const match = entryStart.exec(line);
		if (!match) {
			if (this.pending) {
				this.pending.lines.push(line);
			}

			// Output before the first entry (e.g. a crash message) is not a log entry; runtimes keep raw output too.
			return;
		}

		this.flush();
		const [, time = '', thread = '0', level = 'info', logger = '', source = '', text = ''] = match;
		this.pending = {
			entry: { time, thread: Number(thread), level: toEnvoyLevel(level), logger, source },
			lines: [text],
		};
	}

	flush(): void {
		if (this.pending) {
			const { entry, lines } = this.pending;
			this.pending = undefined;
			this.emit({ ...entry, message: lines.join('\n') });
		}
	}
}

function toEnvoyLevel(level: string): EnvoyLogLevel {
	return (envoyLogLevels as readonly string[]).includes(level) ? level as EnvoyLogLevel : 'info';
}

function toPluginLevel(level: EnvoyLogLevel): PluginLogLevel {
	return level === 'warning' ? 'warn' : level;
}

const pluginLinePrefix = /^wasm log(?<prefix>(?: [^:\s]+)*): (?<message>[\s\S]*)$/;

/**
 * The plugin log entry in an Envoy entry, or undefined when it is not a plugin's `wasm log` line.
 * `plugins` is used to tell which plugin the prefix names.
 */
export function toPluginLog(entry: EnvoyLogEntry, plugins: readonly Pick<PluginModel, 'name' | 'rootId' | 'vmId'>[]): PluginLogEntry | undefined {
	if (entry.logger !== 'wasm') {
		return undefined;
	}

	const match = pluginLinePrefix.exec(entry.message);
	if (!match?.groups) {
		return undefined;
	}

	const prefix = match.groups.prefix?.trim() ?? '';
	const streamOwners = plugins.filter(plugin => streamPrefix(plugin) === prefix);
	const rootOwners = plugins.filter(plugin => rootPrefix(plugin) === prefix);
	// A name once: after a live update the old and the new version of a plugin are both listed.
	const candidates = [...new Set([...streamOwners, ...rootOwners].map(plugin => plugin.name))];
	return {
		time: entry.time,
		level: toPluginLevel(entry.level),
		plugin: candidates.length === 1 ? candidates[0] : undefined,
		candidates,
		context: streamOwners.length > 0 ? 'stream' : 'root',
		message: match.groups.message ?? '',
	};
}

/** Who logged `entry`, for people: its plugin, `a|b` when the line fits several, `?` when none. */
export function pluginLabel(entry: Pick<PluginLogEntry, 'plugin' | 'candidates'>): string {
	return entry.plugin ?? (entry.candidates.length > 0 ? entry.candidates.join('|') : '?');
}

/**
 * Groups of plugins whose root contexts print the same prefix (equal root_id and vm_id): their root-context
 * lines cannot say which one logged. For a note at start.
 */
export function sharedRootPrefixes(plugins: readonly Pick<PluginModel, 'name' | 'rootId' | 'vmId'>[]): Array<{ readonly prefix: string; readonly names: readonly string[] }> {
	const byPrefix = new Map<string, Set<string>>();
	for (const plugin of plugins) {
		const names = byPrefix.get(rootPrefix(plugin)) ?? new Set<string>();
		names.add(plugin.name);
		byPrefix.set(rootPrefix(plugin), names);
	}

	return [...byPrefix].filter(([, names]) => names.size > 1).map(([prefix, names]) => ({ prefix, names: [...names] }));
}

function streamPrefix(plugin: Pick<PluginModel, 'name' | 'rootId' | 'vmId'>): string {
	return [plugin.name, plugin.rootId, plugin.vmId].filter(Boolean).join(' ');
}

function rootPrefix(plugin: Pick<PluginModel, 'rootId' | 'vmId'>): string {
	return [plugin.rootId, plugin.vmId].filter(Boolean).join(' ');
}

/** Whether `level` is at least `threshold`. */
export function atLeast(level: PluginLogLevel, threshold: PluginLogLevel): boolean {
	return pluginLogLevels.indexOf(level) >= pluginLogLevels.indexOf(threshold);
}
