/**
 * `meshbox render` for an Istio sidecar: Istio's names, node identity, and each filter's WasmPlugin (or Istio's
 * own filter) as a comment; a plain sandbox renders as before.
 */
import test from 'ava';
import { execa } from 'execa';

test('render shows the sidecar chain with each filter\'s WasmPlugin as a comment', async t => {
	const result = await execa('node', ['bin/meshbox.js', 'render', '--config', 'fixtures/istio/meshbox-istio.yaml'], { reject: false });
	t.is(result.exitCode, 0, result.stderr);
	const yaml = result.stdout;
	t.regex(yaml, /# Istio 1\.29\.6 sidecar of default\/my-app/, 'istio.version 1.29 is its latest patch');
	t.regex(yaml, /name: virtualInbound/);
	t.regex(yaml, /traffic_direction: INBOUND/);
	t.regex(yaml, /id: sidecar~127\.0\.0\.1~my-app-meshbox\.default~default\.svc\.cluster\.local/);
	t.regex(yaml, /# \(istio\.metadata_exchange: .*\)\n(\s+# .*\n)*\s+# WasmPlugin default\/my-wasm-plugin \(fixtures\/istio\/seed-wasmplugin\.yaml:3\): phase UNSPECIFIED_PHASE/);
	t.regex(yaml, /- name: extensions\.istio\.io\/wasmplugin\/default\.my-wasm-plugin\n\s+typed_config:/);
	t.regex(yaml, /failure_policy: FAIL_CLOSED/);
	t.regex(yaml, /cluster: inbound\|8080\|\|/);
	t.regex(yaml, /# \(istio\.stats: .*\)\n\s+# the router/);
});
