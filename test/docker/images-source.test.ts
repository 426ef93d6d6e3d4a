/**
 * Which source meshbox builds its docker images from: the host's own Envoy and Node only when the host is Linux
 * of the daemon's architecture; registry packages otherwise, or when MESHBOX_IMAGE_SOURCE says so.
 *
 * The daemons of other architectures are stand-ins answering `info()` as such a daemon would (only the
 * `Architecture` field is read); a real daemon and the registry build itself: images-registry.test.ts.
 */
import test from 'ava';
import type Dockerode from 'dockerode';
import { MeshboxError } from '../../src/errors.ts';
import { chooseImageSource, requireArch } from '../../src/runtime/docker/portable-images.ts';
import { runCli } from '../helpers/cli.ts';
import { dockerTest } from './docker-test.ts';

const dockerOnly = await dockerTest();

function daemonOf(architecture: string): Dockerode {
	return { info: async () => ({ Architecture: architecture }) } as unknown as Dockerode;
}

const hostKernelArch = process.arch === 'arm64' ? 'aarch64' : process.arch === 'x64' ? 'x86_64' : process.arch;
const otherKernelArch = hostKernelArch === 'aarch64' ? 'x86_64' : 'aarch64';

test('a daemon of another architecture than this host gets images built from registry packages for its own', async t => {
	const choice = await chooseImageSource(daemonOf(otherKernelArch), {});
	t.is(choice.source, 'registry');
	t.is(choice.arch, otherKernelArch === 'aarch64' ? 'arm64' : 'amd64');
	t.regex(choice.why, new RegExp(`cannot lend its binaries to the daemon's linux/${otherKernelArch} containers`));
});

test('a daemon of this host\'s architecture uses the host\'s binaries on Linux, registry packages elsewhere', async t => {
	const choice = await chooseImageSource(daemonOf(hostKernelArch), {});
	t.is(choice.source, process.platform === 'linux' ? 'host' : 'registry');
});

test('MESHBOX_IMAGE_SOURCE forces a source; a value that is none says which ones there are', async t => {
	t.is((await chooseImageSource(daemonOf(hostKernelArch), { MESHBOX_IMAGE_SOURCE: 'registry' })).source, 'registry');
	t.is((await chooseImageSource(daemonOf(otherKernelArch), { MESHBOX_IMAGE_SOURCE: 'host' })).source, 'host');
	t.is((await chooseImageSource(daemonOf(otherKernelArch), { MESHBOX_IMAGE_SOURCE: 'auto' })).source, 'registry');
	const error = await t.throwsAsync(chooseImageSource(daemonOf(hostKernelArch), { MESHBOX_IMAGE_SOURCE: 'regsitry' }), { instanceOf: MeshboxError });
	t.is(error?.code, 'USAGE');
	t.regex(error?.message ?? '', /MESHBOX_IMAGE_SOURCE=regsitry is not an image source/);
	t.regex(error?.hint ?? '', /registry .*host .*auto/);
});

test('a daemon that is neither linux/amd64 nor linux/arm64 gets a clear error, not a broken image', async t => {
	const choice = await chooseImageSource(daemonOf('s390x'), {});
	t.is(choice.source, 'registry');
	const error = t.throws(() => requireArch(choice), { instanceOf: MeshboxError });
	t.is(error?.code, 'DOCKER_IMAGE_UNAVAILABLE');
	t.regex(error?.hint ?? '', /--envoy-image/);
});

dockerOnly('meshbox images build stops on a mistyped MESHBOX_IMAGE_SOURCE before building anything', async t => {
	process.env.MESHBOX_IMAGE_SOURCE = 'regsitry';
	try {
		// --envoy-bin names no file: without the check, the build would stop there instead, having said nothing of the variable.
		const result = await runCli(['images', 'build', '--envoy-bin', '/nonexistent/envoy']);
		t.not(result.exitCode, 0);
		t.regex(result.stderr, /MESHBOX_IMAGE_SOURCE=regsitry is not an image source/);
		t.notRegex(result.stderr, /building meshbox\//);
	} finally {
		delete process.env.MESHBOX_IMAGE_SOURCE;
	}
});
