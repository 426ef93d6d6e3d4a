/**
 * What istio-agent keeps for the life of one pod: its module cache (pkg/wasm/cache.go: URL → last checksum,
 * resourceVersions, the modules it has). One sandbox is one pod, so the state lives as long as the sandbox and
 * every re-resolution of its spec (a live update, `box.applyIstio()`, `up --watch`) sees it, as istiod's pushes
 * reach the same agent; a new sandbox starts empty, like a new pod.
 *
 * The pod also stands in for the API server's part that the agent sees: `metadata.resourceVersion`. The API
 * server bumps it on every write that changes an object (and leaves it alone for a `kubectl apply` that changes
 * nothing); istiod hands it to the agent as ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION, and cache.go re-pulls an
 * `imagePullPolicy: Always` (or `:latest`) module only when it changed. Without the bump, an updated
 * WasmPlugin kept the module pulled for its first version.
 */
import type { WasmCache } from './fetch/cache.ts';
import type { Extension } from './resources.ts';

type Revision = { readonly content: string; readonly resourceVersion: string };

export class IstioPod {
	private readonly caches = new Map<string, WasmCache>();
	/** kind/namespace/name → the object as last applied, and the resourceVersion it got. */
	private readonly revisions = new Map<string, Revision>();

	/** The pod's cache in `dir`, made by `create` the first time. */
	wasmCache(dir: string, create: () => WasmCache): WasmCache {
		let cache = this.caches.get(dir);
		if (!cache) {
			cache = create();
			this.caches.set(dir, cache);
		}

		return cache;
	}

	/**
	 * `extensions` with the resourceVersion the API server would have given each: the one written (or "1") the
	 * first time an object is seen, one more on each change after that. Where an object was written (file and
	 * line) is not part of it: moving a document in its file changes nothing in a cluster.
	 */
	withResourceVersions<T extends Extension>(extensions: readonly T[]): T[] {
		return extensions.map(extension => {
			const key = `${extension.kind}/${extension.namespace}/${extension.name}`;
			const content = JSON.stringify({ ...extension, origin: undefined });
			const previous = this.revisions.get(key);
			const resourceVersion = !previous ? extension.resourceVersion
				: previous.content === content ? previous.resourceVersion
				: nextVersion(previous.resourceVersion);
			this.revisions.set(key, { content, resourceVersion });
			return resourceVersion === extension.resourceVersion ? extension : { ...extension, resourceVersion };
		});
	}
}

/** resourceVersions are opaque to clients; meshbox counts up from a numeric one, and appends a count to another. */
function nextVersion(version: string): string {
	if (/^\d+$/.test(version)) {
		return String(BigInt(version) + 1n);
	}

	const counted = /^(.*)\.(\d+)$/.exec(version);
	return counted ? `${counted[1]}.${Number(counted[2]) + 1}` : `${version}.1`;
}
