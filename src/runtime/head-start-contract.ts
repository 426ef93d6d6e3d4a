/**
 * What `meshbox up`'s head start (./local/head-start.ts) and the runtime that adopts its Envoy agree on.
 *
 * These are the runtime contract's types (./types.ts `RuntimeStartOptions.headStart`), kept apart from the head
 * start's code so the contract does not depend on the local runtime it serves: every runtime receives the
 * option (the docker runtime only discards it), only the local one takes the Envoy.
 */
import type { ChildProcess } from 'node:child_process';
import type { JsonObject } from '../util/json.ts';
import type { PreboundListener } from '../xds/grpc-server.ts';

/**
 * How a head start holds the last run's modules from Envoy's boot on (./local/head-start-record.ts writes them):
 * - `plugins`: the plugins themselves, their filters as the sandbox's listener has them (name, root_id, vm_id,
 *   configurations). Envoy shares a VM by vm_id, VM configuration and code, and a root context by plugin name,
 *   root_id, configuration, direction and listener metadata (source/extensions/common/wasm/wasm.cc `makeVmKey`,
 *   plugin.h `createPluginKey`): the sandbox's filters, pushed later, find their VMs and root contexts made (their
 *   on_vm_start and on_configure ran at boot, once, as they would have at the push). Only while those filters are
 *   exactly what the sandbox runs: a plugin whose configuration changed since is not adopted.
 * - `modules`: a pin per module (src/envoy/pins.ts: a name and vm_id of its own), which keeps the compiled code
 *   only; for `up --watch`, where a reload must not leave the old build's root contexts logging under the
 *   plugin's name, and for Istio sidecars.
 */
export type PreloadKind = 'plugins' | 'modules';

/** What the runtime would start: adopted when the head start started exactly this. */
export type EnvoyStartPlan = {
	readonly envoyPath: string;
	readonly options: readonly string[];
	/** Built with the control plane's port 0. */
	readonly bootstrap: JsonObject;
	/** The filters the sandbox's plugins would be preloaded as (`plugins` kind): a preloaded one must be one of them. */
	readonly preloads: readonly JsonObject[];
};

/** An Envoy started ahead, handed over: the taker stops it, closes the control plane's port and removes the dir. */
export type LaunchedEnvoy = {
	readonly workDir: string;
	readonly child: ChildProcess;
	/** The control plane's port, its connections so far waiting (see PreboundListener). */
	readonly prebound: PreboundListener;
	readonly adminAddressPath: string;
	/** What Envoy runs: the record's bootstrap with the control plane's port and the pins. */
	readonly bootstrap: JsonObject;
	/** How many modules Envoy loads from its boot on, and as what. */
	readonly preloaded: number;
	readonly preload: PreloadKind;
};

/** An Envoy started ahead of the sandbox that may adopt it (implemented by ./local/head-start.ts `HeadStart`). */
export interface EnvoyHeadStart {
	/** The record's name: this command line, in this directory, with these MESHBOX_* variables. */
	readonly key: string;
	/** Whether an Envoy was started ahead and is still waiting to be taken. */
	readonly pending: boolean;
	/** Whether the Envoy started ahead (not taken yet) still runs. */
	readonly running: boolean;
	/** The Envoy started ahead, if it still runs and was started as `plan` says: it is then the caller's. */
	take(plan: EnvoyStartPlan): LaunchedEnvoy | undefined;
	/** Stops the Envoy started ahead (if any, and not taken) and removes what it left. Safe to call twice. */
	discard(): Promise<void>;
}
