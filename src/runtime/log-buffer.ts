/**
 * Everything Envoy logged, as it arrives: raw lines, parsed entries, plugin entries, and waiting for an
 * entry to show up. Every runtime feeds one of these from wherever Envoy's output goes.
 */
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { PluginModel } from '../config/model.ts';
import type { EnvoyAdmin } from '../envoy-admin/admin.ts';
import { EnvoyLogParser, toPluginLog, type EnvoyLogEntry, type PluginLogEntry } from '../envoy-admin/logs.ts';
import { Ring } from '../util/ring.ts';

/** A long-running sandbox keeps at most this many entries (the oldest go first). */
const maxEntries = 100_000;

export class LogBuffer {
	private readonly parser: EnvoyLogParser;
	// Rings: a constant cost per line at any volume, the newest kept, exact counts.
	private readonly entryRing = new Ring<EnvoyLogEntry>(maxEntries);
	private readonly pluginEntryRing = new Ring<PluginLogEntry>(maxEntries);
	private readonly rawLines = new Ring<string>(maxEntries);
	private readonly listeners = new Set<(entry: EnvoyLogEntry, pluginEntry: PluginLogEntry | undefined) => void>();
	/**
	 * Lines not parsed yet. Parsing costs CPU that Envoy shares on a small machine, so it happens when somebody
	 * looks (entries, waits) or listens (`up` streaming), not per line: a sandbox under load whose logs nobody
	 * reads costs a push per line. Bounded like the rest: beyond the cap the oldest unparsed lines go.
	 */
	private pending: string[] = [];
	private flushScheduled = false;

	constructor(private plugins: readonly PluginModel[]) {
		this.parser = new EnvoyLogParser(entry => {
			this.add(entry);
		});
	}

	/**
	 * The plugins log lines are attributed to from now on: after a live update, the new chain's names and the
	 * old ones (a request in flight still runs the old plugin), so no line loses its plugin.
	 */
	attribute(plugins: readonly PluginModel[]): void {
		// Lines logged so far are attributed with the names they were logged under.
		this.catchUp();
		const names = new Set(plugins.map(plugin => `${plugin.name}\u0000${plugin.rootId}\u0000${plugin.vmId}`));
		this.plugins = [...plugins, ...this.plugins.filter(plugin => !names.has(`${plugin.name}\u0000${plugin.rootId}\u0000${plugin.vmId}`))];
	}

	/** Feed one line of Envoy's output (without the newline). */
	pushLine(line: string): void {
		this.rawLines.push(line);
		this.pending.push(line);
		if (this.pending.length > 2 * maxEntries) {
			this.pending.splice(0, this.pending.length - maxEntries);
		}

		// Listeners get entries as they come. A multi-line entry (a backtrace) arrives in one write, so its lines
		// are pushed in the same tick; once the tick is over the entry is complete and can be emitted.
		if (this.listeners.size > 0 && !this.flushScheduled) {
			this.flushScheduled = true;
			setImmediate(() => {
				this.flushScheduled = false;
				this.catchUp();
			});
		}
	}

	/** Feeds every line of `stream` (Envoy's stdout or stderr, or a container's log) until it ends, but those containing `skipLinesWith` (a pin's, src/envoy/pins.ts). */
	async follow(stream: Readable | null, skipLinesWith?: string): Promise<void> {
		if (!stream) {
			return;
		}

		for await (const line of readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
			if (skipLinesWith === undefined || !line.includes(skipLinesWith)) {
				this.pushLine(line);
			}
		}
	}

	/** Envoy's output ended: emit the last entry. */
	end(): void {
		this.catchUp();
	}

	/** Parses the pending lines (and emits their entries). */
	private catchUp(): void {
		const lines = this.pending;
		this.pending = [];
		for (const line of lines) {
			this.parser.push(line);
		}

		this.parser.flush();
	}

	/** The entries kept (the newest 100 000), oldest first: a copy. */
	get entries(): readonly EnvoyLogEntry[] {
		this.catchUp();
		return this.entryRing.toArray();
	}

