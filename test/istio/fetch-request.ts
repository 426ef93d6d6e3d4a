/**
 * A fetch request as istio-agent makes one for a WasmPlugin in `default` (the Istio fetch tests' common case),
 * by an agent without the registry realm check (before 1.27.8 / 1.28.5 / 1.29.1 / 1.30.0) unless `extra` says so.
 */
import type { FetchRequest } from '../../src/istio/fetch/cache.ts';

export function fetchRequest(url: string, extra: Partial<FetchRequest> = {}): FetchRequest {
	return { url, sha256: '', pullPolicy: 'UNSPECIFIED_POLICY', resourceName: 'extensions.istio.io/wasmplugin/default.p', resourceVersion: '1',
		pullSecret: undefined, timeoutMs: 10_000, insecureRegistries: [], registryRealmCheck: false, ...extra };
}
