/**
 * `meshbox up --runtime docker` of a mesh (the seed's setup, fixtures/mesh/seed/): the gateway's URL first, the
 * seed plugin answering through the gateway's container, and Ctrl+C (SIGINT) removing every proxy's containers
 * and networks and the mesh's network.
 */
import got from 'got';
import { labelKeys } from '../../src/runtime/docker/labels.ts';
import { RunningCli } from '../helpers/cli.ts';
import { docker, ownerLeftovers } from './docker-helpers.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test('meshbox up --runtime docker of a mesh: the gateway URL first, the plugin answers, SIGINT leaves nothing', async t => {
	const cli = RunningCli.start(['up', '--runtime', 'docker', '--config', 'fixtures/mesh/seed/meshbox.yaml']);
	const pid = cli.process.pid!;
	try {
		const [, url] = await cli.waitForLine(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/);
		const response = await got(`${url}/hello`, { headers: { host: 'my-app.example.com' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.statusCode, 200);
		t.is(response.body, 'Hello from Wasm!\n');
		const running = await ownerLeftovers(pid);
		t.is(running.containers.length, 4, 'the gateway and my-app: an Envoy and an app each');
		t.is(running.networks.filter(network => network.Labels?.[labelKeys.mesh] !== undefined).length, 1, 'one mesh network');
		const meshNetwork = running.networks.find(network => network.Labels?.[labelKeys.mesh] !== undefined)!;
		const members = (await (await docker()).getNetwork(meshNetwork.Id).inspect() as { Containers?: Record<string, unknown> }).Containers ?? {};
		t.is(Object.keys(members).length, 2, 'both Envoys are on it');
	} finally {
		t.is(await cli.stop('SIGINT'), 0, cli.lines.join('\n'));
	}

	const left = await ownerLeftovers(pid);
	t.deepEqual([...left.containers.map(info => info.Names.join(',')), ...left.networks.map(info => info.Name)], []);
});
