/**
 * Changing a running sandbox: a new spec is resolved into a model, the runtime pushes its resources to Envoy
 * over xDS, and the change counts only once Envoy accepted it (ACK). A rejected change (NACK) is an error
 * carrying Envoy's reason and the plugin's own log lines, and the last accepted config keeps serving, as
 * in a mesh where istiod's push is refused by one proxy.
 *
 * The scenario API (`box.update()`, `box.swapPlugin()`, `box.rollback()`) and `meshbox up --watch` both
 * change sandboxes through this one class.
 *
 * Changes apply one at a time, in call order: each is resolved against the config the one before it left (a
 * `swapPlugin()` keeps the chain of the `update()` called before it) and pushed only once that one settled, so
 * ten calls started together end with the last one's config served, and `current.version` naming it. Once the
 * sandbox is closed (stopped) every change is refused with SANDBOX_STOPPED: on a warm Envoy the next sandbox
 * may already be served by the same control plane, and a push from a stopped one would replace its config.
 */
import type { SandboxModel } from '../config/model.ts';
import type { PluginSpec } from '../config/spec.ts';
import { modelFromSpec, SandboxSession } from './model.ts';
import type { SandboxSpec } from './spec.ts';
import { MeshboxError } from '../errors.ts';
import { pluginLabel } from '../envoy-admin/logs.ts';
import type { RunningSandbox } from '../runtime/types.ts';

/** What can change while Envoy runs; the rest (ports, node identity, Envoy's flags) needs a new sandbox. */
export type LiveSpec = Pick<SandboxSpec, 'plugins' | 'clusters' | 'upstream' | 'routes' | 'httpFilters'>;

// Routes and other HTTP filters are part of the listener (LDS); apps (their servers) and stats (bootstrap) are not.
const liveFields: ReadonlyArray<keyof LiveSpec> = ['plugins', 'clusters', 'upstream', 'routes', 'httpFilters'];

export type AcceptedConfig = {
	/** The control plane's version of this config: it grows with every accepted push, a rollback included. */
	readonly version: number;
	/** The spec it was resolved from (`meshbox up --watch` reloads whole models: then the starting spec). */
	readonly spec: SandboxSpec;
	readonly model: SandboxModel;
};

export class LiveSandbox {
	private readonly history: AcceptedConfig[];
	/** The change in flight and those queued behind it, settled or not: the next change starts after it. */
	private queue: Promise<unknown> = Promise.resolve();
	private closed = false;

	/** `session`: what the sandbox keeps across re-resolutions of its spec (the Istio pod's module cache). */
	constructor(private readonly running: RunningSandbox, spec: SandboxSpec, model: SandboxModel, private readonly baseDir: string, private readonly session = new SandboxSession()) {
		this.history = [{ version: running.configVersion?.() ?? 1, spec, model }];
	}

	/** The accepted config serving now. */
	get current(): AcceptedConfig {
		return this.history.at(-1)!;
	}

	/**
	 * Applies `change` (its keys replace the current spec's: `plugins` is the whole new chain) and resolves once
	 * Envoy accepted it. Rejects with ENVOY_REJECTED_CONFIG and Envoy's reason when Envoy refuses it.
	 */
	async update(change: LiveSpec): Promise<AcceptedConfig> {
		return this.inTurn('update', async () => this.updateNow(change));
	}

	/**
	 * Refuses every change from now on (SANDBOX_STOPPED), also those queued behind the one in flight; called
	 * when the sandbox stops. The change in flight is not waited for: the runtime refuses its push once stopped,
	 * and one already sent stops waiting for Envoy's answer and rejects too (src/runtime/xds-session.ts); on a
	 * warm Envoy what the stop pushes (the lease's resources removed) comes after it and wins.
	 */
	close(): void {
		this.closed = true;
	}

	/** Runs `change` after every change called before it settled (accepted or not), unless the sandbox closed meanwhile. */
	private async inTurn<T>(what: string, change: () => Promise<T>): Promise<T> {
		this.refuseIfClosed(what);
		const turn = this.queue.then(async () => {
			this.refuseIfClosed(what);
			return change();
		});
		// The queue goes on after a refused change: the next one is resolved against the last accepted config.
		this.queue = turn.catch(() => undefined);
		return turn;
	}

