//! __NAME__: a proxy-wasm plugin (Rust SDK). It logs each request's host and path, then answers the request
//! itself with a fixed 200 response, so the app behind Envoy is never reached. Change it, then `npm test`.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_http_context(|_context_id, _root_context_id| -> Box<dyn HttpContext> {
        Box::new(Plugin)
    });
}}

struct Plugin;

impl Context for Plugin {}

impl HttpContext for Plugin {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let host = self.get_http_request_header(":authority").unwrap_or_default();
        let path = self.get_http_request_header(":path").unwrap_or_default();
        log::info!("Received request for: {} {}", host, path);
        self.send_http_response(
            200,
            vec![("x-service-name", "my-custom-service")],
            Some(b"Hello from Wasm!\n"),
        );
        Action::Pause
    }
}
