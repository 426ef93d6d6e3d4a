/**
 * Envoy's wire names: every `type.googleapis.com/…` type URL meshbox writes into a config or serves over
 * xDS, in one place. Names follow Envoy's api/ tree (the proto package + message name).
 */
const prefix = 'type.googleapis.com/';

export const typeUrls = {
	listener: `${prefix}envoy.config.listener.v3.Listener`,
	cluster: `${prefix}envoy.config.cluster.v3.Cluster`,
	routeConfiguration: `${prefix}envoy.config.route.v3.RouteConfiguration`,
	extensionConfig: `${prefix}envoy.config.core.v3.TypedExtensionConfig`,
	/** SDS (src/xds/secret-streams.ts), and gateway credentials over ADS. */
	secret: `${prefix}envoy.extensions.transport_sockets.tls.v3.Secret`,
	/** A mesh proxy's TLS (src/istio/mesh/tls.ts). */
	downstreamTlsContext: `${prefix}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
	upstreamTlsContext: `${prefix}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
	rawBuffer: `${prefix}envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer`,
	tlsInspector: `${prefix}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`,
	hcm: `${prefix}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
	httpWasm: `${prefix}envoy.extensions.filters.http.wasm.v3.Wasm`,
	networkWasm: `${prefix}envoy.extensions.filters.network.wasm.v3.Wasm`,
	tcpProxy: `${prefix}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`,
	wasmService: `${prefix}envoy.extensions.wasm.v3.WasmService`,
	router: `${prefix}envoy.extensions.filters.http.router.v3.Router`,
	httpRbac: `${prefix}envoy.extensions.filters.http.rbac.v3.RBAC`,
	networkRbac: `${prefix}envoy.extensions.filters.network.rbac.v3.RBAC`,
	lua: `${prefix}envoy.extensions.filters.http.lua.v3.Lua`,
	grpcStats: `${prefix}envoy.extensions.filters.http.grpc_stats.v3.FilterConfig`,
	fault: `${prefix}envoy.extensions.filters.http.fault.v3.HTTPFault`,
	cors: `${prefix}envoy.extensions.filters.http.cors.v3.Cors`,
	httpProtocolOptions: `${prefix}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
	routeFilterConfig: `${prefix}envoy.config.route.v3.FilterConfig`,
	stringValue: `${prefix}google.protobuf.StringValue`,
} as const;

/** The message name a type URL names (`envoy.config.listener.v3.Listener`). */
export function messageNameOf(typeUrl: string): string {
	return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}
