/**
 * One sandbox's xDS session, the part both runtimes share: the control plane (src/xds) that serves the
 * model's resources (src/envoy) to Envoy, the first push that is part of starting, and every later change.
 *
 * A runtime brings what differs: where Envoy finds the modules (a directory here, a container's file system
 * there: `ModuleStage`), where things are (`Placement`), and what else follows an accepted change (the app's
 * answer). The control plane always listens on this machine's loopback; a runtime whose Envoy runs elsewhere
 * relays to it.
 */
import type { SandboxModel } from '../config/model.ts';
import type { EnvoyAdmin } from '../envoy-admin/admin.ts';
import { wasmModulesOf } from '../config/listeners.ts';
import { buildResources, type Placement, type SandboxResources } from '../envoy/bootstrap.ts';
import { explainStartupFailure } from '../envoy-binary/startup-failure.ts';
import { MeshboxError } from '../errors.ts';
import { ControlPlane, snapshotOf, type PushRejection, type PushResult, type ResourceSnapshot } from '../xds/control-plane.ts';
import type { PreboundListener } from '../xds/grpc-server.ts';
import type { LogBuffer } from './log-buffer.ts';
import type { ExitInfo } from './ready.ts';

/** Where Envoy loads modules from: each staged under a name made of its SHA-256 before any push names it. */
export type ModuleStage = {
	/** Makes the plugins' modules available to Envoy (those not staged yet). */
	stage(plugins: SandboxModel['plugins']): Promise<void>;
};

export type XdsSessionOptions = {
	readonly model: SandboxModel;
	readonly placement: Placement;
	readonly modules: ModuleStage;
	readonly logs: LogBuffer;
	/** After Envoy accepted a change (and at start): what the runtime does besides Envoy (the app's answer). */
	readonly onAccepted?: (model: SandboxModel) => Promise<void> | void;
	/** Resources served beside the sandbox's own (a warm Envoy's pins, ./local/warm-envoy.ts). */
	readonly extra?: () => SandboxResources;
	/** The control plane's port, bound already (`meshbox up`'s head start, ./local/head-start.ts). */
	readonly prebound?: PreboundListener;
};

export class XdsSession {
	private initialPush: Promise<PushResult> | undefined;
	/** Whether Envoy answered the first push (an ACK or a NACK). */
	private initialAnswered = false;
	private stopped = false;
	/** Resolved by stop(): a push in flight then never gets its answer (an owned plane is gone, a warm one serves the next sandbox). */
	private readonly onStop: { promise: Promise<'stopped'>; resolve: () => void } = stopSignal();

	/**
	 * `owned`: the control plane is this session's (stopped with it); otherwise it serves a warm Envoy, and the
	 * session's versions count from `baseVersion`, so a sandbox's config is version 1 after its start as always.
	 */
	private constructor(private readonly plane: ControlPlane, private readonly options: XdsSessionOptions, private readonly owned = true, private readonly baseVersion = 0) {}

	/** A session on a warm Envoy's control plane (./local/warm-envoy.ts): pushes replace what it served before. */
	static async attach(plane: ControlPlane, options: XdsSessionOptions): Promise<XdsSession> {
		await options.modules.stage(wasmModulesOf(options.model));
		return new XdsSession(plane, options, false, plane.acceptedVersion);
	}

	/** Starts the control plane on 127.0.0.1 and queues the first push: Envoy gets it as soon as it connects. */
	static async start(options: XdsSessionOptions): Promise<XdsSession> {
		const session = await XdsSession.bind(options);
		session.pushInitial();
		return session;
	}

	/**
	 * `start` without the first push: call `pushInitial()` right after spawning Envoy, so that loading the
	 * schemas and encoding the resources (tens of ms) run while Envoy boots rather than before it (helper G, #9).
	 */
	static async bind(options: XdsSessionOptions): Promise<XdsSession> {
		const plane = await ControlPlane.start({ host: '127.0.0.1', prebound: options.prebound });
		try {
			const session = new XdsSession(plane, options);
			// Every module: HTTP plugins, TCP listeners' network plugins, services (src/config/listeners.ts).
			await options.modules.stage(wasmModulesOf(options.model));
			return session;
		} catch (error) {
			await plane.stop();
			throw error;
		}
	}

	/** Serves the model (once): Envoy gets it as soon as it asks. A refused resource surfaces in `settleStart`. */
	pushInitial(): void {
		if (!this.initialPush) {
			this.initialPush = this.plane.push(this.snapshot(this.options.model));
			// Awaited by settleStart, later: an invalid resource must not be an unhandled rejection meanwhile.
			this.initialPush.then(() => {
				this.initialAnswered = true;
			}, () => undefined);
		}
	}

	/** Settles once Envoy answered the first push (ACK or NACK); never before `pushInitial`. */
	get firstAnswer(): Promise<unknown> {
		return this.initialPush ?? new Promise(() => undefined);
	}

	/** The control plane's port on 127.0.0.1. */
	get port(): number {
		return this.plane.port;
	}

	/** The version of the config Envoy runs (1 after start). */
	get version(): number {
		return Math.max(0, this.plane.acceptedVersion - this.baseVersion);
	}

