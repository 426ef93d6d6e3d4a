/**
 * The resolved sandbox: every default filled in, every file checked. This is what `src/envoy` renders
 * and what the runtimes start. Nothing downstream reads the user's spec.
 */
import type { LogLevel } from './spec.ts';
import type { WasmModuleInfo } from './wasm-module.ts';

export type PluginModel = {
	readonly name: string;
	readonly rootId: string;
	readonly vmId: string;
	/** Absolute path of the wasm file on this machine. */
	readonly wasmPath: string;
	readonly module: WasmModuleInfo;
	/** The exact bytes (as text) the plugin reads in on_configure; undefined when none was given. */
	readonly configuration: string | undefined;
	/** The exact bytes (as text) the plugin reads in on_vm_start; undefined when none was given. */
	readonly vmConfiguration: string | undefined;
	readonly failOpen: boolean;
	readonly env: Readonly<Record<string, string>>;
	readonly hostEnv: readonly string[];
};

export type EnvoyModel = {
	readonly logLevel: LogLevel;
	readonly componentLogLevels: Readonly<Record<string, LogLevel>>;
	readonly concurrency: number;
};

/** An extra Envoy cluster (a service plugins call with http_call). */
export type ClusterModel = {
	readonly name: string;
	readonly host: string;
	readonly port: number;
};

export type SandboxModel = {
	readonly plugins: readonly PluginModel[];
	readonly clusters: readonly ClusterModel[];
	/** Requested listener port; 0 means "any free port". */
	readonly port: number;
	/** Requested admin port; 0 means "any free port". */
	readonly adminPort: number;
	readonly envoy: EnvoyModel;
};
