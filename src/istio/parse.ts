/**
 * Istio YAML files → validated extensions + findings. A file may hold several documents (`---`); every
 * finding points at file:line:col through the `yaml` package's LineCounter.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { isRecord, type Locator } from '../config/fields.ts';
import { offsetOf } from '../config/load-file.ts';
import { documentValue, nestingError } from '../config/yaml-values.ts';
import { FindingCollector, type Finding } from './findings.ts';
import { kubernetesYaml } from './kube-yaml.ts';
import { checkIstioOperator, checkMeshConfig, checkProxyConfig, checkVirtualService, type SuggestionContext } from './not-api.ts';
import { dedupeEnvoyFilters, validateEnvoyFilter, type EnvoyFilterResource } from './envoy-filter.ts';
import { displayName, type Extension } from './resources.ts';
import { effectivePriority, equalOrderGroups } from './select.ts';
import { validateExtension } from './validate.ts';
import { configKey, type IstioConfigResource } from './config-resources.ts';
import { configKinds } from './config-kinds.ts';
import type { IstioVersion, VersionTraits } from './version.ts';

export type ParseOptions = {
	readonly traits: VersionTraits;
	/** Namespace of documents without metadata.namespace. */
	readonly defaultNamespace: string;
	/** For the WasmPlugins meshbox suggests in place of non-API constructs. */
	readonly suggestion: SuggestionContext;
	/**
	 * How the reader of a finding picks another Istio release, in the words of where the finding is shown
	 * (`meshbox check`: its --istio-version flag; the sandbox: istio.version).
	 */
	readonly howToSetVersion: (version: IstioVersion) => string;
};

/** The sandbox's wording for ParseOptions.howToSetVersion (meshbox.yaml and startSandbox take the same field). */
export const setIstioVersionField = (version: IstioVersion): string => `set istio.version: '${version}'`;

export type ParsedIstio = {
	readonly extensions: readonly Extension[];
	/** networking.istio.io/v1alpha3 EnvoyFilters (./envoy-filter.ts). */
	readonly envoyFilters: readonly EnvoyFilterResource[];
	/** Networking and security resources (./config-resources.ts): what a mesh applies. */
	readonly config: readonly IstioConfigResource[];
	readonly findings: readonly Finding[];
};

const extensionsGroup = 'extensions.istio.io';

/** Parses and validates the text of one file. */
export function parseIstioText(text: string, fileLabel: string, options: ParseOptions): ParsedIstio {
	// Checked first: the composer overflows the stack on such a file (src/config/yaml-values.ts).
	const tooDeep = nestingError(text, fileLabel);
	if (tooDeep) {
		return { extensions: [], envoyFilters: [], config: [], findings: [{ severity: 'error', checker: 'schema', where: tooDeep.where, subject: 'the file', field: '', message: tooDeep.message, hint: tooDeep.hint }] };
	}

	const lineCounter = new LineCounter();
	// Kubernetes reads YAML 1.1 (sigs.k8s.io/yaml → go-yaml v2): see kube-yaml.ts.
	const documents = parseAllDocuments(text, { ...kubernetesYaml, lineCounter, prettyErrors: false, uniqueKeys: true });
	const extensions: Extension[] = [];
	const envoyFilters: EnvoyFilterResource[] = [];
	const config: IstioConfigResource[] = [];
	const findings: Finding[] = [];
	const list = Array.isArray(documents) ? documents : [];
	for (const [index, document] of list.entries()) {
		const locate: Locator = fieldPath => {
			const offset = offsetOf(document as Document, fieldPath);
			if (offset === undefined) {
				return fileLabel;
			}

			const { line, col } = lineCounter.linePos(offset);
			return `${fileLabel}:${line}:${col}`;
		};

		const [syntaxError] = document.errors;
		if (syntaxError) {
			const { line, col } = lineCounter.linePos(syntaxError.pos[0]);
			findings.push({ severity: 'error', checker: 'schema', where: `${fileLabel}:${line}:${col}`, subject: `document ${index + 1}`, field: '',
				message: syntaxError.message.split('\n')[0] ?? 'YAML syntax error', hint: 'fix the YAML syntax at that place' });
			continue;
		}

		const converted = documentValue(document as Document, lineCounter, fileLabel);
		if (!converted.ok) {
			// kubectl's YAML decoder refuses such a document too (go-yaml: "document contains excessive aliasing").
			findings.push({ severity: 'error', checker: 'schema', where: converted.error.where, subject: `document ${index + 1}`, field: '',
				message: converted.error.message, hint: converted.error.hint });
			continue;
		}

		const value = converted.value;
		if (value === null || value === undefined) {
			continue;
		}

		const start = document.contents?.range?.[0] ?? 0;
		const position = lineCounter.linePos(start);
		const origin = { file: fileLabel, line: position.line, col: position.col };
		const result = checkDocument(value, locate, fileLabel, `document ${index + 1}`, origin, options);
		findings.push(...result.findings);
		extensions.push(...result.extensions);
		envoyFilters.push(...result.envoyFilters);
		config.push(...result.config);
	}

	return { extensions, envoyFilters, config, findings };
}

