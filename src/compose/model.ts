/**
 * Spec → model, the one way both front ends (the CLI and the scenario API) and live updates take: src/config
 * resolves the plain sandbox, then src/istio turns it into a sidecar when the spec has `workload:` / `istio:`.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { configError, noLocation, type Locator } from '../config/fields.ts';
import { loadConfigFile } from '../config/load-file.ts';
import type { SandboxModel } from '../config/model.ts';
import { resolveSpec, type ResolvedSpec, type ResolveOptions } from '../config/resolve.ts';
import type { TypedConfigCheck } from '../config/routing.ts';
import { checkPatches } from '../envoy/patch-check.ts';
import { MeshboxError } from '../errors.ts';
import { IstioPod } from '../istio/pod.ts';
import type { MeshModel } from '../istio/mesh/model.ts';
import { envoySchemas } from '../xds/protobuf.ts';
import { istioFields } from './spec.ts';

export type ModelOptions = Omit<ResolveOptions, 'extensionFields'> & {
	/** State one sandbox keeps across re-resolutions of its spec (live updates); see SandboxSession. */
	readonly session?: SandboxSession;
};

/** What one sandbox keeps while its spec is resolved again and again (live updates): the Istio pod's state. */
export class SandboxSession {
	readonly istioPod = new IstioPod();
}

/** Envoy's API (the xDS encoder, src/xds) checks the typed_configs a spec gives, at spec-reading time. */
const checkTypedConfig: TypedConfigCheck = (typedConfig, where) => {
	envoySchemas().encodeAny(typedConfig, where);
};

/** A spec object (startSandbox, `box.update()`) → the model to start or serve. */
export async function modelFromSpec(spec: unknown, options: ModelOptions): Promise<SandboxModel> {
	const { session: _session, ...resolveOptions } = options;
	return checkPatches(await withIstio(await resolveSpec(spec, { ...resolveOptions, extensionFields: istioFields, checkTypedConfig }), options));
}

/** meshbox.yaml → the model, with every error at file:line:col. */
export async function modelFromFile(file: string, options: Pick<ModelOptions, 'overrides' | 'defaults' | 'session'> = {}): Promise<SandboxModel> {
	const resolved = await loadConfigFile(file, { overrides: options.overrides, defaults: options.defaults, extensionFields: istioFields, checkTypedConfig });
	return checkPatches(await withIstio(resolved, options));
}

async function withIstio(resolved: ResolvedSpec, options: Pick<ModelOptions, 'overrides' | 'session'>): Promise<SandboxModel> {
	const { model, extensions, locate } = resolved;
	if (extensions.workload === undefined && extensions.istio === undefined) {
		return model;
	}

	const where = locate([extensions.istio === undefined ? 'workload' : 'istio']);
	if (options.overrides?.plugins && options.overrides.plugins.length > 0) {
		throw new MeshboxError('USAGE', `--plugin: ${where ?? 'the spec'} makes the sandbox an Istio sidecar, whose plugins come from the WasmPlugin resources`,
			'drop --plugin, or use a config without `istio:` / `workload:` for a plain sandbox');
	}

	if (model.plugins.length > 0) {
		throw configError(locate, ['plugins'], 'with `istio:` the plugins come from the WasmPlugin resources',
			'remove `plugins`, or drop `istio:` for a plain sandbox');
	}

	// A sidecar's listener, routes, cluster and chain are istiod's (src/istio); `stats:` (bootstrap) applies to both.
	const plainOnly = (['apps', 'routes', 'httpFilters'] as const).find(field => model.routing && model.routing[field].length > 0);
	if (plainOnly) {
		throw configError(locate, [plainOnly], `with \`istio:\` / \`workload:\` the sidecar's listener, routes and filter chain are istiod's: \`${plainOnly}\` is for a plain sandbox`,
			'change a sidecar with an EnvoyFilter in the `istio:` files (or `envoy.patches`), or drop `istio:` / `workload:` for a plain sandbox');
	}

	// Loaded only for specs that ask for it.
	const { resolveIstioSidecar } = await import('../istio/sidecar.ts');
	const istio = await resolveIstioSidecar({ workload: extensions.workload, istio: extensions.istio, baseDir: resolved.baseDir, locate, pod: options.session?.istioPod, clusters: model.clusters });
	// The Envoy of an explicit istio.version, unless a version was asked for (issue #12: src/istio/proxy-envoy.ts).
	const { withIstioEnvoy } = await import('../istio/proxy-envoy.ts');
	// EnvoyFilter patches (istiod's) first, then meshbox.yaml's envoy.patches; notes name those that match nothing.
	const { withUnmatchedPatchNotes } = await import('../istio/envoy-filter.ts');
	const patches = [...istio.patches, ...(model.patches ?? [])];
	return withIstioEnvoy(withUnmatchedPatchNotes({
		...model,
		plugins: istio.plugins,
		// ext_authz providers' clusters (istiod's names, at the sandbox cluster standing in for the service).
		clusters: [...model.clusters, ...istio.clusters.filter(cluster => !model.clusters.some(existing => existing.name === cluster.name))],
		sidecar: istio.sidecar,
		envoy: istio.envoyLogLevels && !resolved.logLevelsGiven ? { ...model.envoy, ...istio.envoyLogLevels } : model.envoy,
		...(patches.length > 0 ? { patches } : {}),
	}), extensions.istio);
}