	private refuseIfClosed(what: string): void {
		if (this.closed) {
			throw sandboxStoppedError(what);
		}
	}

	private async updateNow(change: LiveSpec): Promise<AcceptedConfig> {
		const fixed = Object.keys(change).filter(key => !(liveFields as readonly string[]).includes(key));
		if (fixed.length > 0) {
			throw new MeshboxError('USAGE', `update: ${fixed.join(', ')} cannot change while Envoy runs (only ${liveFields.join(', ')} can)`,
				'start a new sandbox for a different port, node identity, Envoy setting or Istio config');
		}

		const spec: SandboxSpec = { ...this.current.spec, ...change };
		return this.reloadNow(await modelFromSpec(spec, { baseDir: this.baseDir, session: this.session }), spec);
	}

	/**
	 * Serves a whole new model (`meshbox up --watch`: meshbox.yaml or a module changed). Parts that cannot
	 * change while Envoy runs must be as they are; a model equal to the current one pushes nothing.
	 */
	async reload(model: SandboxModel, spec?: SandboxSpec): Promise<AcceptedConfig> {
		return this.inTurn('reload', async () => this.reloadNow(model, spec ?? this.current.spec));
	}

	private async reloadNow(model: SandboxModel, spec: SandboxSpec): Promise<AcceptedConfig> {
		const fixed = fixedParts(this.current.model, model);
		if (fixed.length > 0) {
			throw new MeshboxError('USAGE', `${fixed.join(', ')} changed, and cannot change while Envoy runs`, 'restart the sandbox to apply it');
		}

		const accepted = await this.apply(model, spec);
		if (accepted.version !== this.current.version) {
			this.history.push(accepted);
		}

		return accepted;
	}

	/** Replaces one plugin's module (a wasm path) or its whole spec, keeping its place in the chain. */
	async swapPlugin(name: string, replacement: string | PluginSpec): Promise<AcceptedConfig> {
		return this.inTurn('swapPlugin', async () => this.swapPluginNow(name, replacement));
	}

	private async swapPluginNow(name: string, replacement: string | PluginSpec): Promise<AcceptedConfig> {
		const plugins = this.current.spec.plugins ?? [];
		const index = this.current.model.plugins.findIndex(plugin => plugin.name === name);
		if (index === -1) {
			throw new MeshboxError('USAGE', `swapPlugin: no plugin named "${name}"`, `the sandbox's plugins are: ${this.current.model.plugins.map(plugin => plugin.name).join(', ') || '(none)'}`);
		}

		const old = plugins[index];
		const oldSpec: PluginSpec = typeof old === 'string' || old === undefined ? { name, wasm: this.current.model.plugins[index]!.wasmPath } : old;
		const next: PluginSpec = typeof replacement === 'string' ? { ...oldSpec, name, wasm: replacement } : { name, ...replacement };
		return this.updateNow({ plugins: plugins.map((plugin, position) => (position === index ? next : plugin)) });
	}

	/**
	 * Istio: applies WasmPlugin (and other Istio) resources as `kubectl apply` does, then re-runs selection,
	 * fetch and translation and pushes the result as istiod would. `resources`: YAML text (one or more documents)
	 * or objects; each replaces the resource of the same kind/namespace/name or is added. `replace: true` makes
	 * them the whole set (the `istio` files and earlier resources are dropped), which is how one is deleted.
	 */
	async applyIstio(resources: string | readonly unknown[], options: { replace?: boolean } = {}): Promise<AcceptedConfig> {
		return this.inTurn('applyIstio', async () => this.applyIstioNow(resources, options));
	}

	private async applyIstioNow(resources: string | readonly unknown[], options: { replace?: boolean }): Promise<AcceptedConfig> {
		const { istio } = this.current.spec;
		if (!this.current.model.sidecar || istio === undefined) {
			throw new MeshboxError('USAGE', 'applyIstio: this sandbox is not an Istio sidecar', 'start it with `workload:` and `istio:` to apply Istio resources');
		}

		const settings = Array.isArray(istio) ? { files: istio } : istio;
		const added = typeof resources === 'string' ? [resources] : [...resources];
		const spec: SandboxSpec = {
			...this.current.spec,
			istio: options.replace
				? { ...settings, files: [], resources: added }
				: { ...settings, resources: [...(settings.resources ?? []), ...added] },
		};
		return this.reloadNow(await modelFromSpec(spec, { baseDir: this.baseDir, session: this.session }), spec);
	}