/** Validates one document given as a value (a scenario's inline resource, or one parsed from a file). */
export function checkDocument(value: unknown, locate: Locator, fileLabel: string, fallbackSubject: string,
	origin: Extension['origin'], options: ParseOptions): ParsedIstio {
	const collector = new FindingCollector(locate, fileLabel, fallbackSubject);
	if (!isRecord(value)) {
		collector.error('schema', [], 'expected a Kubernetes object (apiVersion, kind, metadata, spec)');
		return { extensions: [], envoyFilters: [], config: [], findings: collector.findings };
	}

	const apiVersion = typeof value.apiVersion === 'string' ? value.apiVersion : '';
	const kind = typeof value.kind === 'string' ? value.kind : '';
	if (!apiVersion || !kind) {
		collector.error('schema', [], `Object 'Kind' is missing or 'apiVersion' is not set`, 'every document needs apiVersion and kind, e.g. apiVersion: extensions.istio.io/v1alpha1, kind: WasmPlugin');
		return { extensions: [], envoyFilters: [], config: [], findings: collector.findings };
	}

	const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) as [string, string] : ['', apiVersion];
	const name = isRecord(value.metadata) && typeof value.metadata.name === 'string' ? value.metadata.name : '(no name)';
	collector.subject = `${kind} ${name}`;
	if (group === extensionsGroup) {
		const served = kind === 'WasmPlugin' || (kind === 'TrafficExtension' && options.traits.hasTrafficExtension);
		if (version !== 'v1alpha1' || !served) {
			// The API server's answer when no CRD serves the kind/version (what kubectl prints).
			const why = kind === 'TrafficExtension' && !options.traits.hasTrafficExtension
				? `TrafficExtension is served from Istio 1.30; Istio ${options.traits.version} is emulated here (${options.howToSetVersion('1.30')})`
				: (kind === 'WasmPlugin' || kind === 'TrafficExtension' ? `${kind} exists only as extensions.istio.io/v1alpha1` : `${extensionsGroup} has the kinds WasmPlugin${options.traits.hasTrafficExtension ? ' and TrafficExtension' : ''}`);
			collector.error('schema', ['apiVersion'], `no matches for kind ${JSON.stringify(kind)} in version ${JSON.stringify(apiVersion)}`, why);
			return { extensions: [], envoyFilters: [], config: [], findings: collector.findings };
		}

		const extension = validateExtension(value, kind, {
			collector, origin, traits: options.traits, defaultNamespace: options.defaultNamespace,
		});
		return { extensions: extension ? [extension] : [], envoyFilters: [], config: [], findings: collector.findings };
	}

	if (group === 'networking.istio.io' && kind === 'EnvoyFilter') {
		if (version !== 'v1alpha3') {
			collector.error('schema', ['apiVersion'], `no matches for kind "EnvoyFilter" in version ${JSON.stringify(apiVersion)}`, 'EnvoyFilter exists only as networking.istio.io/v1alpha3');
			return { extensions: [], envoyFilters: [], config: [], findings: collector.findings };
		}

		const filter = validateEnvoyFilter(value, { collector, origin, traits: options.traits, defaultNamespace: options.defaultNamespace }, locate);
		return { extensions: [], envoyFilters: filter ? [filter] : [], config: [], findings: collector.findings };
	}

	const configKind = configKinds[group]?.[kind];
	if (configKind) {
		if (!configKind.versions.includes(version)) {
			collector.error('schema', ['apiVersion'], `no matches for kind ${JSON.stringify(kind)} in version ${JSON.stringify(apiVersion)}`,
				`${kind} is served as ${configKind.versions.map(served => `${group}/${served}`).join(', ')}`);
			return { extensions: [], envoyFilters: [], config: [], findings: collector.findings };
		}

		// A VirtualService's constructs that are not Istio API (the seed article's `wasm:`) are explained first.
		if (group === 'networking.istio.io' && kind === 'VirtualService') {
			checkVirtualService(value, collector, options.suggestion);
		}

		const resource = configKind.validate(value, { collector, origin, traits: options.traits, defaultNamespace: options.defaultNamespace, version });
		return { extensions: [], envoyFilters: [], config: resource && !collector.hasErrors ? [resource] : [], findings: collector.findings };
	}

	const before = collector.findings.length;
	if (group === 'install.istio.io' && kind === 'IstioOperator') {
		checkIstioOperator(value, collector, options.suggestion);
	} else if (group === 'networking.istio.io' && kind === 'ProxyConfig') {
		checkProxyConfig(value, collector, options.suggestion);
	} else if (group === '' && kind === 'ConfigMap' && isRecord(value.data) && typeof value.data.mesh === 'string') {
		// The istio ConfigMap's `mesh` key holds MeshConfig as YAML text.
		try {
			// istiod reads it with sigs.k8s.io/yaml too (protomarshal.ApplyYAML); maxAliasCount guards it as above.
			const mesh = parseAllDocuments(value.data.mesh, kubernetesYaml);
			const meshValue = Array.isArray(mesh) ? mesh[0]?.toJS({ maxAliasCount: 100 }) as unknown : undefined;
			checkMeshConfig(isRecord(meshValue) ? meshValue : undefined, ['data', 'mesh'], collector, options.suggestion);
		} catch {
			// Not YAML: not ours to judge.
		}
	}

	if (collector.findings.length === before) {
		collector.add('note', 'meshbox', [], `${apiVersion} ${kind} is not applied by the sandbox (it applies WasmPlugin${options.traits.hasTrafficExtension ? ', TrafficExtension' : ''} and EnvoyFilter resources)`);
	}

	return { extensions: [], envoyFilters: [], config: [], findings: collector.findings };
}

