// __NAME__: a proxy-wasm plugin (AssemblyScript SDK, @gcoredev/proxy-wasm-sdk-as). It logs each request's host
// and path, then answers the request itself with a fixed 200 response, so the app behind Envoy is never
// reached. Change it, then `npm test`. Its root context is selected by root id "__NAME__" (meshbox.yaml: rootId).
export * from "@gcoredev/proxy-wasm-sdk-as/assembly/proxy";
import {
  Context,
  FilterHeadersStatusValues,
  makeHeaderPair,
  registerRootContext,
  RootContext,
  send_http_response,
  stream_context,
} from "@gcoredev/proxy-wasm-sdk-as/assembly";

// The SDK's log() writes "[LEVEL]: message" to stdout, which Envoy logs at info whatever the level;
// proxy_log itself keeps the level (2 = info).
// @ts-ignore: decorator
@external("env", "proxy_log")
declare function proxy_log(level: u32, message: usize, size: usize): u32;

function logInfo(message: string): void {
  const bytes = String.UTF8.encode(message);
  proxy_log(2, changetype<usize>(bytes), bytes.byteLength);
}

class PluginRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new Plugin(context_id, this);
  }
}

class Plugin extends Context {
  onRequestHeaders(_headers: u32, _end_of_stream: bool): FilterHeadersStatusValues {
    const host = stream_context.headers.request.get(":authority");
    const path = stream_context.headers.request.get(":path");
    logInfo("Received request for: " + host + " " + path);
    send_http_response(200, "", String.UTF8.encode("Hello from Wasm!\n"), [makeHeaderPair("x-service-name", "my-custom-service")]);
    return FilterHeadersStatusValues.StopIteration;
  }
}

registerRootContext((context_id: u32) => {
  return new PluginRoot(context_id);
}, "__NAME__");
