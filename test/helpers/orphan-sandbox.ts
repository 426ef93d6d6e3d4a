/**
 * Run as a child process by the reaper test: starts a sandbox, reports its Envoy's pid and work dir on
 * stdout, then waits to be killed with SIGKILL (so it cannot clean up).
 */
import { startSandbox } from '../../src/index.ts';
import { childEnvoys, ownWorkDirs } from './leftovers.ts';
import { seedWasm } from './paths.ts';

await startSandbox({ plugins: [{ name: 'orphan', wasm: seedWasm }] });
const [envoyPid] = await childEnvoys();
const [workDir] = await ownWorkDirs();
process.stdout.write(`${JSON.stringify({ envoyPid, workDir })}\n`);
setInterval(() => undefined, 60_000);