	/** The plugin entries kept (the newest 100 000), oldest first: a copy. */
	get pluginEntries(): readonly PluginLogEntry[] {
		this.catchUp();
		return this.pluginEntryRing.toArray();
	}

	/** Plugin entries ever seen, dropped ones included: a position for `pluginEntriesSince()`. */
	get pluginPosition(): number {
		this.catchUp();
		return this.pluginEntryRing.total;
	}

	/** The plugin entries seen at or after `position` (a `pluginPosition` taken earlier) that are still kept. */
	pluginEntriesSince(position: number): PluginLogEntry[] {
		this.catchUp();
		return this.pluginEntryRing.since(position);
	}

	/** The last `count` raw lines: what to show when Envoy fails. */
	tail(count: number): string[] {
		return this.rawLines.last(count);
	}

	subscribe(listener: (entry: EnvoyLogEntry, pluginEntry: PluginLogEntry | undefined) => void): () => void {
		// What was logged before is not the listener's: parse it first.
		this.catchUp();
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/** Resolves with the first entry (already seen, or arriving within `timeoutMs`) that matches. */
	async waitFor(predicate: (entry: EnvoyLogEntry) => boolean, timeoutMs: number, fromPosition = 0): Promise<EnvoyLogEntry | undefined> {
		this.catchUp();
		const seen = this.entryRing.since(fromPosition).find(entry => predicate(entry));
		return seen ?? this.next(entry => (predicate(entry) ? entry : undefined), timeoutMs);
	}

	/**
	 * Resolves with the first plugin entry (already seen, or arriving within `timeoutMs`) that matches;
	 * undefined after the timeout, or at once when `stop` is aborted (Envoy exited: nothing more will come).
	 */
	async waitForPluginEntry(predicate: (entry: PluginLogEntry) => boolean, timeoutMs: number, stop?: AbortSignal): Promise<PluginLogEntry | undefined> {
		this.catchUp();
		const seen = this.pluginEntryRing.find(entry => predicate(entry));
		return seen ?? this.next((_entry, pluginEntry) => (pluginEntry && predicate(pluginEntry) ? pluginEntry : undefined), timeoutMs, stop);
	}

	/** The first value `select` picks from entries still to come; undefined after `timeoutMs` or once `stop` is aborted. */
	private async next<T>(select: (entry: EnvoyLogEntry, pluginEntry: PluginLogEntry | undefined) => T | undefined, timeoutMs: number, stop?: AbortSignal): Promise<T | undefined> {
		if (stop?.aborted) {
			return undefined;
		}

		return new Promise(resolve => {
			const finish = (value: T | undefined) => {
				clearTimeout(timer);
				unsubscribe();
				stop?.removeEventListener('abort', onStop);
				resolve(value);
			};

			const onStop = () => finish(undefined);
			const timer = setTimeout(onStop, timeoutMs);
			const unsubscribe = this.subscribe((entry, pluginEntry) => {
				const selected = select(entry, pluginEntry);
				if (selected !== undefined) {
					finish(selected);
				}
			});
			stop?.addEventListener('abort', onStop, { once: true });
		});
	}

	/** A position to pass to waitFor() to consider only entries from now on. */
	get position(): number {
		this.catchUp();
		return this.entryRing.total;
	}

	/**
	 * Waits until every line Envoy wrote before this call has been read. Envoy writes its log synchronously
	 * (stderr sink), so a line it logs now comes after everything logged earlier: meshbox asks admin to set
	 * the admin logger's level (a no-op) and waits for Envoy's own "change log level" line.
	 */
	async sync(admin: EnvoyAdmin, timeoutMs = 3000): Promise<void> {
		const from = this.position;
		await admin.setLogLevel('admin', 'info');
		await this.waitFor(entry => entry.logger === 'admin' && entry.message.includes('change log level: name=\'admin\''), timeoutMs, from);
	}

	private add(entry: EnvoyLogEntry): void {
		this.entryRing.push(entry);
		const pluginEntry = toPluginLog(entry, this.plugins);
		if (pluginEntry) {
			this.pluginEntryRing.push(pluginEntry);
		}

		for (const listener of this.listeners) {
			listener(entry, pluginEntry);
		}
	}
}
