/**
 * `meshbox check FILE...`: validate Istio YAML as a cluster would (API server schema, istiod's webhook), and
 * name constructs that are not Istio API, with the WasmPlugin that does the job. Nothing is started.
 * Exit 0 when nothing is wrong (warnings allowed), 1 when anything would be rejected or does nothing.
 */
import { parseArgs } from 'node:util';
import { displayEnvoyFilter, unmatchedPatchFindings } from '../../istio/envoy-filter.ts';
import { formatFinding } from '../../istio/findings.ts';
import { loadIstioFiles } from '../../istio/parse.ts';
import { displayName } from '../../istio/resources.ts';
import { istioVersions, defaultIstioVersion, parseIstioRelease, versionTraits } from '../../istio/version.ts';
import { MeshboxError } from '../../errors.ts';
import type { Command } from '../command.ts';


const usage = 'meshbox check FILE... [--istio-version V] [--namespace NS] [--label KEY=VALUE ...]';

export const checkCommand: Command = {
	name: 'check',
	summary: 'validate Istio YAML (extensions, EnvoyFilter, networking, security, Gateway API) as a cluster would; nothing is started',
	usage: [usage, '',
		`      --istio-version V  the Istio release to check against: ${istioVersions.join(', ')} or a patch (1.29.0) (default ${defaultIstioVersion})`,
		'      --namespace NS     namespace of documents without one (default: default)',
		'      --label K=V        labels of the workload, for the WasmPlugins suggested in place of non-API constructs (default app=my-app)',
	].join('\n'),
	async run({ argv, out }) {
		const { values, positionals } = parseCheckArgs(argv);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		if (positionals.length === 0) {
			throw new MeshboxError('USAGE', 'no files given', `usage: ${usage}`);
		}

		const release = parseIstioRelease(values['istio-version'] ?? defaultIstioVersion);
		if (!release) {
			throw new MeshboxError('USAGE', `--istio-version ${values['istio-version']}: not an Istio release meshbox emulates`, `use one of ${istioVersions.join(', ')} (its latest patch), or a patch such as ${defaultIstioVersion}.0`);
		}

		const { version } = release;
		const traits = versionTraits(version, release.patch);

		const labels: Record<string, string> = {};
		for (const label of values.label ?? ['app=my-app']) {
			const [key, ...rest] = label.split('=');
			if (!key || rest.length === 0) {
				throw new MeshboxError('USAGE', `--label ${label}: expected KEY=VALUE`, 'e.g. --label app=my-app');
			}

			labels[key] = rest.join('=');
		}

		const namespace = values.namespace ?? 'default';
		const loaded = await loadIstioFiles(positionals, process.cwd(), {
			traits,
			defaultNamespace: namespace,
			suggestion: { namespace, labels },
			howToSetVersion: wanted => `check with --istio-version ${wanted}`,
		});
		const { extensions, envoyFilters } = loaded;
		// EnvoyFilter patches that would match nothing in this workload's sidecar (istiod ignores them silently).
		const findings = [...loaded.findings, ...await unmatchedPatchFindings(extensions, envoyFilters, { traits, namespace, labels })];
		for (const finding of findings) {
			out(formatFinding(finding));
		}

		for (const extension of extensions) {
			out(`${extension.origin.file}:${extension.origin.line}:${extension.origin.col}: ok: ${displayName(extension)} is valid for Istio ${version}`);
		}

		for (const filter of envoyFilters) {
			out(`${filter.origin.file}:${filter.origin.line}:${filter.origin.col}: ok: ${displayEnvoyFilter(filter)} is valid for Istio ${version}`);
		}

		for (const resource of loaded.config) {
			out(`${resource.origin.file}:${resource.origin.line}:${resource.origin.col}: ok: ${resource.kind === 'KubeGateway' ? 'Gateway (gateway.networking.k8s.io)' : resource.kind} ${resource.namespace}/${resource.name} is valid for Istio ${version}`);
		}

		const errors = findings.filter(finding => finding.severity === 'error').length;
		const warnings = findings.filter(finding => finding.severity === 'warning').length;
		const valid = extensions.length + envoyFilters.length + loaded.config.length;
		out(`${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}, ${valid} valid resource${valid === 1 ? '' : 's'} (Istio ${version})`);
		return errors > 0 ? 1 : 0;
	},
};

function parseCheckArgs(argv: readonly string[]) {
	try {
		return parseArgs({
			args: [...argv],
			options: {
				'istio-version': { type: 'string' },
				namespace: { type: 'string' },
				label: { type: 'string', multiple: true },
				help: { type: 'boolean', short: 'h' },
			},
			allowPositionals: true,
			strict: true,
		});
	} catch (error) {
		throw new MeshboxError('USAGE', (error as Error).message, `usage: ${usage}`);
	}
}
