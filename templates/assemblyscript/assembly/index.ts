// __NAME__: a proxy-wasm plugin (AssemblyScript SDK, @gcoredev/proxy-wasm-sdk-as). It logs each request's host
// and path, then answers the request itself with a fixed 200 response, so the app behind Envoy is never
// reached. Change it, then `npm test`. Its root context is selected by root id "__NAME__" (meshbox.yaml: rootId).
export * from "@gcoredev/proxy-wasm-sdk-as/assembly/proxy";
import {
  proxy_on_context_create as sdk_on_context_create,
  proxy_on_delete as sdk_on_delete,
  proxy_on_done as sdk_on_done,
  proxy_on_log as sdk_on_log,
} from "@gcoredev/proxy-wasm-sdk-as/assembly/exports";
import { getRootContext } from "@gcoredev/proxy-wasm-sdk-as/assembly/runtime";
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

// Envoy calls proxy_on_done, proxy_on_log and proxy_on_delete for the root context too, when it stops a plugin
// (a reload of `meshbox up --watch`, Envoy's shutdown). The SDK (1.2.3) looks every id up among the stream
// contexts, where the root context is not, and traps ("abort: Key does not exist"). These exports, which take
// the place of the SDK's, send the root context's calls to the root context and the others to the SDK.
const streamContexts = new Set<u32>();

export function proxy_on_context_create(context_id: u32, root_context_id: u32): void {
  sdk_on_context_create(context_id, root_context_id);
  if (root_context_id != 0) {
    streamContexts.add(context_id);
  }
}

export function proxy_on_done(context_id: u32): u32 {
  if (streamContexts.has(context_id)) {
    return sdk_on_done(context_id);
  }
  return getRootContext(context_id).onDone() ? 1 : 0;
}

export function proxy_on_log(context_id: u32): void {
  if (streamContexts.has(context_id)) {
    sdk_on_log(context_id);
  }
}

export function proxy_on_delete(context_id: u32): void {
  if (streamContexts.has(context_id)) {
    streamContexts.delete(context_id);
    sdk_on_delete(context_id);
  }
}

registerRootContext((context_id: u32) => {
  return new PluginRoot(context_id);
}, "__NAME__");
