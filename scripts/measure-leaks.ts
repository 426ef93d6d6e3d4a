/**
 * The leak rule's evidence (README "What your plugin costs"): `measure()` 5 times on the leaking fixture
 * (rust-leak, 4 KiB kept per request: flagged 5 of 5, growth near 4096 B/request) and 5 times each on the
 * headers plugins of the three SDKs and the seed plugin (flagged 0 of 5). Not part of `npm test` (minutes).
 *
 *   node --import tsx scripts/measure-leaks.ts [--runs 5] [--requests 20000] [--updates 0]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { measure } from '../src/index.ts';

const { values } = parseArgs({ options: {
	runs: { type: 'string', default: '5' },
	requests: { type: 'string', default: '20000' },
	updates: { type: 'string', default: '0' },
	only: { type: 'string' },
} });
const runs = Number(values.runs);
const requests = Number(values.requests);
const updates = Number(values.updates);
const fixtures = [
	{ name: 'rust-leak', leaks: true },
	{ name: 'rust-headers', leaks: false },
	{ name: 'go-headers', leaks: false },
	{ name: 'as-headers', leaks: false },
	{ name: 'seed-rust', leaks: false },
].filter(fixture => values.only === undefined || values.only.split(',').includes(fixture.name));

process.stdout.write(`measure-leaks: ${runs} runs × ${requests} requests, ${os.availableParallelism()} cores, load average ${os.loadavg().map(value => value.toFixed(1)).join(' ')}\n`);
for (const fixture of fixtures) {
	const growths: string[] = [];
	let flagged = 0;
	let updatesFlagged = 0;
	for (let run = 0; run < runs; run++) {
		const result = await measure({ plugins: [`fixtures/plugins/${fixture.name}/${fixture.name}.wasm`], requests, updates });
		flagged += result.memory.leakSuspected ? 1 : 0;
		updatesFlagged += result.updates?.memory.leakSuspected ? 1 : 0;
		growths.push(`${result.memory.growthBytesPerRequest.toFixed(0)} ± ${result.memory.growthUncertaintyBytesPerRequest.toFixed(0)}`
			+ (result.updates ? ` (updates: ${(result.updates.memory.growthBytesPerRequest / 1024).toFixed(0)} ± ${(result.updates.memory.growthUncertaintyBytesPerRequest / 1024).toFixed(0)} KiB/update)` : ''));
	}

	const verdict = fixture.leaks ? (flagged === runs ? 'ok' : 'MISSED') : (flagged === 0 ? 'ok' : 'FALSE ALARM');
	process.stdout.write(`${fixture.name.padEnd(13)} flagged ${flagged}/${runs} (${verdict})${updates > 0 ? `, updates flagged ${updatesFlagged}/${runs}` : ''}; growth B/request (95%): ${growths.join(', ')}\n`);
}
