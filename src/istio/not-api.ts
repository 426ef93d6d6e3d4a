/**
 * Constructs that look like Istio configuration for Wasm but are not Istio API (the seed article uses all
 * four). Each finding says what a real cluster does with it and shows the WasmPlugin that does the job.
 *
 * Sources: istio/api mesh/v1alpha1/config.proto (`MeshConfig.ExtensionProvider` is a oneof of envoyExtAuthzHttp,
 * envoyExtAuthzGrpc, zipkin, lightstep, datadog, stackdriver, opencensus, skywalking, opentelemetry, prometheus,
 * envoyFileAccessLog, envoyHttpAls, envoyTcpAls, envoyOtelAls, sds: no wasm), istio/api
 * networking/v1alpha3/virtual_service.proto (`HTTPRoute` has no wasm field), pkg/wasm/options.go (the real
 * WASM_* proxy knobs; nothing reads WASM_ENABLED anywhere in istio/istio).
 */
import { stringify } from 'yaml';
import { isRecord } from '../config/fields.ts';
import type { FindingCollector } from './findings.ts';

/** The proxy knobs that do exist (pkg/wasm/options.go, pilot/cmd/pilot-agent/options/options.go). */
const realWasmKnobs = ['WASM_INSECURE_REGISTRIES', 'WASM_MODULE_EXPIRY', 'WASM_PURGE_INTERVAL', 'WASM_HTTP_REQUEST_TIMEOUT', 'WASM_HTTP_REQUEST_MAX_RETRIES'];

export type SuggestionContext = {
	/** Namespace for the suggested WasmPlugin. */
	readonly namespace: string;
	/** Labels of the workload the plugin is for (the sandbox workload's). */
	readonly labels: Readonly<Record<string, string>>;
};

function suggestWasmPlugin(name: string, url: string, context: SuggestionContext): string {
	return stringify({
		apiVersion: 'extensions.istio.io/v1alpha1',
		kind: 'WasmPlugin',
		metadata: { name, namespace: context.namespace },
		spec: {
			selector: { matchLabels: { ...context.labels } },
			url,
			pluginName: name,
		},
	}, { lineWidth: 0 });
}

const placeholderUrl = 'oci://REGISTRY/REPOSITORY:TAG';

/** IstioOperator (install.istio.io/v1alpha1): meshConfig.extensionProviders[].wasm and WASM_ENABLED. */
export function checkIstioOperator(document: Record<string, unknown>, collector: FindingCollector, context: SuggestionContext): void {
	const spec = isRecord(document.spec) ? document.spec : {};
	const meshConfig = isRecord(spec.meshConfig) ? spec.meshConfig : undefined;
	checkMeshConfig(meshConfig, ['spec', 'meshConfig'], collector, context);
	const values = isRecord(spec.values) ? spec.values : {};
	if (isRecord(values.meshConfig)) {
		checkMeshConfig(values.meshConfig, ['spec', 'values', 'meshConfig'], collector, context);
	}
}

/** A mesh config (IstioOperator spec.meshConfig, or the `mesh` key of the istio ConfigMap). */
export function checkMeshConfig(meshConfig: Record<string, unknown> | undefined, base: ReadonlyArray<string | number>, collector: FindingCollector, context: SuggestionContext): void {
	if (!meshConfig) {
		return;
	}

	const providers = Array.isArray(meshConfig.extensionProviders) ? meshConfig.extensionProviders : [];
	for (const [index, provider] of providers.entries()) {
		if (isRecord(provider) && provider.wasm !== undefined) {
			const name = typeof provider.name === 'string' && provider.name ? provider.name : 'my-wasm-plugin';
			const url = isRecord(provider.wasm) && typeof provider.wasm.url === 'string' ? provider.wasm.url : placeholderUrl;
			collector.add('error', 'meshbox', [...base, 'extensionProviders', index, 'wasm'],
				'not Istio API: meshConfig.extensionProviders has no wasm provider. Extension providers are for ext_authz, tracing, metrics, access logs and SDS (envoyExtAuthzHttp, envoyExtAuthzGrpc, zipkin, datadog, skywalking, opentelemetry, prometheus, envoyFileAccessLog, envoyHttpAls, envoyTcpAls, envoyOtelAls, sds, …). istiod reads mesh config leniently, drops the unknown `wasm` key, and the provider does nothing.',
				'deploy the module with a WasmPlugin (extensions.istio.io/v1alpha1) that selects the workload:',
				suggestWasmPlugin(name, url, context));
		}
	}

	const defaultConfig = isRecord(meshConfig.defaultConfig) ? meshConfig.defaultConfig : {};
	checkWasmEnabled(defaultConfig.proxyMetadata, [...base, 'defaultConfig', 'proxyMetadata'], collector, context);
}

