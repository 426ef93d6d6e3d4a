import test from 'ava';
import { build } from 'esbuild';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.ts';

/**
 * protobufjs's reflection (Root, Type, Field: `protobufjs`, not `protobufjs/minimal`) cost a sandbox's start
 * ~30 ms of CPU and was the biggest part of the CLI bundle (issue #11): nothing the CLI or the library loads
 * may import it. Only tests' src/xds/reference-codec.ts does.
 */
test('neither the CLI nor the library imports protobufjs\'s reflection, only its Writer and Reader', async t => {
	const result = await build({
		entryPoints: [path.join(repoRoot, 'src', 'cli', 'main.ts'), path.join(repoRoot, 'src', 'index.ts')],
		absWorkingDir: repoRoot,
		bundle: true,
		splitting: true,
		format: 'esm',
		platform: 'node',
		target: 'node20.19',
		outdir: path.join(repoRoot, 'dist', 'runtime-graph-check'),
		write: false,
		metafile: true,
		external: ['dockerode', 'testcontainers', 'esbuild', 'tsx', 'ava', 'meshbox'],
		logLevel: 'silent',
	});
	const inputs = Object.keys(result.metafile.inputs);
	const protobufjs = inputs.filter(input => input.includes('node_modules/protobufjs/')).map(input => input.replace(/.*node_modules\/protobufjs\//, ''));
	t.true(protobufjs.includes('src/writer.js') && protobufjs.includes('src/reader.js'), 'the encoder uses protobufjs/minimal\'s Writer and Reader');
	t.deepEqual(protobufjs.filter(file => /src\/(root|namespace|type|field|enum|parse|converter|encoder|decoder)\.js$/.test(file)), []);
	t.false(inputs.some(input => input.endsWith('src/xds/reference-codec.ts')));
});
