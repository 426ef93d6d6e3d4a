module __NAME__

// Go 1.24+: its wasip1 port builds reactors (-buildmode=c-shared), which the proxy-wasm Go SDK needs.
go 1.24

// The SDK has no tagged releases; it is pinned to a commit (pseudo-version).
require github.com/proxy-wasm/proxy-wasm-go-sdk v0.0.0-20260105142703-44c7d5847745
