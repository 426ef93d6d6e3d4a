/**
 * Istio input read as a cluster reads it, and what `meshbox check` and the sandbox say about it: YAML 1.1 as
 * kubectl reads it (sigs.k8s.io/yaml → go-yaml v2), alias bombs as located input errors (also in meshbox.yaml),
 * URL escapes as Istio's webhook checks them, the order of plugins only creation time would decide, the RBAC
 * fallback per release, and hints in the words of the place they are shown.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { modelFromFile } from '../../src/compose/model.ts';
import { isMeshboxError } from '../../src/errors.ts';
import { resolveIstioSidecar } from '../../src/istio/sidecar.ts';
import { translate } from '../../src/istio/translate.ts';
import { versionTraits } from '../../src/istio/version.ts';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/ports.ts';
import { errors, parse, wasmPlugin } from './helpers.ts';

let dir: string;
test.before(async () => {
	dir = await mkdtemp(path.join(os.tmpdir(), 'meshbox-istio-input-'));
});
test.after.always(async () => {
	if (dir) {
		await rm(dir, { recursive: true, force: true });
	}
});

const workload = { name: 'my-app', namespace: 'default', labels: { app: 'my-app' }, port: 8080 };

/** A "billion laughs" document: each anchor holds nine aliases of the one before. */
const bomb = [
	'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
	'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
	'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
	'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
	'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
].join('\n');

test('pluginConfig reaches the plugin as the JSON kubectl + istiod make of YAML 1.1: yes/on booleans, 0755 octal, 1_000, timestamps as written', t => {
	const parsed = parse(wasmPlugin('url: oci://r/x\npluginConfig: {enabled: on, strict: no, mode: 0755, limit: 1_000, hex: 0x1F, since: 2024-01-01, at: 12:30, quoted: "yes"}'));
	t.deepEqual(errors(parsed), []);
	const [plugin] = parsed.extensions;
	const result = plugin && plugin.kind === 'WasmPlugin' && !('lua' in plugin) ? translate(plugin, versionTraits('1.29')) : undefined;
	t.true(result?.ok);
	t.is(result?.ok ? result.translation.configuration : '', '{"at":"12:30","enabled":true,"hex":31,"limit":1000,"mode":493,"quoted":"yes","since":"2024-01-01","strict":false}');
});

test('matchLabels {canary: yes} is refused as the API server refuses it (a boolean, not a string)', t => {
	const found = parse(wasmPlugin('url: oci://r/x\nselector: {matchLabels: {app: my-app, canary: yes}}')).findings.filter(finding => finding.severity === 'error');
	t.is(found.length, 1);
	t.is(found[0]?.field, 'spec.selector.matchLabels.canary');
	t.regex(found[0]?.message ?? '', /Invalid value: boolean true: must be a string/);
	t.regex(found[0]?.hint ?? '', /YAML 1\.1.*canary: "yes"/);
});

test('meshbox.yaml stays YAML 1.2: `on` is the string "on" there', async t => {
	const file = path.join(dir, 'yaml12.meshbox.yaml');
	await writeFile(file, `plugins:\n  - wasm: ${path.resolve('fixtures/plugins/seed-rust/seed-rust.wasm')}\n    configuration: {mode: on, perms: 0755}\n`);
	const model = await modelFromFile(file);
	t.is(model.plugins[0]?.configuration, '{"mode":"on","perms":755}');
});

test('an alias bomb in meshbox.yaml is an input error at the alias (file:line:col), not a crash', async t => {
	const file = path.join(dir, 'bomb.meshbox.yaml');
	await writeFile(file, `${bomb}\nplugins: []\n`);
	const error = await t.throwsAsync(modelFromFile(file));
	t.true(isMeshboxError(error) && error.code === 'CONFIG_INVALID', String(error));
	t.regex(error?.message ?? '', /bomb\.meshbox\.yaml:\d+:\d+: \*[a-e] expands its anchor beyond the alias limit/);

	const dangling = path.join(dir, 'dangling.meshbox.yaml');
	await writeFile(dangling, 'upstream: {body: *nothing}\n');
	await t.throwsAsync(modelFromFile(dangling), { message: /dangling\.meshbox\.yaml:1:18: \*nothing refers to no anchor &nothing defined before it/ });
});

test('meshbox check: an alias bomb in an Istio file is an error with its line, exit 1, no stack trace', async t => {
	const file = path.join(dir, 'bomb-istio.yaml');
	await writeFile(file, `${wasmPlugin('url: oci://r/x')}---\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: q}\nspec:\n  url: oci://r/y\n  pluginConfig:\n    ${bomb.split('\n').join('\n    ')}\n`);
	const result = await runCli(['check', file]);
	t.is(result.exitCode, 1, result.stderr);
	t.regex(result.stdout, /bomb-istio\.yaml:1[4-8]:\d+: error: document 2: \*[a-e] expands its anchor beyond the alias limit/);
	t.regex(result.stdout, /ok: WasmPlugin default\/p is valid/, 'the other documents are still checked');
	t.notRegex(`${result.stdout}${result.stderr}`, /bug in meshbox|at .*\.ts:\d+/);
});

