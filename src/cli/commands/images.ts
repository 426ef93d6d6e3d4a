/**
 * `meshbox images`: the images the docker runtime uses. `build` makes meshbox/envoy and meshbox/upstream
 * offline (no registry, no base image) from the local Envoy and Node; `list` says which exist.
 */
import { installedEnvoyVersions, pinnedEnvoyVersion, resolveEnvoyVersion } from '../../envoy-binary/provision.ts';
import { MeshboxError } from '../../errors.ts';
import type { Command } from '../command.ts';
import { parseCommandArgs } from '../options.ts';

const usage = 'meshbox images build [--envoy-version V] [--envoy-bin FILE] | meshbox images list';

export const imagesCommand: Command = {
	name: 'images',
	summary: 'build (offline) or list the images of the docker runtime',
	usage: [
		usage,
		'',
		'  build               build meshbox/envoy:<envoy version> from the local Envoy binary (found or installed',
		'                      as for the local runtime) and meshbox/upstream:<meshbox version>; no registry needed',
		'      --envoy-version V the Envoy release to put in the image (installed if needed): 1.38 (the newest',
		`                        1.38.x) or 1.38.3; default: MESHBOX_ENVOY_VERSION, else ${pinnedEnvoyVersion}. One image per version.`,
		'      --envoy-bin FILE  the Envoy binary to put in the image',
		'  list                show which Envoy and upstream images the docker runtime would find (for each installed Envoy)',
	].join('\n'),
	async run({ argv, out, err }) {
		const [action, ...rest] = argv;
		const { values } = parseCommandArgs(rest, { 'envoy-bin': { type: 'string' }, 'envoy-version': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, usage);
		if (values.help || action === '--help' || action === '-h') {
			out(this.usage);
			return 0;
		}

		if (action !== 'build' && action !== 'list') {
			throw new MeshboxError('USAGE', action ? `unknown images action "${action}"` : 'missing images action', `usage: ${usage}`);
		}

		// Loaded on demand: testcontainers and dockerode are only for docker commands.
		const { connectDocker } = await import('../../runtime/docker/daemon.ts');
		const build = await import('../../runtime/docker/image-build.ts');
		const { exists, officialEnvoyImageFor, upstreamIsCurrent } = await import('../../runtime/docker/images.ts');
		const { docker } = await connectDocker();
		if (action === 'list') {
			const versions = [...new Set([pinnedEnvoyVersion, ...(await installedEnvoyVersions()).map(entry => entry.version)])];
			const names = versions.flatMap(version => [officialEnvoyImageFor(version), build.meshboxEnvoyImage(version)]);
			for (const name of names) {
				out(`${(await exists(docker, name)) ? 'present' : 'missing'}  ${name}`);
			}

			const upstream = await build.meshboxUpstreamImage();
			if (!(await exists(docker, upstream))) {
				out(`missing  ${upstream}`);
			} else if (await upstreamIsCurrent(docker, upstream, (await build.bundleUpstream()).hash)) {
				out(`present  ${upstream}`);
			} else {
				out(`stale    ${upstream}  (built from other sources: the next docker sandbox rebuilds it)`);
			}

			return 0;
		}

		const started = Date.now();
		const requested = values['envoy-version'] ?? (process.env.MESHBOX_ENVOY_VERSION || undefined);
		const origin = values['envoy-version'] === undefined ? 'MESHBOX_ENVOY_VERSION' : '--envoy-version';
		// Resolved first, so that `1.38` names the image after the exact release it holds.
		const wanted = requested === undefined ? {} : { version: await resolveEnvoyVersion(requested, { origin }), versionOrigin: origin };
		await build.withBuildLock(err, async () => {
			await build.buildEnvoyImage(docker, { envoyBin: values['envoy-bin'], ...wanted, onProgress: err });
			await build.buildUpstreamImage(docker, { onProgress: err });
		});
		out(`meshbox: images built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
		return 0;
	},
};
