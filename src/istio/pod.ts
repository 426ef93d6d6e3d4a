/**
 * What istio-agent keeps for the life of one pod: its module cache (pkg/wasm/cache.go: URL → last checksum,
 * resourceVersions, the modules it has). One sandbox is one pod, so the state lives as long as the sandbox and
 * every re-resolution of its spec (a live update, `box.applyIstio()`, `up --watch`) sees it, as istiod's pushes
 * reach the same agent; a new sandbox starts empty, like a new pod.
 */
import type { WasmCache } from './fetch/cache.ts';

export class IstioPod {
	private readonly caches = new Map<string, WasmCache>();

	/** The pod's cache in `dir`, made by `create` the first time. */
	wasmCache(dir: string, create: () => WasmCache): WasmCache {
		let cache = this.caches.get(dir);
		if (!cache) {
			cache = create();
			this.caches.set(dir, cache);
		}

		return cache;
	}
}
