/**
 * `meshbox envoy`: find (or install) Envoy the way every other command does, and say which one.
 * CI runs it once up front so the install is not charged to the first test.
 */
import { describeEnvoy, provisionEnvoy } from '../../envoy/provision.ts';
import type { Command } from '../command.ts';
import { parseCommandArgs } from '../options.ts';

const usage = 'meshbox envoy [--envoy-bin FILE] [--path]';

export const envoyCommand: Command = {
	name: 'envoy',
	summary: 'find or install Envoy, and print which one meshbox uses',
	usage: [usage, '', '      --envoy-bin FILE  check this binary instead', '      --path            print only the binary\'s path'].join('\n'),
	async run({ argv, out, err }) {
		const { values } = parseCommandArgs(argv, { 'envoy-bin': { type: 'string' }, path: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, usage);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		const envoy = await provisionEnvoy({ envoyBin: values['envoy-bin'], onProgress: err });
		out(values.path ? envoy.path : describeEnvoy(envoy));
		return 0;
	},
};
