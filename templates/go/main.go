// __NAME__: a proxy-wasm plugin (Go SDK). It logs each request's host and path, then answers the request
// itself with a fixed 200 response, so the app behind Envoy is never reached. Change it, then `npm test`.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/plugin.wasm .  (npm run build)
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetHttpContext(func(contextID uint32) types.HttpContext { return &plugin{} })
}

type plugin struct {
	types.DefaultHttpContext
}

func (p *plugin) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	host, _ := proxywasm.GetHttpRequestHeader(":authority")
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	proxywasm.LogInfof("Received request for: %s %s", host, path)
	_ = proxywasm.SendHttpResponse(200, [][2]string{{"x-service-name", "my-custom-service"}}, []byte("Hello from Wasm!\n"), -1)
	return types.ActionPause
}