	/**
	 * Waits (after Envoy is ready) until Envoy answered the first push. Envoy exiting meanwhile is a start-up
	 * failure explained from its log. A refused resource is a start-up failure too, unless `tolerate` (an Istio
	 * sidecar: it NACKs the plugin and keeps serving without it): then the rejections are returned.
	 */
	async settleStart({ exited, admin, tolerate, timeoutMs }: { exited: Promise<ExitInfo>; admin: EnvoyAdmin; tolerate: boolean; timeoutMs: number }): Promise<readonly PushRejection[]> {
		const { logs } = this.options;
		// Bounded: an Envoy whose main thread a plugin holds (an on_configure that never returns) answers nothing,
		// and a start must end within its ready timeout (issue #19, item 5).
		let timer: NodeJS.Timeout | undefined;
		const deadline = new Promise<{ timedOut: true }>(resolve => {
			timer = setTimeout(() => resolve({ timedOut: true }), timeoutMs);
		});
		const outcome = await Promise.race([this.initialPush!, exited.then(exit => ({ exit })), deadline]).finally(() => clearTimeout(timer));
		if ('timedOut' in outcome) {
			throw this.unansweredStart(timeoutMs);
		}

		if ('exit' in outcome) {
			throw explainStartupFailure({ entries: logs.entries, pluginEntries: logs.pluginEntries, tail: logs.tail(30), exitCode: outcome.exit.exitCode });
		}

		// The plugin's own lines were written before Envoy sent its NACK: read Envoy's log up to now first.
		if (outcome.rejections.length > 0) {
			await logs.sync(admin).catch(() => undefined);
		}

		if (outcome.rejections.length > 0 && !tolerate) {
			throw explainStartupFailure({
				entries: logs.entries,
				pluginEntries: logs.pluginEntries,
				tail: logs.tail(30),
				exitCode: undefined,
				rejected: outcome.rejections.map(rejection => rejection.message),
			});
		}

		await this.options.onAccepted?.(this.options.model);
		return outcome.rejections;
	}

	/**
	 * A start that timed out waiting for Envoy to be ready, explained: when Envoy never answered the first push,
	 * what held it is the sandbox's configuration (an on_configure that never returns holds Envoy's main thread,
	 * so admin stops answering too): the same error, naming the plugins, as on a warm Envoy (`settleStart`).
	 */
	explainReadyTimeout(error: unknown, timeoutMs: number): unknown {
		const timedOut = error instanceof MeshboxError && error.code === 'ENVOY_START_FAILED';
		return timedOut && this.initialPush && !this.initialAnswered ? this.unansweredStart(timeoutMs) : error;
	}

	/** The error of a start whose first push Envoy did not answer within `timeoutMs`, naming the sandbox's plugins. */
	private unansweredStart(timeoutMs: number): MeshboxError {
		const { logs, model } = this.options;
		const names = [...new Set(wasmModulesOf(model).map(plugin => plugin.name))];
		const plugins = names.length === 0 ? '' : ` (its plugin${names.length === 1 ? '' : 's'}: ${names.join(', ')})`;
		const details = logs.pluginEntries.slice(-10).map(entry => `plugin ${entry.plugin ?? '?'} [${entry.level}] ${entry.message}`);
		return new MeshboxError('ENVOY_START_FAILED', `Envoy did not take the sandbox's configuration within ${timeoutMs} ms${plugins}`,
			'a plugin whose on_vm_start or on_configure never returns holds Envoy\'s main thread (that Envoy is stopped); otherwise the machine may be overloaded: raise readyTimeoutMs',
			details.length > 0 ? details : logs.tail(15));
	}

	/**
	 * Serves `next` and resolves with what Envoy did: accepted (then `onAccepted` ran), or rejected with its
	 * reason, the last accepted config still serving. The version is this session's (as `version`). Refused
	 * with SANDBOX_STOPPED once the session stopped: a warm Envoy's control plane then serves another sandbox,
	 * whose config a push of this one would replace (an owned one is gone, and the push would never settle).
	 */
	async reconfigure(next: SandboxModel): Promise<PushResult> {
		this.refuseIfStopped();
		this.options.logs.attribute(wasmModulesOf(next));
		await this.options.modules.stage(wasmModulesOf(next));
		// Staging takes a while (a copy, a hash): the sandbox may have stopped meanwhile.
		this.refuseIfStopped();
		// A stop while Envoy has not answered yet ends the wait: the answer may never come.
		const result = await Promise.race([this.plane.push(this.snapshot(next)), this.onStop.promise]);
		if (result === 'stopped') {
			throw stoppedError();
		}

		if (result.rejections.length === 0) {
			await this.options.onAccepted?.(next);
		}

		return { ...result, version: Math.max(0, result.version - this.baseVersion) };
	}

	async stop(): Promise<void> {
		this.stopped = true;
		this.onStop.resolve();
		if (this.owned) {
			await this.plane.stop();
		}
	}

	private refuseIfStopped(): void {
		if (this.stopped) {
			throw stoppedError();
		}
	}

	private snapshot(model: SandboxModel): ResourceSnapshot {
		const built = buildResources(model, this.options.placement, { ecds: true });
		const own = built;
		const extra = this.options.extra?.();
		// The sandbox's own after the extra: of two of one name (a warm Envoy's released config of an earlier
		// sandbox's plugin, ./local/warm-isolation.ts), the sandbox's is served.
		return snapshotOf(extra ? {
			listeners: [...extra.listeners, ...own.listeners],
			clusters: [...extra.clusters, ...own.clusters],
			extensionConfigs: [...extra.extensionConfigs, ...own.extensionConfigs],
			secrets: [...(extra.secrets ?? []), ...(own.secrets ?? [])],
		} : own);
	}
}

function stoppedError(): MeshboxError {
	return new MeshboxError('SANDBOX_STOPPED', 'the sandbox was stopped: its Envoy config cannot change any more', 'change a sandbox before stop(), or start a new one');
}

function stopSignal(): { promise: Promise<'stopped'>; resolve: () => void } {
	let resolve: () => void = () => undefined;
	const promise = new Promise<'stopped'>(settle => {
		resolve = () => settle('stopped');
	});
	return { promise, resolve };
}