	/** Goes back to the config accepted before the current one (a new version with the old contents). */
	async rollback(): Promise<AcceptedConfig> {
		return this.inTurn('rollback', async () => this.rollbackNow());
	}

	private async rollbackNow(): Promise<AcceptedConfig> {
		const previous = this.history.at(-2);
		if (!previous) {
			throw new MeshboxError('USAGE', 'rollback: there is no earlier accepted config', 'rollback() undoes an accepted update(), swapPlugin() or reload');
		}

		// The old model as it was: its modules are staged by hash, so a file rebuilt since does not matter.
		const accepted = await this.apply(previous.model, previous.spec);
		this.history.splice(-2, 2, accepted);
		return accepted;
	}

	private async apply(model: SandboxModel, spec: SandboxSpec): Promise<AcceptedConfig> {
		const logsBefore = this.running.logs.pluginPosition;
		if (!this.running.reconfigure) {
			throw new MeshboxError('USAGE', 'this sandbox cannot change while it runs (its Envoy has a static bootstrap)', 'start a new sandbox with the new spec');
		}

		const result = await this.running.reconfigure(model);
		if (result.rejections.length > 0) {
			// Envoy may have taken the parts of the update it did not refuse (a new cluster, say): serve the
			// whole last accepted config again, so nothing of the refused update stays.
			await this.running.reconfigure(this.current.model);
			// The plugin's own lines (why on_configure failed) were written before Envoy sent its NACK.
			await this.running.logs.sync(this.running.admin).catch(() => undefined);
			const pluginLines = this.running.logs.pluginEntriesSince(logsBefore)
				.filter(entry => entry.level === 'warn' || entry.level === 'error' || entry.level === 'critical')
				.map(entry => `plugin ${pluginLabel(entry)} [${entry.level}] ${entry.message}`);
			throw new MeshboxError('ENVOY_REJECTED_CONFIG',
				`Envoy rejected the update: ${result.rejections.map(rejection => rejection.message).join('; ')}`,
				`the last accepted config (version ${this.current.version}) keeps serving`,
				[...pluginLines, ...result.rejections.map(rejection => `envoy NACK of ${rejection.typeUrl}: ${rejection.message}`)]);
		}

		return { version: result.version, spec, model };
	}
}

/** What a change asked of a stopped sandbox gets: `what` is the call (`swapPlugin`, …). */
export function sandboxStoppedError(what: string): MeshboxError {
	return new MeshboxError('SANDBOX_STOPPED', `${what}(): this sandbox was stopped, and a stopped sandbox cannot change`,
		'call it before stop(), or start a new sandbox (on a warm Envoy, the next sandbox may already run where this one did)');
}

/**
 * The parts of a model that need a new Envoy: ports, node identity, Envoy's flags, and a sidecar's identity and
 * names (which workload, direction, listener). A sidecar's filter chain and plugins change like a plain one's.
 */
function fixedParts(current: SandboxModel, next: SandboxModel): string[] {
	const identity = (model: SandboxModel) => {
		if (!model.sidecar) {
			return undefined;
		}

		const { httpFilters: _http, networkFilters: _network, notes: _notes, summary: _summary, sources: _sources, ...names } = model.sidecar;
		return names;
	};

	const parts: Array<[string, unknown, unknown]> = [
		['port', current.port, next.port],
		['adminPort', current.adminPort, next.adminPort],
		['node', current.node, next.node],
		['envoy', current.envoy, next.envoy],
		// Each app is a server started with the sandbox; stats_config is in the bootstrap (src/config/routing.ts).
		['apps', current.routing?.apps ?? [], next.routing?.apps ?? []],
		['stats', current.routing?.stats, next.routing?.stats],
		['the Istio workload, direction or release', identity(current), identity(next)],
	];
	return parts.filter(([, before, after]) => JSON.stringify(before) !== JSON.stringify(after)).map(([name]) => name);
}
