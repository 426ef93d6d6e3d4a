/**
 * Run as a child process by ./mesh-orphans.test.ts: starts the tiny mesh (./mesh-model.ts) on the docker
 * runtime, reports its mesh id and pid on stdout, then waits to be killed with SIGKILL (so it cannot clean up).
 */
import { randomBytes } from 'node:crypto';
import { startRuntime } from '../../src/runtime/start.ts';
import { gatewayProxy, productpageProxy, reviewsProxy, tinyMesh } from './mesh-model.ts';

const meshId = `mesh-orphan-${randomBytes(4).toString('hex')}`;
const { proxies, mesh } = await tinyMesh(meshId, [gatewayProxy, productpageProxy, reviewsProxy]);
await Promise.all(proxies.map(async proxy => startRuntime('docker', { model: proxy.sandbox, mesh })));
process.stdout.write(`${JSON.stringify({ meshId, pid: process.pid })}\n`);
setInterval(() => undefined, 60_000);
