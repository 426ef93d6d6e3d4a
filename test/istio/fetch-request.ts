/** A fetch request as istio-agent makes one for a WasmPlugin in `default` (the Istio fetch tests' common case). */
import type { FetchRequest } from '../../src/istio/fetch/cache.ts';

export function fetchRequest(url: string, extra: Partial<FetchRequest> = {}): FetchRequest {
	return { url, sha256: '', pullPolicy: 'UNSPECIFIED_POLICY', resourceName: 'extensions.istio.io/wasmplugin/default.p', resourceVersion: '1',
		pullSecret: undefined, timeoutMs: 10_000, insecureRegistries: [], ...extra };
}
