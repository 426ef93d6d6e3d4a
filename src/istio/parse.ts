/**
 * Istio YAML files → validated extensions + findings. A file may hold several documents (`---`); every
 * finding points at file:line:col through the `yaml` package's LineCounter.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { isRecord, type FieldPath, type Locator } from '../config/fields.ts';
import { offsetOf } from '../config/load-file.ts';
import { FindingCollector, type Finding } from './findings.ts';
import { checkIstioOperator, checkMeshConfig, checkProxyConfig, checkVirtualService, type SuggestionContext } from './not-api.ts';
import { displayName, type Extension } from './resources.ts';
import { validateExtension } from './validate.ts';
import type { VersionTraits } from './version.ts';

export type ParseOptions = {
	readonly traits: VersionTraits;
	/** Namespace of documents without metadata.namespace. */
	readonly defaultNamespace: string;
	/** For the WasmPlugins meshbox suggests in place of non-API constructs. */
	readonly suggestion: SuggestionContext;
};

export type ParsedIstio = {
	readonly extensions: readonly Extension[];
	readonly findings: readonly Finding[];
};

const extensionsGroup = 'extensions.istio.io';

/** Parses and validates the text of one file. */
export function parseIstioText(text: string, fileLabel: string, options: ParseOptions): ParsedIstio {
	const lineCounter = new LineCounter();
	const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
	const extensions: Extension[] = [];
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

		const value = document.toJS() as unknown;
		if (value === null || value === undefined) {
			continue;
		}

		const start = document.contents?.range?.[0] ?? 0;
		const position = lineCounter.linePos(start);
		const origin = { file: fileLabel, line: position.line, col: position.col };
		const result = checkDocument(value, locate, fileLabel, `document ${index + 1}`, origin, options);
		findings.push(...result.findings);
		extensions.push(...result.extensions);
	}

	return { extensions, findings };
}

/** Validates one document given as a value (a scenario's inline resource, or one parsed from a file). */
export function checkDocument(value: unknown, locate: Locator, fileLabel: string, fallbackSubject: string,
	origin: Extension['origin'], options: ParseOptions): ParsedIstio {
	const collector = new FindingCollector(locate, fileLabel, fallbackSubject);
	if (!isRecord(value)) {
		collector.error('schema', [], 'expected a Kubernetes object (apiVersion, kind, metadata, spec)');
		return { extensions: [], findings: collector.findings };
	}

	const apiVersion = typeof value.apiVersion === 'string' ? value.apiVersion : '';
	const kind = typeof value.kind === 'string' ? value.kind : '';
	if (!apiVersion || !kind) {
		collector.error('schema', [], `Object 'Kind' is missing or 'apiVersion' is not set`, 'every document needs apiVersion and kind, e.g. apiVersion: extensions.istio.io/v1alpha1, kind: WasmPlugin');
		return { extensions: [], findings: collector.findings };
	}

	const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) as [string, string] : ['', apiVersion];
	const name = isRecord(value.metadata) && typeof value.metadata.name === 'string' ? value.metadata.name : '(no name)';
	collector.subject = `${kind} ${name}`;
	if (group === extensionsGroup) {
		const served = kind === 'WasmPlugin' || (kind === 'TrafficExtension' && options.traits.hasTrafficExtension);
		if (version !== 'v1alpha1' || !served) {
			// The API server's answer when no CRD serves the kind/version (what kubectl prints).
			const why = kind === 'TrafficExtension' && !options.traits.hasTrafficExtension
				? `TrafficExtension is served from Istio 1.30; this sandbox emulates Istio ${options.traits.version} (set istio.version: '1.30')`
				: (kind === 'WasmPlugin' || kind === 'TrafficExtension' ? `${kind} exists only as extensions.istio.io/v1alpha1` : `${extensionsGroup} has the kinds WasmPlugin${options.traits.hasTrafficExtension ? ' and TrafficExtension' : ''}`);
			collector.error('schema', ['apiVersion'], `no matches for kind ${JSON.stringify(kind)} in version ${JSON.stringify(apiVersion)}`, why);
			return { extensions: [], findings: collector.findings };
		}

		const extension = validateExtension(value, kind, {
			collector, origin, traits: options.traits, defaultNamespace: options.defaultNamespace,
		});
		return { extensions: extension ? [extension] : [], findings: collector.findings };
	}

	const before = collector.findings.length;
	if (group === 'install.istio.io' && kind === 'IstioOperator') {
		checkIstioOperator(value, collector, options.suggestion);
	} else if (group === 'networking.istio.io' && kind === 'VirtualService') {
		checkVirtualService(value, collector, options.suggestion);
	} else if (group === 'networking.istio.io' && kind === 'ProxyConfig') {
		checkProxyConfig(value, collector, options.suggestion);
	} else if (group === '' && kind === 'ConfigMap' && isRecord(value.data) && typeof value.data.mesh === 'string') {
		// The istio ConfigMap's `mesh` key holds MeshConfig as YAML text.
		try {
			const mesh = parseAllDocuments(value.data.mesh);
			const meshValue = Array.isArray(mesh) ? mesh[0]?.toJS() as unknown : undefined;
			checkMeshConfig(isRecord(meshValue) ? meshValue : undefined, ['data', 'mesh'], collector, options.suggestion);
		} catch {
			// Not YAML: not ours to judge.
		}
	}

	if (collector.findings.length === before) {
		collector.add('note', 'meshbox', [], `${apiVersion} ${kind} is not applied by the sandbox (it applies WasmPlugin${options.traits.hasTrafficExtension ? ' and TrafficExtension' : ''} resources)`);
	}

	return { extensions: [], findings: collector.findings };
}

/** Reads and validates files; paths relative to `baseDir`. A missing file is an error finding. */
export async function loadIstioFiles(files: readonly string[], baseDir: string, options: ParseOptions): Promise<ParsedIstio> {
	const extensions: Extension[] = [];
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
		findings.push(...parsed.findings);
	}

	return { extensions: dedupe(extensions, findings), findings };
}

/** Two documents with the same kind/namespace/name: kubectl apply keeps the later one. */
export function dedupe(extensions: readonly Extension[], findings: Finding[]): Extension[] {
	const byKey = new Map<string, Extension>();
	for (const extension of extensions) {
		const key = `${extension.kind}/${extension.namespace}/${extension.name}`;
		const earlier = byKey.get(key);
		if (earlier) {
			findings.push({ severity: 'warning', checker: 'meshbox', where: `${extension.origin.file}:${extension.origin.line}:${extension.origin.col}`,
				subject: displayName(extension), field: '', message: `defined again (first at ${earlier.origin.file}:${earlier.origin.line}); like kubectl apply, the later one replaces it` });
			byKey.delete(key);
		}

		byKey.set(key, extension);
	}

	return [...byKey.values()];
}

export function fieldPathText(pathParts: FieldPath): string {
	return pathParts.join('.');
}
