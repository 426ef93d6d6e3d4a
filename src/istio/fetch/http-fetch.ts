/**
 * http(s):// modules, fetched as istio-agent does (pkg/wasm/httpfetcher.go): up to 5 attempts with exponential
 * backoff from 500 ms, retrying transport errors and 5xx except 501, 505 and 511; any other non-200 stops at
 * once. The body is unboxed (gzip, tar) afterwards by the cache.
 */
import got, { RequestError } from 'got';

export type HttpFetchOptions = {
	/** The whole fetch's budget (istiod's HttpUri timeout, 30 s). */
	readonly timeoutMs: number;
	/** WASM_HTTP_REQUEST_TIMEOUT (15 s). */
	readonly requestTimeoutMs?: number;
	/** WASM_HTTP_REQUEST_MAX_RETRIES (5). */
	readonly maxAttempts?: number;
	/** Skip TLS verification (WASM_INSECURE_REGISTRIES lists the host, or `*`). */
	readonly insecure: boolean;
};

const notRetried = new Set([501, 505, 511]);

export async function httpFetch(url: string, options: HttpFetchOptions): Promise<Buffer> {
	const deadline = Date.now() + options.timeoutMs;
	const maxAttempts = options.maxAttempts ?? 5;
	let delay = 500;
	let lastError = '';
	let attempt = 0;
	while (attempt < maxAttempts) {
		attempt++;
		const remaining = deadline - Date.now();
		if (remaining <= 0) {
			break;
		}

		try {
			const response = await got(url, {
				responseType: 'buffer',
				throwHttpErrors: false,
				retry: { limit: 0 },
				timeout: { request: Math.min(options.requestTimeoutMs ?? 15_000, remaining) },
				https: { rejectUnauthorized: !options.insecure },
				decompress: false,
			});
			if (response.statusCode === 200) {
				return response.body;
			}

			lastError = `wasm module download request failed: status code ${response.statusCode}`;
			if (response.statusCode < 500 || notRetried.has(response.statusCode)) {
				throw new Error(lastError);
			}
		} catch (error) {
			if (!(error instanceof RequestError)) {
				throw error;
			}

			lastError = `Get ${JSON.stringify(url)}: ${error.code ? `${error.code} ` : ''}${error.message}`;
		}

		if (attempt < maxAttempts) {
			await new Promise(resolve => setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now()))));
			delay *= 2;
		}
	}

	throw new Error(`wasm module download failed after ${attempt} attempts, last error: ${lastError}`);
}
