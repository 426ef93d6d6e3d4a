/**
 * Everything Envoy logged, as it arrives: raw lines, parsed entries, plugin entries, and waiting for an
 * entry to show up. Every runtime feeds one of these from wherever Envoy's output goes.
 */
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import type { PluginModel } from '../config/model.ts';
import type { EnvoyAdmin } from '../envoy/admin.ts';
import { EnvoyLogParser, toPluginLog, type EnvoyLogEntry, type PluginLogEntry } from '../envoy/logs.ts';
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
		const names = new Set(plugins.map(plugin => `${plugin.name}\u0000${plugin.rootId}\u0000${plugin.vmId}`));
		this.plugins = [...plugins, ...this.plugins.filter(plugin => !names.has(`${plugin.name}\u0000${plugin.rootId}\u0000${plugin.vmId}`))];
	}

	/** Feed one line of Envoy's output (without the newline). */
	pushLine(line: string): void {
		this.rawLines.push(line);

		this.parser.push(line);
		// A multi-line entry (a backtrace) arrives in one write, so its lines are pushed in the same tick;
		// once the tick is over the entry is complete and can be emitted without waiting for the next one.
		if (!this.flushScheduled) {
			this.flushScheduled = true;
			setImmediate(() => {
				this.flushScheduled = false;
				this.parser.flush();
			});
		}
	}

	/** Feeds every line of `stream` (Envoy's stdout or stderr, or a container's log) until it ends. */
	async follow(stream: Readable | null): Promise<void> {
		if (!stream) {
			return;
		}

		for await (const line of readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
			this.pushLine(line);
		}
	}

	/** Envoy's output ended: emit the last entry. */
	end(): void {
		this.parser.flush();
	}

	/** The entries kept (the newest 100 000), oldest first: a copy. */
	get entries(): readonly EnvoyLogEntry[] {
		return this.entryRing.toArray();
	}

	/** The plugin entries kept (the newest 100 000), oldest first: a copy. */
	get pluginEntries(): readonly PluginLogEntry[] {
		return this.pluginEntryRing.toArray();
	}

	/** Plugin entries ever seen, dropped ones included: a position for `pluginEntriesSince()`. */
	get pluginPosition(): number {
		return this.pluginEntryRing.total;
	}

	/** The plugin entries seen at or after `position` (a `pluginPosition` taken earlier) that are still kept. */
	pluginEntriesSince(position: number): PluginLogEntry[] {
		return this.pluginEntryRing.since(position);
	}

	/** The last `count` raw lines: what to show when Envoy fails. */
	tail(count: number): string[] {
		return this.rawLines.last(count);
	}

	subscribe(listener: (entry: EnvoyLogEntry, pluginEntry: PluginLogEntry | undefined) => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	/** Resolves with the first entry (already seen, or arriving within `timeoutMs`) that matches. */
	async waitFor(predicate: (entry: EnvoyLogEntry) => boolean, timeoutMs: number, fromPosition = 0): Promise<EnvoyLogEntry | undefined> {
		const seen = this.entryRing.since(fromPosition).find(entry => predicate(entry));
		return seen ?? this.next(entry => (predicate(entry) ? entry : undefined), timeoutMs);
	}

	/**
	 * Resolves with the first plugin entry (already seen, or arriving within `timeoutMs`) that matches;
	 * undefined after the timeout, or at once when `stop` is aborted (Envoy exited: nothing more will come).
	 */
	async waitForPluginEntry(predicate: (entry: PluginLogEntry) => boolean, timeoutMs: number, stop?: AbortSignal): Promise<PluginLogEntry | undefined> {
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
