/**
 * `meshbox compose`: print a docker-compose file that runs the sandbox spec the way `--runtime docker`
 * does. The repository's docker-compose.yml is `meshbox compose > docker-compose.yml`.
 */
import { pinnedEnvoyVersion } from '../../envoy-binary/provision.ts';
import { renderCompose } from '../../runtime/docker/compose.ts';
import { meshboxUpstreamImage } from '../../runtime/docker/image-build.ts';
import { upstreamControlPort } from '../../upstream/control.ts';
import type { Command } from '../command.ts';
import { loadSandboxModel, parseCommandArgs, sandboxOptionSpec, sandboxOptionsHelp } from '../options.ts';
import { defaultAdminPort } from './render.ts';
import { defaultListenerPort } from './up.ts';

const usage = 'meshbox compose [--config FILE] [--plugin [NAME=]FILE.wasm ...] [--port N] [--admin-port N] > docker-compose.yml';

export const composeCommand: Command = {
	name: 'compose',
	summary: 'print a docker-compose.yml for the sandbox spec (Envoy + upstream containers)',
	usage: [usage, '', ...sandboxOptionsHelp.filter(line => !/--runtime|--envoy-bin|--envoy-image/.test(line)),
		'The admin port defaults to 9901 here. Plugin paths in the output are relative to the working directory:',
		'write the file there.'].join('\n'),
	async run({ argv, out }) {
		const { values } = parseCommandArgs(argv, { ...sandboxOptionSpec }, usage);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		const model = await loadSandboxModel(values, defaultListenerPort);
		out(renderCompose(model, {
			listenerPort: model.port === 0 ? defaultListenerPort : model.port,
			adminPort: model.adminPort === 0 ? defaultAdminPort : model.adminPort,
			controlPort: upstreamControlPort,
			upstreamImage: await meshboxUpstreamImage(),
			envoyVersion: pinnedEnvoyVersion,
			composeDir: process.cwd(),
			source: values.config ?? (values.plugin ? 'the command line' : 'meshbox.yaml'),
		}).trimEnd());
		return 0;
	},
};
