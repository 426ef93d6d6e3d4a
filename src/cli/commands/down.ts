/**
 * `meshbox down`: remove every container and network the docker runtime created, on this daemon, whoever
 * owns them (running sandboxes included); `--orphans` only those whose owner process is gone.
 */
import type { Command } from '../command.ts';
import { parseCommandArgs } from '../options.ts';

const usage = 'meshbox down [--orphans]';

export const downCommand: Command = {
	name: 'down',
	summary: 'remove the docker runtime\'s containers and networks (all, or --orphans only)',
	usage: [usage, '', '      --orphans         only those whose meshbox process is gone (what every start does)'].join('\n'),
	async run({ argv, out }) {
		const { values } = parseCommandArgs(argv, { orphans: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, usage);
		if (values.help) {
			out(this.usage);
			return 0;
		}

		const { connectDocker } = await import('../../runtime/docker/daemon.ts');
		const { removeSandboxes } = await import('../../runtime/docker/reaper.ts');
		const { docker } = await connectDocker();
		const removed = await removeSandboxes(docker, values.orphans ? 'orphans' : 'all');
		out(`meshbox: removed ${removed.containers} container(s) and ${removed.networks} network(s)`);
		return 0;
	},
};
