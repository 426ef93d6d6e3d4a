/**
 * docker-compose.yml is what `meshbox compose` renders from meshbox.yaml, and it works: with no compose
 * plugin on the test machines, the test plays the services the way compose would (images, entrypoint,
 * command, configs at their targets, service names as DNS names, ports on 127.0.0.1) and sends the seed
 * request through them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import anyTest from 'ava';
import got from 'got';
import { parse } from 'yaml';
import { EnvoyAdmin } from '../../src/envoy-admin/admin.ts';
import { connectDocker } from '../../src/runtime/docker/daemon.ts';
import { meshboxUpstreamImage } from '../../src/runtime/docker/image-build.ts';
import { chooseEnvoyImage, ensureUpstreamImage } from '../../src/runtime/docker/images.ts';
import { newSessionId, sandboxLabels } from '../../src/runtime/docker/labels.ts';
import { removeSandboxes } from '../../src/runtime/docker/reaper.ts';
import { SandboxContainer } from '../../src/runtime/docker/sandbox-container.ts';
import { runCli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/paths.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

const composeFile = path.join(repoRoot, 'docker-compose.yml');

type PortSpec = { target: number; published: string; host_ip: string; protocol: string };
type ServiceSpec = {
	image: string;
	entrypoint?: string[];
	command?: string[];
	depends_on?: string[];
	ports?: PortSpec[];
	configs?: Array<{ source: string; target: string }>;
};
type ComposeSpec = { services: Record<string, ServiceSpec>; configs: Record<string, { content?: string; file?: string }> };

// Needs no daemon.
anyTest('docker-compose.yml is exactly what `meshbox compose` renders from meshbox.yaml', async t => {
	const result = await runCli(['compose']);
	t.is(result.exitCode, 0, result.stderr);
	t.is(`${result.stdout}\n`, await readFile(composeFile, 'utf8'), 'regenerate it: node bin/meshbox.js compose > docker-compose.yml');
});

test('the compose services, played as compose would, answer the seed request', async t => {
	const compose = parse(await readFile(composeFile, 'utf8')) as ComposeSpec;
	const { docker, client } = await connectDocker();
	const progress = (line: string) => t.log(line);
	const envoyImage = await chooseEnvoyImage(docker, { onProgress: progress });
	t.is(compose.services.upstream?.image, await ensureUpstreamImage(docker, progress));
	t.is(compose.services.upstream?.image, await meshboxUpstreamImage());

	const session = newSessionId();
	const labels = sandboxLabels(session);
	const network = `meshbox-${session}`;
	try {
		await client.network.create({ Name: network, Driver: 'bridge', Labels: { ...labels } });
		const mapped: Record<number, number> = {};
		// depends_on: upstream first.
		for (const name of ['upstream', 'envoy']) {
			const service = compose.services[name]!;
			const container = new SandboxContainer(interpolate(service.image, { MESHBOX_ENVOY_IMAGE: envoyImage.name }))
				.withLabels(labels)
				.withNetworkAndAliases(network, [name])
				.withExposedPorts(...(service.ports ?? []).map(port => port.target));
			for (const port of service.ports ?? []) {
				t.is(port.host_ip, '127.0.0.1', `${name} publishes ${port.target} on loopback only`);
			}

			if (service.entrypoint) {
				container.withEntrypoint(service.entrypoint.map(unescape));
			}

			if (service.command) {
				container.withCommand(service.command.map(unescape));
			}

			for (const { source, target } of service.configs ?? []) {
				const config = compose.configs[source]!;
				if (config.content === undefined) {
					container.withCopyFilesToContainer([{ source: path.resolve(repoRoot, config.file!), target }]);
				} else {
					container.withCopyContentToContainer([{ content: unescape(config.content), target }]);
				}
			}

			const started = await container.start();
			for (const port of service.ports ?? []) {
				mapped[port.target] = started.getMappedPort(port.target);
			}
		}

		const admin = new EnvoyAdmin('127.0.0.1', mapped[9901]!);
		for (let waited = 0; !(await admin.isReady()); waited += 100) {
			if (waited > 30_000) {
				t.fail('Envoy did not become ready');
				return;
			}

			await new Promise(resolve => setTimeout(resolve, 100));
		}

		const response = await got(`http://127.0.0.1:${mapped[10_000]!}/hello`, { headers: { host: 'my-app.example.com' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.statusCode, 200);
		t.is(response.headers['x-service-name'], 'my-custom-service');
		t.is(response.body, 'Hello from Wasm!\n');
		t.deepEqual(JSON.parse((await got(`http://127.0.0.1:${mapped[8081]!}/recordings`)).body), []);
	} finally {
		await removeSandboxes(docker, { session });
	}
});

/** Compose's `${VAR:-default}`, and `$$` for a literal `$`. */
function interpolate(value: string, env: Record<string, string>): string {
	return unescape(value.replaceAll(/(?<!\$)\$\{(\w+):-([^}]*)\}/g, (_match, name: string, fallback: string) => env[name] || fallback));
}

function unescape(value: string): string {
	return value.replaceAll('$$', '$');
}
