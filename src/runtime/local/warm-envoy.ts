/**
 * Warm Envoys (issue #11): on the local runtime, the sandboxes of one process take turns on a long-lived Envoy
 * instead of each starting its own. A sandbox is a set of xDS resources (its listener, clusters, plugin
 * configs), pushed when it starts and removed when it stops; Envoy keeps running, and so does the compiled
 * code of its modules.
 *
 * What was measured on Envoy 1.40 (2 cores) and shaped this:
 * - Compiling a module is the cost of a start (≈0.1 s Rust, ≈1.2 s for a 3 MB Go plugin), and Envoy keeps the
 *   compiled code only while some filter uses the module. It does reuse it across vm_ids: a filter with a new
 *   vm_id on a module another filter holds starts in ≈0.1 s for Go (its runtime's init), not 1.2 s.
 * - A sandbox's plugins run with the vm_ids, names and configuration as written; nothing of the sandbox before
 *   is observable, because its VMs (and with them its shared data and queues) are gone before the next sandbox
 *   starts (./warm-isolation.ts). A small listener of pins (one filter per recently used module, vm_id
 *   `meshbox-pin-…`) keeps their compiled code alive between sandboxes.
 * - One sandbox at a time per Envoy: a sandbox's cluster names are the ones its plugins call (`http_call`),
 *   and its counters are read as its own (reset when it starts). Sandboxes started while every warm Envoy is
 *   busy get another one (up to the start slots' limit of Envoys starting at once, see ../start-slots.ts).
 *   Envoys with different bootstrap-level settings (node identity, stats config, services, log levels, the
 *   Envoy version) are never shared.
 * - Listeners drain for Envoy's default `--drain-time-s` (600 s), as on a fresh Envoy: a keep-alive client
 *   sees the same thing across a change of its sandbox's listener. A stopped sandbox's listener holds no VM
 *   (./warm-isolation.ts) and stays for the next sandbox (see `parkedListeners`); an Envoy draining many is
 *   retired (`maxDraining`).
 */
import { rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { PluginModel, SandboxModel } from '../../config/model.ts';
import { EnvoyAdmin } from '../../envoy-admin/admin.ts';
import { buildAdsBootstrap, type Placement } from '../../envoy/bootstrap.ts';
import { envoyArguments, envoyOptions } from '../../envoy-binary/command-line.ts';
import type { SandboxResources } from '../../envoy/placement.ts';
import { renderBootstrapYaml } from '../../envoy/render.ts';
import { emptySlotConfig, pinPrefix, pinSlotConfig, pinSlotName, pinSlotsListener } from '../../envoy/pins.ts';
import { typeUrls } from '../../envoy-api/type-urls.ts';
import type { JsonObject } from '../../util/json.ts';
import { ControlPlane, snapshotOf, type ResourceSnapshot } from '../../xds/control-plane.ts';
import { LogBuffer } from '../log-buffer.ts';
import { waitUntilReady, type ExitInfo } from '../ready.ts';
import { admitEnvoyStart, startSlotCount } from '../start-slots.ts';
import { wasmModulesOf } from '../../config/listeners.ts';
import { StagedModules } from '../staged-modules.ts';
import { makeWorkDir, writeOwner } from './work-dir.ts';
import { drainingCount, maxDraining, pinnedVms, releasedConfig, vmsReleased } from './warm-isolation.ts';
import { EnvoyProcess, onSignalExit, stopAllNow } from './envoy-process.ts';
import { stuckWorkerCount } from '../stuck-worker.ts';
import { wakeUpsPerSecond } from './idle-activity.ts';

const loopback = '127.0.0.1';
/** How many modules stay compiled between sandboxes (the most recently used). */
const maxPins = 8;
/** A warm Envoy's bootstrap is only the shell (node, admin, stats, the ADS source): nothing else is placed. */
const shellPlacement: Placement = { listener: { address: loopback, port: 0 }, admin: { address: loopback, port: 0 }, upstream: { address: loopback, port: 9 }, wasmPath: () => '' };
/**
 * How long a sandbox's stop() waits for Envoy to take the pins and released configs, and then for its VMs to
 * go, before the Envoy is retired. Generous: pinning a Go module starts its runtime in three VMs, seconds on a
 * loaded 2-core machine, and a retired Envoy costs the next sandbox a compile.
 */
const releaseTimeoutMs = 15_000;
/** How long a sandbox waits while every warm Envoy of its settings is held by a started sandbox (see acquire). */
const patienceMs = 2000;
/** A retired Envoy (see `retire`) gets this long to end on SIGTERM before SIGKILL. */
const retireGraceMs = 1000;
/**
 * After a release, how long until the idle check (see `checkIdle`) looks (the released listener drains for 1 s
 * first), how long it looks, and how many wake-ups a second tell an idle Envoy running something it should not
 * (measured: 36-50 with pins, 1700 with the pin of a 1 ms tick, ./idle-activity.ts).
 */
const idleCheckDelayMs = 1500;
const idleSampleMs = 1000;
const idleWakeUpsPerSecond = 500;

/** What went wrong in a lease: `retire` ends the Envoy at release; `reason` says why (in a progress line). */
export type LeaseTrouble = { readonly retire: boolean; readonly reason: string };

export type WarmStartOptions = {
	readonly envoyPath: string;
	readonly envoyVersion: string;
	readonly readyTimeoutMs: number;
	readonly progress: (line: string) => void;
};

export class WarmEnvoy {
	private static readonly pool = new Map<string, WarmEnvoy[]>();
	/** Envoys of a key on their way up (already promised to the sandbox that starts them). */
	private static readonly starting = new Map<string, number>();
	/** Sandboxes waiting for a busy Envoy of a key. */
	private static readonly waiters = new Map<string, Array<() => void>>();
	private static leaseCounter = 0;

	/** Where the current sandbox's log lines go (until Envoy is ready, they go to its boot log too). */
	private sink: LogBuffer | undefined;
	private busy = false;
	private dead = false;
	/** Whether the current sandbox is still starting (its first push, maybe a compile): it will be released soon. */
	private settling = false;
	/** Pinned modules by hash, the least recently used first. */
	private readonly pins = new Map<string, PluginModel>();
	/** The pins listener's ECDS slots (../../envoy/pins.ts): the hash each pins, so that a pin never moves. */
	private readonly slots: Array<string | undefined> = Array.from({ length: maxPins }, () => undefined);
	/** Stopped sandboxes' extension configs, replaced (./warm-isolation.ts), by name: served while Envoy asks for them. */
	private readonly released = new Map<string, JsonObject>();
	/** What `exitWatch` callers wait on; how Envoy exited, once it did. */
	private readonly exitWatchers = new Set<(info: ExitInfo) => void>();
	private exitInfo: ExitInfo | undefined;
	/** The counter reset asked for by `acquire`, for the sandbox that acquired this Envoy. */
	private counterReset: Promise<void> = Promise.resolve();
	/** Counts acquisitions: an idle check that saw one happen while it looked discards what it saw. */
	private generation = 0;
	/** The idle check found this Envoy busy with no sandbox on it: it is retired at the next release. */
	private hot = false;
	/** The current sandbox's progress lines (a retirement at its release is announced there; an idle one is silent). */
	private progress: ((line: string) => void) | undefined;
	/** What went wrong in the current lease (see `noteTrouble`); cleared when the Envoy is acquired. */
	private trouble: LeaseTrouble | undefined;

	private constructor(
		private readonly key: string,
		readonly plane: ControlPlane,
		readonly admin: EnvoyAdmin,
		private readonly child: EnvoyProcess,
		/** Resolves when Envoy exits (it never does on purpose before the process ends). */
		readonly exited: Promise<ExitInfo>,
		private readonly workDir: string,
		/** Modules as this Envoy loads them, by hash: shared by its sandboxes, so pins and sandboxes agree. */
		readonly staged: StagedModules,
		readonly bootstrapYaml: string,
		readonly envoyVersion: string,
		/** Envoy's worker threads: how many VMs a pin runs (./warm-isolation.ts). */
		private readonly concurrency: number,
	) {
		// A released config Envoy no longer asks for (its listener drained) must not hold a push up.
		plane.setOptionalExtensionConfigs((name, resource) => this.released.get(name) === resource);
	}

	/**
	 * Whether `model` can run on a warm Envoy: everything bootstrap-level is part of the Envoy's key, except
	 * a fixed admin port (each warm Envoy has its own, on a free port) and services (bootstrap extensions:
	 * their VMs, and so their shared data, would outlive the sandbox).
	 */
	static eligible(model: SandboxModel): boolean {
		return model.adminPort === 0 && (model.listeners?.services.length ?? 0) === 0;
	}

	/**
	 * A warm Envoy for `model`'s bootstrap-level settings, marked busy until `release()`: an idle one (one that
	 * holds the sandbox's modules first), else a new one while fewer than `warmPoolSize()` run for these
	 * settings, else the first to be released. Waiting for a busy Envoy beats compiling the modules in another
	 * (a 3 MB Go plugin: 1.2 s, and two compiles at once on 2 cores take as long as both in turn), but a
	 * sandbox must never wait on one its own test holds: when for `patienceMs` every Envoy of these settings was
	 * held by a sandbox that had started (none starting or compiling, none released), it starts another Envoy
	 * anyway. The wait does not count against the ready timeout.
	 */
	static async acquire(model: SandboxModel, options: WarmStartOptions): Promise<WarmEnvoy> {
		const key = keyOf(model, options);
		const hashes = wasmModulesOf(model).map(plugin => plugin.module.sha256);
		let waitedSince: number | undefined;
		let announced = false;
		for (;;) {
			const running = WarmEnvoy.pool.get(key) ?? [];
			const idle = running.filter(envoy => !envoy.busy && !envoy.dead);
			const chosen = idle.find(envoy => envoy.holds(hashes)) ?? idle[0];
			if (chosen) {
				chosen.busy = true;
				chosen.settling = true;
				chosen.trouble = undefined;
				chosen.progress = options.progress;
				chosen.generation += 1;
				chosen.keepProcessAlive(true);
				// Counters are the sandbox's own: they start at zero (gauges and histograms are not reset by Envoy).
				// Asked now, awaited before the sandbox's first push (`countersZeroed`): meanwhile it stages and encodes.
				chosen.counterReset = chosen.admin.post('reset_counters').then(() => undefined, () => undefined);
				return chosen;
			}

			const starting = WarmEnvoy.starting.get(key) ?? 0;
			if (running.length + starting >= warmPoolSize()) {
				// Patience counts only while every Envoy of these settings is held by a sandbox that has started:
				// one still starting (compiling) is on its way to being released by its scenario.
				const progressing = starting > 0 || running.some(envoy => envoy.settling);
				if (progressing || waitedSince === undefined) {
					waitedSince = Date.now();
				}

				if (!announced) {
					announced = true;
					options.progress(`meshbox: waiting for a warm Envoy: ${running.length + starting} run for these settings and all are busy (the wait does not count against the ready timeout)`);
				}

				if (Date.now() - waitedSince < patienceMs) {
					// A release, a sandbox done starting or an Envoy's death wakes the waiters: they look again.
					await WarmEnvoy.released(key, patienceMs - (Date.now() - waitedSince));
					continue;
				}
			}

			WarmEnvoy.starting.set(key, starting + 1);
			try {
				// Busy already (see start()).
				const envoy = await WarmEnvoy.start(key, model, options);
				envoy.settling = true;
				envoy.progress = options.progress;
				envoy.keepProcessAlive(true);
				return envoy;
			} finally {
				WarmEnvoy.starting.set(key, (WarmEnvoy.starting.get(key) ?? 1) - 1);
			}
		}
	}

	/** Resolves once the counters are zero for the sandbox that acquired this Envoy: before its first push. */
	async countersZeroed(): Promise<void> {
		return this.counterReset;
	}

	/** Whether this Envoy holds (pins) every module in `hashes`: a sandbox of those starts without a compile. */
	holds(hashes: readonly string[]): boolean {
		return hashes.every(hash => this.pins.has(hash));
	}

	/** Resolves when an Envoy of `key` is released, done starting its sandbox or dead, or after `ms`. */
	private static async released(key: string, ms: number): Promise<void> {
		return new Promise(resolve => {
			const wake = () => {
				clearTimeout(timer);
				resolve();
			};

			const timer = setTimeout(() => {
				WarmEnvoy.waiters.set(key, (WarmEnvoy.waiters.get(key) ?? []).filter(waiter => waiter !== wake));
				resolve();
			}, ms);
			WarmEnvoy.waiters.set(key, [...WarmEnvoy.waiters.get(key) ?? [], wake]);
		});
	}

	/** Wakes the sandboxes waiting for an Envoy of `key` (they look again; one of them gets it). */
	private static wakeWaiters(key: string): void {
		const waiting = WarmEnvoy.waiters.get(key) ?? [];
		WarmEnvoy.waiters.delete(key);
		for (const wake of waiting) {
			wake();
		}
	}

	/** A new lease number: how progress lines tell this process's warm sandboxes apart. */
	static nextLease(): number {
		WarmEnvoy.leaseCounter += 1;
		return WarmEnvoy.leaseCounter;
	}

	/** The sandbox on this Envoy has started (its first push settled, or failed): waiters weigh their wait from now. */
	settled(): void {
		this.settling = false;
		WarmEnvoy.wakeWaiters(this.key);
	}

	private static async start(key: string, model: SandboxModel, options: WarmStartOptions): Promise<WarmEnvoy> {
		const workDir = makeWorkDir();
		const plane = await ControlPlane.start({ host: loopback }).catch(async (error: unknown) => {
			await rm(workDir, { recursive: true, force: true });
			throw error;
		});
		let child: EnvoyProcess | undefined;
		try {
			// Only the shell counts: listeners, clusters and plugins come over xDS, per sandbox.
			const bootstrapYaml = renderBootstrapYaml(buildAdsBootstrap(model, shellPlacement, { address: loopback, port: plane.port }), [
				'Generated by meshbox (local runtime, warm Envoy): sandboxes take turns on this Envoy; each is its own set of xDS resources.',
			]);
			const bootstrapPath = path.join(workDir, 'envoy.yaml');
			const adminAddressPath = path.join(workDir, 'admin-address');
			await writeFile(bootstrapPath, bootstrapYaml);
			const bootLogs = new LogBuffer([]);
			// Read until Envoy is ready (what explains a failed start), then no longer: Envoy logs each sandbox's
			// listener and configs, and a buffer kept for the Envoy's life grew by those lines (issue #19).
			let booting = true;
			const slot = await admitEnvoyStart(options.progress);
			try {
				// Envoy's own drain time (600 s), as a fresh Envoy's: see the top of this file.
				child = EnvoyProcess.spawn(options.envoyPath, [...envoyArguments(model.envoy, bootstrapPath), '--admin-address-path', adminAddressPath], { forceKillAfterMs: 5000 });
				const running = child;
				let envoy: WarmEnvoy | undefined;
				// Read Envoy's output from its first line on: attached before anything else awaits.
				const output = Promise.all([running.stderr, running.stdout].map(async stream => {
					for await (const line of readline.createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
						if (booting) {
							bootLogs.pushLine(line);
						}

						// Pins log too (their on_configure, their timers): that is not the sandbox's.
						if (!line.includes(pinPrefix)) {
							envoy?.sink?.pushLine(line);
						}
					}
				}));
				writeOwner(workDir, { ownerPid: process.pid, envoyPid: running.pid });
				const exited: Promise<ExitInfo> = running.exited.then(async result => {
					await output;
					bootLogs.end();
					envoy?.sink?.end();
					return { exitCode: result.exitCode, signal: result.signal };
				});
				// Nothing to serve yet: Envoy is ready once it has the (empty) clusters and listeners.
				void plane.push(new Map());
				const admin = await waitUntilReady({ admin: EnvoyAdmin.fromAddressFile(adminAddressPath), exited, timeoutMs: options.readyTimeoutMs, logs: bootLogs });
				booting = false;
				envoy = new WarmEnvoy(key, plane, admin, running, exited, workDir, new StagedModules(path.join(workDir, 'modules')), bootstrapYaml, options.envoyVersion, model.envoy.concurrency);
				const started = envoy;
				void exited.then(info => {
					started.dead = true;
					started.exitInfo = info;
					WarmEnvoy.forget(started);
					for (const watcher of started.exitWatchers) {
						watcher(info);
					}
				});
				// Busy from the moment it is in the pool: it is the starting sandbox's, and an acquire() running while
				// this one still releases its start slot must not take it too.
				envoy.busy = true;
				WarmEnvoy.pool.set(key, [...WarmEnvoy.pool.get(key) ?? [], envoy]);
				removeAtExit(workDir, running);
				return envoy;
			} finally {
				await slot.release();
			}
		} catch (error) {
			if (child) {
				child.kill('SIGKILL');
				await child.exited;
			}

			await plane.stop();
			await rm(workDir, { recursive: true, force: true });
			throw error;
		}
	}

	/** Takes `envoy` out of the pool: no sandbox gets it from now on. */
	private static leavePool(envoy: WarmEnvoy): void {
		const list = (WarmEnvoy.pool.get(envoy.key) ?? []).filter(entry => entry !== envoy);
		if (list.length > 0) {
			WarmEnvoy.pool.set(envoy.key, list);
		} else {
			WarmEnvoy.pool.delete(envoy.key);
		}
	}

	/** After `envoy` exited: its control plane and work dir go. */
	private static forget(envoy: WarmEnvoy): void {
		WarmEnvoy.leavePool(envoy);
		void envoy.plane.stop();
		workDirsToRemove.delete(envoy.workDir);
		void rm(envoy.workDir, { recursive: true, force: true });
		WarmEnvoy.wakeWaiters(envoy.key);
	}

	/**
	 * Something went wrong in the current lease: its modules are not pinned at release (a hostile root context,
	 * a 1 ms tick, a loop in on_configure, would go on running in the pin, for the next sandboxes), and with
	 * `retire` this Envoy ends at release (see `retire`).
	 */
	noteTrouble(trouble: LeaseTrouble): void {
		this.trouble = { retire: trouble.retire || (this.trouble?.retire ?? false), reason: this.trouble?.reason ?? trouble.reason };
	}

	/**
	 * Whether this Envoy must go rather than serve another sandbox: its lease said so (a request timed out, a
	 * start that Envoy never answered), or Envoy's watchdog found a worker stuck during the lease (counters are
	 * reset at acquire; ../stuck-worker.ts), or admin does not answer (the main thread is stuck).
	 */
	private retireReason(): string | undefined {
		if (this.trouble?.retire) {
			return this.trouble.reason;
		}

		return this.hot ? 'it kept waking up while no sandbox used it (a pinned plugin\'s timer?)' : undefined;
	}

	/** The watchdog's part of `retireReason`: asked while the pins are pushed (a stop() waits for both). */
	private async watchdogRetireReason(): Promise<string | undefined> {
		const stuck = await stuckWorkerCount(this.admin);
		if (stuck === undefined) {
			return 'its admin does not answer';
		}

		return stuck > 0 ? 'a worker thread was stuck (Envoy\'s watchdog)' : undefined;
	}

	/**
	 * Ends this Envoy for good: out of the pool at once (no sandbox gets it), SIGTERM, SIGKILL after
	 * `retireGraceMs`, and only once it is gone its control plane and work dir (with the owner record the reaper
	 * goes by) are removed (see `forget`, run by its exit).
	 */
	private async retire(): Promise<void> {
		this.dead = true;
		WarmEnvoy.leavePool(this);
		this.keepProcessAlive(true);
		await this.child.terminate(retireGraceMs);
		await this.exited;
	}

	/**
	 * A while after a release, whether this Envoy, idle, keeps waking up (./idle-activity.ts): the root context of
	 * a pin (a plugin's 1 ms tick) would go on for every sandbox after it. Then it is retired: now if still idle, else at the
	 * release of the sandbox that took it meanwhile. In the background: a stop() never waits for it.
	 */
	private checkIdle(): void {
		const pid = this.child.pid;
		const generation = this.generation;
		if (pid === undefined) {
			return;
		}

		setTimeout(() => {
			void (async () => {
				if (this.dead || this.busy || this.generation !== generation) {
					return;
				}

				const wakeUps = await wakeUpsPerSecond(pid, idleSampleMs);
				// A sandbox that took this Envoy while it was looked at woke it: that says nothing.
				if (wakeUps === undefined || wakeUps < idleWakeUpsPerSecond || this.dead || this.generation !== generation) {
					return;
				}

				this.hot = true;
				if (!this.busy) {
					await this.retire();
				}
			})();
		}, idleCheckDelayMs).unref();
	}

	/**
	 * Envoy's exit as one sandbox sees it: a promise of its own, settled if Envoy exits before `detach()` (the
	 * sandbox's stop). A sandbox must never wait on `exited` itself: each reaction on it stays as long as this
	 * Envoy runs, and with it the sandbox it belongs to (≈23 KB of heap per sandbox, issue #19).
	 */
	exitWatch(): { exited: Promise<ExitInfo>; detach: () => void } {
		let watcher: ((info: ExitInfo) => void) | undefined;
		const exited = new Promise<ExitInfo>(resolve => {
			if (this.exitInfo) {
				resolve(this.exitInfo);
				return;
			}

			watcher = resolve;
			this.exitWatchers.add(resolve);
		});
		return {
			exited,
			detach: () => {
				if (watcher) {
					this.exitWatchers.delete(watcher);
				}
			},
		};
	}

	/** Whether a stopped sandbox's config of one of these names was released here (Envoy may still hold it). */
	releasedBefore(names: readonly string[]): boolean {
		return names.some(name => this.released.has(name));
	}

	/** The sandbox's log from now on: Envoy's lines go to `logs` until release. */
	follow(logs: LogBuffer): void {
		this.sink = logs;
	}

	/**
	 * What this Envoy serves besides a sandbox: the pins listener (../../envoy/pins.ts), one ECDS slot per pinned
	 * module so its compiled code stays, and the released configs of stopped sandboxes (./warm-isolation.ts).
	 */
	pinResources(): SandboxResources {
		const pins = this.pinsOnly();
		return { ...pins, extensionConfigs: [...this.released.values(), ...pins.extensionConfigs] };
	}

	/** The pins listener and its slots' configs (none while nothing is pinned). */
	private pinsOnly(): SandboxResources {
		if (this.pins.size === 0) {
			return { listeners: [], clusters: [], extensionConfigs: [] };
		}

		const slots = this.slots.map((hash, slot) => {
			const plugin = hash === undefined ? undefined : this.pins.get(hash);
			return plugin ? pinSlotConfig(slot, plugin, this.staged.pathOf(plugin)) : emptySlotConfig(slot);
		});
		return { listeners: [pinSlotsListener(maxPins, path.join(this.workDir, 'pins.sock'))], clusters: [], extensionConfigs: slots };
	}

	/**
	 * The sandbox is done: its resources go (a push of the pins alone, now including its modules, and its
	 * extension configs released), and once its VMs are gone the Envoy is free for the next one; if they are not
	 * gone within `releaseTimeoutMs`, the Envoy is retired. A pin Envoy refuses is dropped; the next sandbox then
	 * compiles that module.
	 */
	async release(modules: readonly PluginModel[]): Promise<void> {
		this.sink = undefined;
		// On its way to being free (pinning a Go module takes a while): waiters keep waiting for it.
		this.settling = true;
		try {
			let retireBecause = this.dead ? undefined : this.retireReason() ?? await this.watchdogRetireReason();
			// A lease that went wrong leaves no pins behind: only its resources go.
			if (!this.dead && retireBecause === undefined && !await this.releaseSandbox(this.trouble ? [] : modules)) {
				retireBecause = 'its stopped sandbox was not let go of in time (its VMs, its pins), or too many listeners drain';
			}

			if (retireBecause !== undefined && !this.dead) {
				this.progress?.(`meshbox: retiring the warm Envoy (admin ${this.admin.url}): ${retireBecause}`);
				await this.retire();
			} else if (!this.dead) {
				this.checkIdle();
			}
		} finally {
			this.trouble = undefined;
			// The stopped sandbox's progress lines go with it: kept here, they would keep the whole sandbox in memory.
			this.progress = undefined;
			// Whatever happened to the pins, the Envoy is free and lets go of the process.
			this.busy = false;
			this.settling = false;
			this.keepProcessAlive(false);
			WarmEnvoy.wakeWaiters(this.key);
		}
	}

	/**
	 * Releases the sandbox's extension configs (./warm-isolation.ts), pins its modules, and resolves whether
	 * Envoy then runs no VM but the pins'.
	 */
	private async releaseSandbox(modules: readonly PluginModel[]): Promise<boolean> {
		const deadline = Date.now() + releaseTimeoutMs;
		const left = () => Math.max(0, deadline - Date.now());
		// First the pins, beside the sandbox's own resources: a module only the sandbox's VMs hold stays
		// compiled (a pin's VM joins the code) before they go. In one push, Envoy may release first and compile again.
		if (!await this.pin(modules, left)) {
			return false;
		}

		// Then the sandbox's resources go, and its extension configs are released.
		const subscribed = this.plane.subscribedExtensionConfigs();
		for (const name of [...this.released.keys()]) {
			if (!subscribed.has(name)) {
				this.released.delete(name);
			}
		}

		const served = this.plane.accepted().get(typeUrls.extensionConfig) ?? new Map<string, JsonObject>();
		for (const [name, config] of served) {
			if (!isPinSlot(name) && this.released.get(name) !== config) {
				this.released.set(name, releasedConfig(config));
			}
		}

		// Its listeners stay until the next sandbox's first push (see parkedListeners).
		const between = this.pinResources();
		// Bounded: an Envoy on its way out never answers, and stop() must not wait for it.
		const result = await withTimeout(this.plane.push(snapshotOf({ ...between, listeners: [...between.listeners, ...this.parkedListeners()] })), left());
		if (result === undefined || result.rejections.length > 0) {
			return false;
		}

		const pinned = this.slots.filter(hash => hash !== undefined).length;
		if (!await vmsReleased(this.admin, pinnedVms(pinned, this.concurrency), left())) {
			return false;
		}

		return await drainingCount(this.admin).catch(() => maxDraining) < maxDraining;
	}

	/**
	 * The sandbox's listeners on port 0, kept while no sandbox runs: the next sandbox's listener of the same name
	 * and config is then no change at all. A listener removed or changed drains for `--drain-time-s` (600 s),
	 * and while it drains its filters stay subscribed to their extension configs, by name: each later push of a
	 * config of that name goes to every one of them (measured: a sandbox in turn slowed by ≈0.45 ms per earlier
	 * sandbox of the same plugin names, 22 → 154 ms after 300). A fixed port is never kept: it is the user's.
	 */
	private parkedListeners(): JsonObject[] {
		const listeners = this.plane.accepted().get(typeUrls.listener) ?? new Map<string, JsonObject>();
		return [...listeners.values()].filter(listener => {
			const socket = (listener.address as { socket_address?: { port_value?: number } } | undefined)?.socket_address;
			return socket !== undefined && (socket.port_value ?? 0) === 0;
		});
	}

	/**
	 * Pins `modules` (the most recently used stay) and, when that changes the pins, pushes them beside what Envoy
	 * runs now: resolves whether Envoy took them. A pin Envoy refuses drops every pin.
	 */
	private async pin(modules: readonly PluginModel[], left: () => number): Promise<boolean> {
		await this.staged.stage(modules);
		const before = this.pinsKey();
		for (const plugin of modules.filter(pinnable)) {
			const hash = plugin.module.sha256;
			this.pins.delete(hash);
			this.pins.set(hash, plugin);
		}

		while (this.pins.size > maxPins) {
			this.pins.delete(this.pins.keys().next().value!);
		}

		this.assignSlots();
		if (this.pinsKey() === before) {
			return true;
		}

		const result = await withTimeout(this.plane.push(this.besideRunning(this.pinsOnly())), left());
		if (result && result.rejections.length > 0) {
			this.pins.clear();
			this.assignSlots();
			return (await withTimeout(this.plane.push(this.besideRunning(this.pinsOnly())), left()))?.rejections.length === 0;
		}

		return result !== undefined;
	}

	/** What the pins run (their modules and configs): when it is unchanged, nothing is pushed. */
	private pinsKey(): string {
		return JSON.stringify(this.pinsOnly().extensionConfigs);
	}

	/** What Envoy runs now, with `resources` added (or replacing those of their names). */
	private besideRunning(resources: SandboxResources): ResourceSnapshot {
		const added = snapshotOf(resources);
		return new Map([...this.plane.accepted()].map(([typeUrl, running]) => [typeUrl, new Map([...running, ...added.get(typeUrl) ?? new Map<string, JsonObject>()])]));
	}

	/** Each pin keeps its slot; a new one takes a free slot (one let go of, or never used). */
	private assignSlots(): void {
		for (const [slot, hash] of this.slots.entries()) {
			if (hash !== undefined && !this.pins.has(hash)) {
				this.slots[slot] = undefined;
			}
		}

		for (const hash of this.pins.keys()) {
			if (!this.slots.includes(hash)) {
				this.slots[this.slots.indexOf(undefined)] = hash;
			}
		}
	}

	/**
	 * An idle warm Envoy must not keep this process alive (a test file's process ends when its work is done):
	 * its child, its output pipes and its control plane let go while no sandbox uses it. When the process
	 * exits, ./envoy-process.ts stops Envoy and the work dir goes.
	 */
	private keepProcessAlive(on: boolean): void {
		this.child.keepProcessAlive(on);
		this.plane.keepProcessAlive(on);
	}
}

/**
 * Work dirs of this process's warm Envoys, with their Envoy: removed when it exits (one 'exit' listener, however
 * many Envoys ran), once the Envoys are stopped (./envoy-process.ts, `stopAllNow`: SIGTERM, then SIGKILL). A
 * work dir whose Envoy is not confirmed gone stays, owner record and all, for the reaper (./reaper.ts).
 */
const workDirsToRemove = new Map<string, EnvoyProcess>();
let exitListening = false;

function removeAtExit(workDir: string, child: EnvoyProcess): void {
	if (!exitListening) {
		exitListening = true;
		const removeWorkDirs = () => {
			stopAllNow();
			for (const [dir, envoy] of workDirsToRemove) {
				if (envoy.isGoneNow()) {
					rmSync(dir, { recursive: true, force: true });
				}
			}
		};

		process.once('exit', removeWorkDirs);
		onSignalExit(removeWorkDirs);
	}

	workDirsToRemove.set(workDir, child);
}

/**
 * How many warm Envoys of one setting a process runs before a sandbox waits for a busy one: the start slots
 * (MESHBOX_START_SLOTS), but never more than the cores, since more would only compile the same modules again
 * side by side (`npm run bench` raises the slots so its own measurements never wait in line).
 */
export function warmPoolSize(): number {
	return Math.min(startSlotCount(), os.availableParallelism());
}

/** Bootstrap-level settings: sandboxes share an Envoy only when these are equal. */
function keyOf(model: SandboxModel, options: WarmStartOptions): string {
	return JSON.stringify({ envoy: options.envoyPath, args: envoyOptions(model.envoy), shell: buildAdsBootstrap(model, shellPlacement, { address: loopback, port: 0 }) });
}

/**
 * Whether a module may be pinned. Not one that defines metrics (it imports `env.proxy_define_metric`; the Rust SDK
 * imports it only when a plugin defines one, Go's and AssemblyScript's likewise): Envoy names a plugin metric by
 * its name alone (`wasmcustom.<name>`), one stat for every VM that defines it, so a pin running the plugin's
 * on_configure would keep the stat, and a gauge's value, alive for the next sandbox; it starts at zero on a
 * fresh Envoy. Such a module is compiled again by each sandbox, as on a fresh Envoy.
 */
function pinnable(plugin: PluginModel): boolean {
	return !plugin.module.imports.some(name => name.endsWith('.proxy_define_metric'));
}

/** Whether an extension config is one of the pins listener's slots. */
function isPinSlot(name: string): boolean {
	return name.startsWith(pinSlotName(0).slice(0, -1));
}

/** `promise`'s value, or undefined once `ms` passed (the timer does not keep the process alive). */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<undefined>(resolve => {
		timer = setTimeout(() => resolve(undefined), ms);
		timer.unref();
	});
	try {
		return await Promise.race([promise, timeout]);
	} finally {
		clearTimeout(timer);
	}
}
