/**
 * `npm run sandbox -- --runtime docker` (= `meshbox up --runtime docker`): the seed plugin served from
 * containers on the requested port, the plugin's log streamed, the image named, everything removed on Ctrl+C.
 */
import got from 'got';
import { RunningCli } from '../helpers/cli.ts';
import { ownerLeftovers } from './docker-helpers.ts';
import { freePort } from '../helpers/ports.ts';
import { dockerTest } from './docker-test.ts';

const test = await dockerTest();

test('meshbox up --runtime docker serves the seed plugin on the requested port and cleans up on SIGINT', async t => {
	const port = await freePort();
	const cli = RunningCli.start(['up', '--runtime', 'docker', '--port', String(port)]);
	const pid = cli.process.pid!;
	try {
		await cli.waitForLine(new RegExp(`^listening on http://127\\.0\\.0\\.1:${port}$`));
		t.truthy(cli.lines.find(line => /^meshbox: docker runtime: Envoy image \S+ \(.+\), upstream image meshbox\/upstream:/.test(line)), 'says which images it uses');
		const response = await got(`http://127.0.0.1:${port}/hello`, { headers: { host: 'my-app.example.com' }, throwHttpErrors: false, retry: { limit: 0 } });
		t.is(response.statusCode, 200);
		t.is(response.headers['x-service-name'], 'my-custom-service');
		t.is(response.body, 'Hello from Wasm!\n');
		await cli.waitForLine(/my-wasm-plugin: Received request for: my-app\.example\.com \/hello$/);
		const running = await ownerLeftovers(pid);
		t.is(running.containers.length, 2);
	} finally {
		t.is(await cli.stop('SIGINT'), 0, cli.lines.join('\n'));
	}

	const left = await ownerLeftovers(pid);
	t.deepEqual(left.containers.map(info => info.Names), []);
	t.deepEqual(left.networks.map(info => info.Name), []);
});

test('SIGHUP (the terminal closed) stops meshbox up --runtime docker: both containers and the network are removed', async t => {
	const cli = RunningCli.start(['up', '--runtime', 'docker', '--port', '0']);
	const pid = cli.process.pid!;
	let exitCode: number | undefined;
	try {
		await cli.waitForLine(/^listening on http:\/\/127\.0\.0\.1:\d+$/);
		const running = await ownerLeftovers(pid);
		t.is(running.containers.length, 2);
		t.is(running.networks.length, 1);
		exitCode = await cli.hangUp();
		t.is(exitCode, 0);
	} finally {
		if (exitCode === undefined) {
			await cli.stop('SIGINT');
		}
	}

	const left = await ownerLeftovers(pid);
	t.deepEqual(left.containers.map(info => info.Names), []);
	t.deepEqual(left.networks.map(info => info.Name), []);
});
