/**
 * `meshbox render`: print the Envoy bootstrap meshbox would run, without starting anything.
 *
 * Wasm paths are printed relative to the working directory when they are inside it, so the output runs
 * as it is with `envoy -c FILE` from here. The upstream is the address given by --upstream.
 */
import path from 'node:path';
import { buildBootstrap } from '../../envoy/bootstrap.ts';
import { provisionEnvoy } from '../../envoy-binary/provision.ts';
import { renderBootstrapYaml } from '../../envoy/render.ts';
import { renderSidecarYaml } from '../../istio/render.ts';
import { validateBootstrap } from '../../envoy-binary/validate.ts';
import { MeshboxError } from '../../errors.ts';
import type { Command } from '../command.ts';
import { configFileOf, loadSandboxModel, parseCommandArgs, sandboxOptionSpec, sandboxOptionsHelp } from '../options.ts';
import { isMeshFile, meshModelFromFile } from '../../compose/model.ts';
import { defaultListenerPort } from './up.ts';

const usage = 'meshbox render [--config FILE] [--plugin [NAME=]FILE.wasm ...] [--port N] [--admin-port N] [--envoy-version V] [--upstream HOST:PORT] [--validate]';
export const defaultAdminPort = 9901;
const defaultRenderUpstream = '127.0.0.1:8080';

export const renderCommand: Command = {
	name: 'render',
	summary: 'print the Envoy bootstrap for the sandbox spec (nothing is started)',
	usage: [usage, '', ...sandboxOptionsHelp.filter(line => !/--runtime|--envoy-bin|--envoy-image/.test(line)),
		`      --upstream H:P    the app Envoy forwards to (default ${defaultRenderUpstream})`,
		'      --validate        also check it with `envoy --mode validate` (loads every plugin)'].join('\n'),
	async run({ argv, out, err }) {
		const { values } = parseCommandArgs(argv, { ...sandboxOptionSpec, upstream: { type: 'string' }, validate: { type: 'boolean' } }, usage);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		// A mesh (`mesh:` in the config, issue #21): every proxy's bootstrap (./mesh-cli.ts).
		const [configFile] = await configFileOf(values);
		if (configFile && await isMeshFile(configFile)) {
			const { renderMesh } = await import('./mesh-cli.ts');
			return renderMesh(await meshModelFromFile(configFile, { envoyVersion: values['envoy-version'] }), out, err, displayPath);
		}

		const model = await loadSandboxModel(values, defaultListenerPort);
		const upstream = parseHostPort(values.upstream ?? defaultRenderUpstream);
		const bootstrap = buildBootstrap(model, {
			listener: { address: '127.0.0.1', port: model.port },
			admin: { address: '127.0.0.1', port: model.adminPort || defaultAdminPort },
			upstream,
			wasmPath: plugin => displayPath(plugin.wasmPath),
		});
		const header = [
			'Envoy bootstrap rendered by `meshbox render`.',
			`Run it from the directory it was rendered in: envoy -c FILE   (the app is expected at ${upstream.address}:${upstream.port})`,
		];
		// Istio sidecars (src/istio): the same bootstrap, with each filter's WasmPlugin or Istio role as a comment.
		const yaml = model.sidecar ? renderSidecarYaml(bootstrap, model.sidecar, header) : renderBootstrapYaml(bootstrap, header);
		out(yaml.trimEnd());
		// Istio sidecars (src/istio): what istiod / istio-agent / Envoy did, on stderr.
		for (const note of model.sidecar?.notes ?? []) {
			err(`meshbox: ${note}`);
		}

		if (!values.validate) {
			return 0;
		}

		const envoy = await provisionEnvoy({ envoyBin: values['envoy-bin'], version: model.envoy.version, versionOrigin: model.envoy.versionOrigin, onProgress: err });
		const result = await validateBootstrap(envoy.path, renderBootstrapYaml(buildBootstrap(model, {
			listener: { address: '127.0.0.1', port: model.port },
			admin: { address: '127.0.0.1', port: model.adminPort || defaultAdminPort },
			upstream,
			wasmPath: plugin => plugin.wasmPath,
		})));
		err(result.ok ? `meshbox render: envoy ${envoy.version} accepts this configuration` : `meshbox render: envoy ${envoy.version} rejects this configuration:\n${result.output.trim()}`);
		return result.ok ? 0 : 1;
	},
};

function parseHostPort(text: string): { address: string; port: number } {
	const match = /^(.+):(\d+)$/.exec(text);
	if (!match?.[1] || !match[2] || Number(match[2]) > 65_535) {
		throw new MeshboxError('USAGE', `--upstream ${text}: expected HOST:PORT`, 'e.g. --upstream 127.0.0.1:8080');
	}

	return { address: match[1], port: Number(match[2]) };
}

function displayPath(file: string): string {
	const relative = path.relative(process.cwd(), file);
	return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