/**
 * Reads and validates files (paths relative to `baseDir`; a missing file is an error finding), as `meshbox check`
 * sees them: also a warning for each group of extensions whose order only their creation time would decide.
 */
export async function loadIstioFiles(files: readonly string[], baseDir: string, options: ParseOptions): Promise<ParsedIstio> {
	const read = await readIstioFiles(files, baseDir, options);
	const extensions = dedupe(read.extensions, read.findings);
	const envoyFilters = dedupeEnvoyFilters(read.envoyFilters, read.findings);
	return { extensions, envoyFilters, config: dedupeConfig(read.config), findings: [...read.findings, ...orderFindings(extensions)] };
}

/** Reads and validates files, in file order, without dropping redefinitions (see `dedupe`). */
export async function readIstioFiles(files: readonly string[], baseDir: string, options: ParseOptions): Promise<{ extensions: Extension[]; envoyFilters: EnvoyFilterResource[]; config: IstioConfigResource[]; findings: Finding[] }> {
	const extensions: Extension[] = [];
	const envoyFilters: EnvoyFilterResource[] = [];
	const config: IstioConfigResource[] = [];
	const findings: Finding[] = [];
	for (const file of files) {
		const absolute = path.resolve(baseDir, file);
		const relative = path.relative(process.cwd(), absolute);
		const label = relative && !relative.startsWith('..') ? relative : absolute;
		let text: string;
		try {
			text = await readFile(absolute, 'utf8');
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			findings.push({ severity: 'error', checker: 'meshbox', where: label, subject: 'file', field: '',
				message: code === 'ENOENT' ? 'no such file' : `cannot read it: ${(error as Error).message}`,
				hint: 'paths in meshbox.yaml are relative to meshbox.yaml; in startSandbox() to baseDir (default: the working directory)' });
			continue;
		}

		const parsed = parseIstioText(text, label, options);
		extensions.push(...parsed.extensions);
		envoyFilters.push(...parsed.envoyFilters);
		config.push(...parsed.config);
		findings.push(...parsed.findings);
	}

	return { extensions, envoyFilters, config, findings };
}