// --- A mesh (issue #21): `mesh:` + `istio:` → MeshModel, by src/istio/mesh/resolve.ts ----------------------------

/** What one mesh keeps while its spec is resolved again (live updates, `up --watch`): istio-agent's state (module cache). */
export class MeshSession {
	readonly istioPod = new IstioPod();
}

/**
 * A mesh spec object (`startMesh({ mesh, istio })`, `mesh.applyIstio()`) → the model of every proxy, by
 * src/istio/mesh/resolve.ts (loaded only for meshes). `base`: the plain model every proxy starts from (Envoy
 * version, log levels); default meshbox's defaults.
 */
export async function meshModelFromSpec(spec: { mesh: unknown; istio?: unknown }, options: { baseDir: string; session?: MeshSession; locate?: Locator; base?: SandboxModel }): Promise<MeshModel> {
	const { resolveMesh } = await import('../istio/mesh/resolve.ts');
	const base = options.base ?? await modelFromSpec({}, { baseDir: options.baseDir });
	return resolveMesh({ mesh: spec.mesh, istio: spec.istio, baseDir: options.baseDir, locate: options.locate ?? noLocation, base, ...(options.session ? { pod: options.session.istioPod } : {}) });
}

/** Whether a meshbox.yaml is a mesh (`mesh:` at the top): read without resolving the rest. */
export async function isMeshFile(file: string): Promise<boolean> {
	try {
		const value: unknown = parse(await readFile(file, 'utf8'));
		return typeof value === 'object' && value !== null && 'mesh' in value;
	} catch {
		// Unreadable or not YAML: the sandbox's own reading says so, at file:line.
		return false;
	}
}

/** meshbox.yaml with `mesh:` → the model of every proxy, with every error at file:line:col. */
export async function meshModelFromFile(file: string, options: { session?: MeshSession; envoyVersion?: string } = {}): Promise<MeshModel> {
	// `--envoy-version` wins over the file's, for every proxy.
	const overrides = options.envoyVersion === undefined ? undefined : { envoyVersion: options.envoyVersion };
	const resolved = await loadConfigFile(file, { extensionFields: [...istioFields, 'mesh'], checkTypedConfig, overrides });
	const { extensions, locate, baseDir, model } = resolved;
	if (extensions.workload !== undefined) {
		throw configError(locate, ['workload'], '`workload:` is one sidecar; a mesh lists its workloads under `mesh.workloads`', 'move it into `mesh.workloads`');
	}

	// The file's plain fields (envoy: version, log levels) are every proxy's base.
	return meshModelFromSpec({ mesh: extensions.mesh, istio: extensions.istio }, { baseDir, locate, base: model, session: options.session });
}
