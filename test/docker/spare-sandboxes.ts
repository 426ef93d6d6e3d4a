/**
 * Run as a child process by the spares test: three docker sandboxes in a row, each with its own answer, each
 * sent its own requests. Reports on stdout, one JSON line per sandbox, what it answered and recorded, and
 * whether its upstream container existed before its start began (made as a spare); then ends without
 * removing anything else (the spare prepared after the last start is the keeper's to remove).
 */
import { startSandbox } from '../../src/index.ts';
import { labelKeys } from '../../src/runtime/docker/labels.ts';
import { docker, sessionLeftovers, sessionOf } from './docker-helpers.ts';

for (const name of ['first', 'second', 'third']) {
	const startBegan = Date.now();
	const box = await startSandbox({ runtime: 'docker', upstream: { status: 201, body: `${name} answer\n` }, verbose: true });
	try {
		const answer = await box.request(`/${name}`);
		const session = await sessionOf(box);
		const { containers } = await sessionLeftovers(session);
		const upstream = containers.find(info => info.Labels[labelKeys.role] === 'upstream');
		const created = upstream ? Date.parse((await (await docker()).getContainer(upstream.Id).inspect()).Created) : Number.NaN;
		process.stdout.write(`${JSON.stringify({
			name,
			session,
			status: answer.status,
			body: answer.body,
			recorded: (await box.upstream.requests()).map(request => request.path),
			hits: await box.upstream.hits(),
			upstreamMadeBeforeStart: created < startBegan,
		})}\n`);
	} finally {
		await box.stop();
	}
}

process.stdout.write(`${JSON.stringify({ pid: process.pid })}\n`);