/**
 * Two documents with the same kind/namespace/name: kubectl apply keeps the later one. It updates the object the
 * first one created, so the result keeps the first one's place in the creation (file) order.
 */
export function dedupe(extensions: readonly Extension[], findings: Finding[]): Extension[] {
	const byKey = new Map<string, Extension>();
	for (const extension of extensions) {
		const key = `${extension.kind}/${extension.namespace}/${extension.name}`;
		const earlier = byKey.get(key);
		if (earlier) {
			findings.push({ severity: 'warning', checker: 'meshbox', where: `${extension.origin.file}:${extension.origin.line}:${extension.origin.col}`,
				subject: displayName(extension), field: '', message: `defined again (first at ${earlier.origin.file}:${earlier.origin.line}); like kubectl apply, the later one replaces it` });
		}

		byKey.set(key, extension);
	}

	return [...byKey.values()];
}

/** One warning per group of extensions that only creation time orders (select.ts equalOrderGroups). */
export function orderFindings(extensions: readonly Extension[]): Finding[] {
	return equalOrderGroups(extensions).map(group => {
		const [first, ...rest] = group as [Extension, ...Extension[]];
		return {
			severity: 'warning',
			checker: 'meshbox',
			where: `${first.origin.file}:${first.origin.line}:${first.origin.col}`,
			subject: displayName(first),
			field: '',
			message: `runs before ${rest.map(extension => displayName(extension)).join(', ')} only by file order: ${tieReason(first)}`,
			hint: 'give them different priorities (higher runs first) so that their order does not depend on when each was created',
		} satisfies Finding;
	});
}

/** The sentence the sandbox's notes use for a group from equalOrderGroups. */
export function describeOrderTie(group: readonly Extension[]): string {
	return `${group.map(extension => displayName(extension)).join(', ')} run in this (file) order: ${tieReason(group[0]!)}`;
}

function tieReason(extension: Extension): string {
	const priority = extension.priority === undefined ? 'unset' : String(effectivePriority(extension));
	return `same phase (${extension.phase}) and priority (${priority}), no metadata.creationTimestamp; `
		+ 'a cluster runs them in creation order (by name when created within the same second), meshbox in file order';
}

/**
 * Configuration resources with the same kind/namespace/name: the later one replaces the earlier one in its place
 * (kubectl apply updates the object the first created), as `dedupe` does for extensions.
 */
export function dedupeConfig(resources: readonly IstioConfigResource[]): IstioConfigResource[] {
	const byKey = new Map<string, IstioConfigResource>();
	for (const resource of resources) {
		byKey.set(configKey(resource), resource);
	}

	return [...byKey.values()];
}

/** What `loadIstioResources` reads: `istio.files` (relative to baseDir) and `istio.resources` given inline. */
export type IstioSources = { readonly files: readonly string[]; readonly resources: readonly unknown[] };

/**
 * A sandbox's or mesh's Istio resources: the files, then the inline resources, validated; of two definitions of one
 * kind/namespace/name the later one replaces the earlier in its place (kubectl apply).
 */
export async function loadIstioResources(istio: IstioSources, baseDir: string, options: ParseOptions): Promise<{ extensions: Extension[]; envoyFilters: EnvoyFilterResource[]; config: IstioConfigResource[]; findings: Finding[] }> {
	const fromFiles = await readIstioFiles(istio.files, baseDir, options);
	const extensions = [...fromFiles.extensions];
	const envoyFilters = [...fromFiles.envoyFilters];
	const config = [...fromFiles.config];
	const findings = [...fromFiles.findings];
	for (const [index, resource] of istio.resources.entries()) {
		const label = `istio.resources[${index}]`;
		// YAML text (one or more documents, `box.applyIstio(yaml)`): read as an Istio file is, lines and all.
		const result = typeof resource === 'string' ? parseIstioText(resource, label, options) : checkDocument(resource, fieldPath => `${label}${fieldPath.length > 0 ? ` ${fieldPath.join('.')}` : ''}`, label, label,
			{ file: label, line: 1, col: 1 }, options);
		extensions.push(...result.extensions);
		envoyFilters.push(...result.envoyFilters);
		config.push(...result.config);
		findings.push(...result.findings);
	}

	return { extensions: dedupe(extensions, findings), envoyFilters: dedupeEnvoyFilters(envoyFilters, findings), config: dedupeConfig(config), findings };
}