test('URLs with invalid % escapes are refused as Istio\'s webhook refuses them (validation.go strictParseURL)', t => {
	for (const [url, escape] of [['oci://r/x%zz', '%zz'], ['https://h/plugin%2.wasm', '%2.'], ['oci://r/x#%', '%']] as const) {
		const found = errors(parse(wasmPlugin(`url: ${url}`)));
		t.deepEqual(found, [`test.yaml:7:3 spec.url: failed to parse url: parse ${JSON.stringify(url)}: invalid URL escape ${JSON.stringify(escape)}`], url);
	}

	t.deepEqual(errors(parse(wasmPlugin('url: oci://r/x%20y:v1'))), [], 'valid escapes pass');
});

test('credentials in a URL are not repeated by meshbox check', async t => {
	const file = path.join(dir, 'creds.yaml');
	await writeFile(file, wasmPlugin('url: oci://user:hunter2@r/x%zz'));
	const result = await runCli(['check', file]);
	t.is(result.exitCode, 1);
	t.regex(result.stdout, /parse "oci:\/\/xxxxx@r\/x%zz": invalid URL escape "%zz"/);
	t.false(result.stdout.includes('hunter2'));
});

test('equal priority and no creationTimestamp: file order stands in for creation order, and check and the sandbox say so', async t => {
	const file = path.join(dir, 'ties.yaml');
	const plugin = (name: string, extra = '') => `apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: ${name}, namespace: default${extra}}\nspec:\n  url: file://${process.cwd()}/fixtures/plugins/seed-rust/seed-rust.wasm\n  phase: AUTHZ\n`;
	await writeFile(file, [plugin('zz-first'), plugin('aa-second'), plugin('dated', ', creationTimestamp: "2020-01-01T00:00:00Z"')].join('---\n'));
	const result = await runCli(['check', file]);
	t.is(result.exitCode, 0, result.stdout);
	t.regex(result.stdout, /ties\.yaml:1:1: warning: WasmPlugin default\/zz-first: runs before WasmPlugin default\/aa-second only by file order: same phase \(AUTHZ\) and priority \(unset\), no metadata\.creationTimestamp; a cluster runs them in creation order/);
	t.regex(result.stdout, /→ give them different priorities/);

	const resolved = await resolveIstioSidecar({ workload, istio: [file], baseDir: dir });
	t.deepEqual(resolved.plugins.map(entry => entry.name), ['default.dated', 'default.zz-first', 'default.aa-second'], 'dated first (created earlier), then file order');
	t.true(resolved.sidecar.notes.some(note => /warning: WasmPlugin default\/zz-first, WasmPlugin default\/aa-second run in this \(file\) order: same phase/.test(note)), resolved.sidecar.notes.join('\n'));
});

test('the deny-all that replaces an unfetchable module has rules_stat_prefix from Istio 1.28 only', async t => {
	const closed = await freePort();
	const fallback = async (version: '1.27' | '1.28') => {
		const resolved = await resolveIstioSidecar({
			workload, baseDir: dir,
			istio: { version, fetchTimeoutMs: 500, cacheDir: path.join(dir, `rbac-${version}`), resources: [{
				apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', metadata: { name: 'gone', namespace: 'default' },
				spec: { url: `http://127.0.0.1:${closed}/gone.wasm` },
			}] },
		});
		const filter = resolved.sidecar.httpFilters.find(entry => entry.kind === 'typed' && entry.name.endsWith('default.gone'));
		return filter?.kind === 'typed' ? filter.typedConfig : undefined;
	};

	t.deepEqual(await fallback('1.27'), { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: {} });
	t.deepEqual(await fallback('1.28'), { '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', rules: {}, rules_stat_prefix: 'wasm-default-deny' });
});

test('TrafficExtension before 1.30: the hint fits where it is shown (check: --istio-version; the sandbox: istio.version)', async t => {
	const file = path.join(dir, 'te.yaml');
	await writeFile(file, 'apiVersion: extensions.istio.io/v1alpha1\nkind: TrafficExtension\nmetadata: {name: t, namespace: default}\nspec: {wasm: {url: oci://r/x}}\n');
	const result = await runCli(['check', file]);
	t.is(result.exitCode, 1);
	t.regex(result.stdout, /→ TrafficExtension is served from Istio 1\.30; Istio 1\.29 is emulated here \(check with --istio-version 1\.30\)/);
	t.false(result.stdout.includes('istio.version'));
	t.is((await runCli(['check', '--istio-version', '1.30', file])).exitCode, 0);

	const error = await t.throwsAsync(resolveIstioSidecar({ workload, istio: [file], baseDir: dir }));
	t.true(isMeshboxError(error) && (error.hint ?? '').includes('set istio.version: \'1.30\''), isMeshboxError(error) ? error.hint : String(error));
});
