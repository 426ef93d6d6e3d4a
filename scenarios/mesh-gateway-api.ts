/**
 * Gateway API (issue #21, fixtures/mesh/gateway-api/): a Gateway of class `istio` with an HTTPRoute to my-app,
 * and a WasmPlugin with `targetRefs` to that Gateway. Istio deploys the Gateway as `<name>-<class>`
 * (`my-gateway-istio`; pilot/pkg/config/kube/gateway: getDefaultName) and the plugin runs there only: not on
 * the classic ingress gateway (istio: ingressgateway), which routes another host to the same app, and not on
 * my-app's sidecar (a sidecar ignores targetRef'd plugins: pilot/pkg/model/policyattachment.go).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { meshFor, scenarioRuntimes, type MeshOptions } from 'meshbox';
import { parse } from 'yaml';

const runtimes = await scenarioRuntimes();

/** A mesh file as the scenario API takes it: `istio.files` resolved from the file's directory, as `meshbox up --config` does. */
async function meshFile(file: string): Promise<MeshOptions> {
	const spec = parse(await readFile(file, 'utf8')) as MeshOptions & { istio: { files: string[] } };
	return { ...spec, istio: { ...spec.istio, files: spec.istio.files.map(name => path.join(path.dirname(file), name)) } };
}

for (const runtime of runtimes) {
	test(`[${runtime}] a WasmPlugin with targetRefs to a Gateway runs on that Gateway's deployment only`, async t => {
		const mesh = await meshFor(t, { runtime, ...await meshFile('fixtures/mesh/gateway-api/meshbox.yaml') });
		const probeLines = async (proxy: string) => (await mesh.proxy(proxy).logs({ message: 'probe-gateway-api: ' })).map(entry => entry.message);

		const viaGatewayApi = await mesh.request('/api', { host: 'gwapi.example.com', gateway: 'my-gateway-istio' });
		t.is(viaGatewayApi.status, 200);
		t.is(viaGatewayApi.body, 'Hello from my-app!\n', 'the HTTPRoute sends it to my-app');
		t.is(viaGatewayApi.headers['x-probe-gateway-api'], 'seen', 'the targetRef\'d plugin ran on my-gateway-istio');
		const gatewayLines = await probeLines('my-gateway-istio');
		t.true(gatewayLines.includes('probe-gateway-api: request GET /api'), gatewayLines.join('\n'));
		// The HTTPRoute's backendRef my-app:8080, as istiod names its cluster.
		t.true(gatewayLines.includes('probe-gateway-api: xds.cluster_name=outbound|8080||my-app.default.svc.cluster.local'), gatewayLines.join('\n'));

		const viaClassic = await mesh.request('/classic', { host: 'classic.example.com', gateway: 'istio-ingressgateway' });
		t.is(viaClassic.status, 200);
		t.is(viaClassic.body, 'Hello from my-app!\n', 'the classic gateway\'s VirtualService sends it to my-app too');
		t.is(viaClassic.headers['x-probe-gateway-api'], undefined, 'the classic ingress gateway does not run the plugin');
		t.deepEqual(await probeLines('istio-ingressgateway'), []);
		t.deepEqual(await probeLines('my-app'), [], 'nor does the sidecar');

		t.deepEqual((await mesh.workload('my-app').recordings.requests()).map(request => request.path), ['/api', '/classic']);
	});
}
