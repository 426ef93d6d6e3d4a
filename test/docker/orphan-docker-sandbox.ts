/**
 * Run as a child process by the docker reaper test: starts a docker sandbox, reports its session on stdout,
 * then waits to be killed with SIGKILL (so it cannot clean up).
 */
import { startSandbox } from '../../src/index.ts';
import { seedWasm } from '../helpers/paths.ts';
import { sessionOf } from './docker-helpers.ts';

const box = await startSandbox({ runtime: 'docker', plugins: [{ name: 'orphan', wasm: seedWasm }] });
process.stdout.write(`${JSON.stringify({ session: await sessionOf(box), pid: process.pid, url: box.url })}\n`);
setInterval(() => undefined, 60_000);