/** ProxyConfig (networking.istio.io/v1beta1): spec.environmentVariables.WASM_ENABLED. */
export function checkProxyConfig(document: Record<string, unknown>, collector: FindingCollector, context: SuggestionContext): void {
	const spec = isRecord(document.spec) ? document.spec : {};
	checkWasmEnabled(spec.environmentVariables, ['spec', 'environmentVariables'], collector, context);
}

function checkWasmEnabled(variables: unknown, base: ReadonlyArray<string | number>, collector: FindingCollector, context: SuggestionContext): void {
	if (!isRecord(variables)) {
		return;
	}

	for (const key of Object.keys(variables)) {
		if (key.toUpperCase() === 'WASM_ENABLED' || key.toUpperCase() === 'ISTIO_META_WASM_ENABLED') {
			collector.add('error', 'meshbox', [...base, key],
				`not Istio API: no proxy setting named ${key} exists; Wasm is always available in istio-proxy. The variable is accepted and ignored.`,
				`nothing needs enabling: a WasmPlugin that selects the workload is the switch. The real Wasm proxy knobs are ${realWasmKnobs.join(', ')}.`,
				suggestWasmPlugin('my-wasm-plugin', placeholderUrl, context));
		}
	}
}

/** VirtualService (networking.istio.io): `wasm:` in an http route, and headers meant to enable a plugin. */
export function checkVirtualService(document: Record<string, unknown>, collector: FindingCollector, context: SuggestionContext): void {
	const spec = isRecord(document.spec) ? document.spec : {};
	const routes = Array.isArray(spec.http) ? spec.http : [];
	const host = Array.isArray(spec.hosts) && typeof spec.hosts[0] === 'string' ? spec.hosts[0] : undefined;
	for (const [index, route] of routes.entries()) {
		if (!isRecord(route)) {
			continue;
		}

		if (route.wasm !== undefined) {
			const name = isRecord(route.wasm) && typeof route.wasm.plugin === 'string' ? route.wasm.plugin
				: (isRecord(route.wasm) && typeof route.wasm.name === 'string' ? route.wasm.name : 'my-wasm-plugin');
			const url = isRecord(route.wasm) && typeof route.wasm.url === 'string' ? route.wasm.url : placeholderUrl;
			collector.add('error', 'meshbox', ['spec', 'http', index, 'wasm'],
				'not Istio API: a VirtualService http route has no `wasm` field (HTTPRoute fields: name, match, route, redirect, directResponse, delegate, rewrite, timeout, retries, fault, mirror, mirrors, mirrorPercentage, corsPolicy, headers). kubectl apply rejects it as an unknown field (strict field validation); with validation off the API server drops it.',
				`routes cannot attach Wasm. Use a WasmPlugin with \`selector\` (or \`targetRefs\` for Gateway API gateways and waypoints) and \`match\` (mode, ports); Istio has no per-route attachment, so check the path or host inside the plugin${host ? ` (this route is for ${host})` : ''}:`,
				suggestWasmPlugin(name, url, context));
		}

		const headers = isRecord(route.headers) && isRecord(route.headers.request) ? route.headers.request : {};
		for (const operation of ['add', 'set'] as const) {
			const entries = isRecord(headers[operation]) ? headers[operation] : {};
			for (const header of Object.keys(entries)) {
				if (/wasm/i.test(header)) {
					collector.add('warning', 'meshbox', ['spec', 'http', index, 'headers', 'request', operation, header],
						`header manipulation does not enable plugins: ${header} is only added to the forwarded request. Envoy applies route header changes in the router, after every HTTP filter of this proxy ran, so a plugin on this proxy never sees it (the destination's sidecar would).`,
						'if a plugin should act on some requests only, make the plugin check a header (or path, host) itself; the plugin is enabled by a WasmPlugin selecting the workload');
				}
			}
		}
	}
}
