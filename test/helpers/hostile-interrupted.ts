/**
 * Run as a child process by test/runtime/hostile.test.ts: starts a sandbox whose plugin loops forever in
 * request headers, sends it a request (which never gets an answer), says `stuck` on stdout once Envoy's
 * worker is held, and waits for the Ctrl+C (SIGINT) the test sends.
 */
import { startSandbox } from '../../src/index.ts';
import { fixturePlugin } from './paths.ts';

const box = await startSandbox({ plugins: [{ name: 'looping', wasm: fixturePlugin('rust-hostile'), configuration: 'loop' }] });
void box.request('/', { timeoutMs: 60_000 }).catch(() => undefined);
// Envoy's watchdog counts a worker stuck for a second: then the loop is certainly running.
await box.waitFor(async () => ((await box.stats('workers.watchdog_mega_miss')).counters.get('workers.watchdog_mega_miss') ?? 0) > 0, 10_000, 100);
process.stdout.write('stuck\n');
setInterval(() => undefined, 60_000);
