/**
 * Credentials a user gives meshbox for module fetches stay out of its output, and a broken pull secret is
 * named as such: a token in a module URL's query is redacted like userinfo is, and a pull secret file that is
 * not JSON is a config error naming the file, the line and the JSON error (a cluster's API server refuses
 * such a Secret), not a failure to fetch the manifest.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { isMeshboxError } from '../../src/errors.ts';
import { WasmCache } from '../../src/istio/fetch/cache.ts';
import { resolveIstioSidecar } from '../../src/istio/sidecar.ts';
import { freePort } from '../helpers/ports.ts';
import { fetchRequest } from './fetch-request.ts';

let dir: string;
test.before(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-credentials-'));
});
test.after.always(async () => {
	if (dir) {
		await rm(dir, { recursive: true, force: true });
	}
});

const workload = { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 };

function wasmPlugin(name: string, spec: Record<string, unknown>): Record<string, unknown> {
	return { apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', metadata: { name, namespace: 'default' }, spec };
}

test('a token in a module URL\'s query is never shown: notes, render comments and fetch errors say xxxxx', async t => {
	const token = 'ghp-query-token-0123456789';
	const closed = await freePort();
	const url = `http://127.0.0.1:${closed}/plugin.wasm?v=2&access_token=${token}`;
	const resolved = await resolveIstioSidecar({
		workload, baseDir: dir,
		istio: { cacheDir: path.join(dir, 'cache'), fetchTimeoutMs: 2000, resources: [wasmPlugin('query-token', { url, failStrategy: 'FAIL_OPEN' })] },
	});
	const output = [...resolved.sidecar.notes, ...resolved.sidecar.httpFilters.map(filter => filter.comment)].join('\n');
	t.false(output.includes(token), output);
	t.true(output.includes(`127.0.0.1:${closed}/plugin.wasm?v=2&access_token=xxxxx`), output);

	const error = await t.throwsAsync(new WasmCache(path.join(dir, 'error')).get(fetchRequest(`https://127.0.0.1:${closed}/x.wasm?X-Amz-Signature=${token}`, { timeoutMs: 2000 })));
	t.false(error?.message.includes(token), error?.message);
});

test('a pull secret that is not JSON: a config error naming the secret, the file, the line and the JSON error', async t => {
	const secretFile = path.join(dir, 'broken-config.json');
	await writeFile(secretFile, '{\n  "auths": {\n    "registry.local:5000": { "auth": "dXNlcjpwYXNz" },\n  }\n}\n');
	const error = await t.throwsAsync(resolveIstioSidecar({
		workload, baseDir: dir,
		istio: {
			cacheDir: path.join(dir, 'cache-secret'), fetchTimeoutMs: 2000, pullSecrets: { 'reg-cred': secretFile },
			resources: [wasmPlugin('private', { url: `oci://127.0.0.1:${await freePort()}/private/plugin:v1`, imagePullSecret: 'reg-cred' })],
		},
	}));
	t.true(isMeshboxError(error) && error.code === 'CONFIG_INVALID', String(error));
	t.regex(error?.message ?? '', new RegExp(`^${secretFile.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:3: the pull secret "reg-cred" \\(istio\\.pullSecrets\\.reg-cred\\) is not valid JSON: `));
	t.notRegex(error?.message ?? '', /could not fetch manifest/);
});
